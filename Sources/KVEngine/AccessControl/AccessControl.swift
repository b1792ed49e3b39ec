import KVStore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RESP
import Synchronization

/// Who may connect and what each user may do, shared by every connection: the users (the `default` user always
/// exists), authentication, the ACL file, the ACL log, and protected mode. Redis 7.0's semantics and texts throughout.
///
/// The executor asks nothing of it while a connection's user allows everything (the default user as a fresh server
/// has it): a session keeps its user in an "access gate" whose one flag says so. Any other connection goes through
/// `authorize` before each command.
final class AccessControl: Sendable {
    let index: ACLCommandIndex
    /// The `default` user: the same object for the server's life (ACL LOAD and requirepass change its rules).
    let defaultUser: ACLUser
    let log = ACLLog()
    /// `aclfile`: where ACL SAVE writes and ACL LOAD reads; nil when users are not kept in a file.
    let aclFile: String?
    /// `protected-mode`.
    let protectedMode: Synchronization.Atomic<Bool>
    /// `acllog-max-len`.
    let logMaxLength: Synchronization.Atomic<Int>
    /// `acl-pubsub-default allchannels` (true) or `resetchannels` (false, Redis 7's default).
    let newUsersAllowAllChannels: Synchronization.Atomic<Bool>

    private let users: NIOLockedValueBox<[[UInt8]: ACLUser]>
    /// Serialises changes of users (ACL SETUSER, DELUSER, LOAD, requirepass), so each applies whole.
    private let changes = NIOLock()
    /// Whether a new connection must authenticate: the default user has a password or is off.
    private let authenticationRequired = Synchronization.Atomic<Bool>(false)
    /// Whether the default user is `nopass` (protected mode refuses remote connections then).
    private let defaultUserIsNoPass = Synchronization.Atomic<Bool>(true)
    private let clients: ClientRegistry
    private let pubsub: PubSubHub
    private let watchers: WatchHub
    private let logger: Logger

    init(
        table: CommandTable, configuration: ServerConfiguration, clients: ClientRegistry, pubsub: PubSubHub,
        watchers: WatchHub, logger: Logger
    ) {
        self.index = ACLCommandIndex(table: table)
        self.aclFile = configuration.aclFile
        self.protectedMode = Synchronization.Atomic(configuration.protectedMode)
        self.logMaxLength = Synchronization.Atomic(configuration.aclLogMaxLength)
        self.newUsersAllowAllChannels = Synchronization.Atomic(configuration.aclPubsubDefaultAllChannels)
        self.clients = clients
        self.pubsub = pubsub
        self.watchers = watchers
        self.logger = logger
        let language = ACLRules(index: index, newSelectorsAllowAllChannels: configuration.aclPubsubDefaultAllChannels)
        var rules = language.defaultUser()
        if let hash = configuration.requirePassHash {
            try! language.apply(Array("resetpass".utf8), to: &rules)
            try! language.apply(Array("#\(hash)".utf8), to: &rules)
        }
        let defaultUser = ACLUser(name: Array("default".utf8), rules: rules)
        self.defaultUser = defaultUser
        self.users = NIOLockedValueBox([defaultUser.name: defaultUser])
        defaultUserChanged()
    }

    /// The rule language, with the current `acl-pubsub-default`.
    var rules: ACLRules {
        ACLRules(index: index, newSelectorsAllowAllChannels: newUsersAllowAllChannels.load(ordering: .relaxed))
    }

    // MARK: Users

    func user(named name: [UInt8]) -> ACLUser? {
        users.withLockedValue { $0[name] }
    }

    /// Every user, by name (ACL LIST, ACL USERS).
    var allUsers: [ACLUser] {
        users.withLockedValue { Array($0.values) }.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// Whether a connection must authenticate before running commands (Redis's `authRequired` for a connection that
    /// has not): the default user has a password, or is off.
    var requiresAuthentication: Bool { authenticationRequired.load(ordering: .relaxed) }

    /// Whether new connections start authenticated as `default`.
    var newConnectionsAuthenticated: Bool { !requiresAuthentication }

    /// The user `name` if `password` opens it and it is on; nil otherwise (WRONGPASS).
    func authenticate(_ name: [UInt8], _ password: [UInt8]) -> ACLUser? {
        guard let user = user(named: name) else { return nil }
        let rules = user.rules
        guard rules.isEnabled, rules.accepts(password: password) else { return nil }
        return user
    }

    /// ACL SETUSER: applies `arguments` to the user `name` (created if new), all or nothing.
    /// - Returns: connections to close: subscribers of this user whose channels it may no longer use, and watchers
    ///   (KV.WATCH) of keys it may no longer read.
    func setUser(_ name: [UInt8], _ arguments: [[UInt8]]) throws(CommandError) -> [ClientHandle] {
        guard !ACLRules.hasSpaces(name) else { throw CommandError("ERR Usernames can't contain spaces or null characters") }
        let merged: [[UInt8]]
        switch ACLRules.mergeSelectorArguments(arguments) {
        case .success(let rules): merged = rules
        case .failure(let unclosed):
            throw CommandError(
                "ERR Unmatched parenthesis in acl selector starting at '\(text(arguments[unclosed.index]))'.")
        }
        changes.lock()
        defer { changes.unlock() }
        let existing = user(named: name)
        let language = self.rules
        var rules = existing?.rules ?? language.newUser()
        for rule in merged {
            do throws(ACLRuleError) {
                try language.apply(rule, to: &rules)
            } catch {
                throw CommandError("ERR Error in ACL SETUSER modifier '\(text(rule))': \(error.message)")
            }
        }
        guard let existing else {
            let user = ACLUser(name: name, rules: rules)
            users.withLockedValue { $0[name] = user }
            return []
        }
        existing.replaceRules(rules)
        if existing === defaultUser { defaultUserChanged() }
        let losing = subscribersLosingChannels(of: existing, rules) + watchersLosingKeys(of: existing, rules)
        return Array(Dictionary(losing.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first }).values)
    }

    /// ACL DELUSER: removes the users named (never `default`).
    /// - Returns: how many existed, and their connections, to close.
    func deleteUsers(_ names: [[UInt8]]) throws(CommandError) -> (deleted: Int, connections: [ClientHandle]) {
        guard !names.contains(defaultUser.name) else { throw CommandError("ERR The 'default' user cannot be removed") }
        return changes.withLock {
            var deleted: [ACLUser] = []
            users.withLockedValue { users in
                for name in names { if let user = users.removeValue(forKey: name) { deleted.append(user) } }
            }
            for user in deleted { user.markDeleted() }
            return (deleted.count, connections(of: deleted))
        }
    }

    /// `requirepass`: the default user's only password, or `nopass` for an empty one.
    func setDefaultPassword(_ password: [UInt8]) {
        changes.withLock {
            let language = rules
            var rules = defaultUser.rules
            try! language.apply(Array("resetpass".utf8), to: &rules)
            try! language.apply(password.isEmpty ? Array("nopass".utf8) : [UInt8(ascii: ">")] + password, to: &rules)
            defaultUser.replaceRules(rules)
            defaultUserChanged()
        }
    }

    private func defaultUserChanged() {
        let rules = defaultUser.rules
        authenticationRequired.store(!rules.isNoPass || !rules.isEnabled, ordering: .relaxed)
        defaultUserIsNoPass.store(rules.isNoPass, ordering: .relaxed)
    }

    // MARK: The ACL file

    /// ACL LOAD: replaces every user with the file's (the default user keeps its identity, with the file's rules or
    /// a fresh server's). As in Redis 7.0, every connection of a user other than `default` is closed.
    func load() throws(CommandError) -> [ClientHandle] {
        guard let aclFile else { throw Self.noACLFile }
        changes.lock()
        defer { changes.unlock() }
        switch ACLFile.load(aclFile, rules: rules) {
        case .failure(let error): throw CommandError("ERR \(error.message)")
        case .success(let loaded): return install(loaded)
        }
    }

    /// ACL SAVE.
    func save() throws(CommandError) {
        guard let aclFile else { throw Self.noACLFile }
        changes.lock()
        defer { changes.unlock() }
        if case .failure(let error) = ACLFile.write(ACLFile.render(allUsers, index: index), to: aclFile) {
            logger.warning("\(error.message)")
            throw CommandError(
                "ERR There was an error trying to save the ACLs. Please check the server logs for more information")
        }
    }

    private static let noACLFile = CommandError(
        "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL "
            + "SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in "
            + "order to store users in the Redis configuration.")

    /// Makes `loaded` the users; returns the connections of the users replaced.
    private func install(_ loaded: ACLFile.Users) -> [ClientHandle] {
        var replacement: [[UInt8]: ACLUser] = [:]
        for (name, rules) in loaded where name != defaultUser.name {
            replacement[name] = ACLUser(name: name, rules: rules)
        }
        defaultUser.replaceRules(loaded.first { $0.name == defaultUser.name }?.rules ?? rules.defaultUser())
        defaultUserChanged()
        replacement[defaultUser.name] = defaultUser
        let replaced = users.withLockedValue { users in
            let old = users.values.filter { $0 !== defaultUser }
            users = replacement
            return old
        }
        for user in replaced { user.markDeleted() }
        return connections(of: replaced)
    }

    /// Users given at start-up (`--user`, like redis.conf's `user` lines) and the ACL file, as Redis's
    /// `ACLLoadUsersAtStartup`; the error is what Redis logs before exiting.
    func loadAtStartup(userLines: [String]) throws(ACLFileError) {
        if aclFile != nil && !userLines.isEmpty {
            throw ACLFileError(
                "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is "
                    + "invalid. This setup is very likely to lead to configuration errors and security holes, please "
                    + "define either an ACL file or declare users directly in your redis.conf, but not both.")
        }
        var defined: [[UInt8]] = []
        for line in userLines {
            guard let arguments = InlineSplitter.arguments(Array(line.utf8)), let name = arguments.first else {
                throw ACLFileError("Invalid user definition '\(line)': expected a user name and its rules")
            }
            guard !defined.contains(name) else { throw ACLFileError(ACLRuleError.duplicateUser.message) }
            defined.append(name)
            guard !ACLRules.hasSpaces(name) else { throw ACLFileError("Spaces not allowed in ACL usernames") }
            guard case .success(let rules) = ACLRules.mergeSelectorArguments(Array(arguments.dropFirst())) else {
                throw ACLFileError("Unmatched parenthesis in acl selector for the user named '\(text(name))'")
            }
            let language = self.rules
            var user = name == defaultUser.name ? defaultUser.rules : language.newUser()
            if name == defaultUser.name { try! language.apply(Array("reset".utf8), to: &user) }
            for rule in rules {
                do throws(ACLRuleError) {
                    try language.apply(rule, to: &user)
                } catch {
                    throw ACLFileError(
                        "Error loading ACL rule '\(text(rule))' for the user named '\(text(name))': \(error.message)")
                }
            }
            if name == defaultUser.name {
                defaultUser.replaceRules(user)
                defaultUserChanged()
            } else {
                users.withLockedValue { $0[name] = ACLUser(name: name, rules: user) }
            }
        }
        if let aclFile {
            switch ACLFile.load(aclFile, rules: rules) {
            case .failure(let error): throw ACLFileError("Aborting Redis startup because of ACL errors: \(error.message)")
            case .success(let loaded): _ = install(loaded)
            }
        }
    }

    // MARK: Connections affected by a change

    /// Every connection authenticated as one of `users`.
    private func connections(of users: [ACLUser]) -> [ClientHandle] {
        guard !users.isEmpty else { return [] }
        let set = Set(users.map(ObjectIdentifier.init))
        return clients.all.filter { set.contains(ObjectIdentifier($0.user)) }
    }

    /// Subscribers of `user` holding a subscription its new rules no longer allow (Redis's
    /// `ACLKillPubsubClientsIfNeeded`: channels by the patterns, patterns literally, across every selector).
    private func subscribersLosingChannels(of user: ACLUser, _ rules: UserRules) -> [ClientHandle] {
        guard !rules.selectors.contains(where: { $0.flags.contains(.allChannels) }) else { return [] }
        let allowed = rules.selectors.flatMap(\.channels)
        let candidates = connections(of: [user]).filter { !$0.subscriptionCounts.isEmpty }
        guard !candidates.isEmpty else { return [] }
        let subscriptions = pubsub.subscriptions(ofClients: Set(candidates.map(\.id)))
        return candidates.filter { handle in
            guard let held = subscriptions[handle.id] else { return false }
            let channelDenied = held.channels.contains { channel in
                channel.withUnsafeReadableBytes { name in !allowed.contains { $0.matches(name) } }
            }
            let patternDenied = held.patterns.contains { pattern in
                !allowed.contains { $0.pattern.elementsEqual(pattern.readableBytesView) }
            }
            return channelDenied || patternDenied
        }
    }

    /// Connections of `user` with a KV.WATCH following keys its new rules do not let it read all of (kvnode's
    /// counterpart of closing a subscriber that lost its channels: a watch must not keep delivering values).
    private func watchersLosingKeys(of user: ACLUser, _ rules: UserRules) -> [ClientHandle] {
        guard watchers.isWatching else { return [] }
        let candidates = connections(of: [user])
        guard !candidates.isEmpty else { return [] }
        let watched = watchers.filters(ofClients: Set(candidates.map(\.id)))
        return candidates.filter { handle in
            watched[handle.id]?.contains { !ACLPermissionCheck.allowsWatching($0, rules) } ?? false
        }
    }

    // MARK: Protected mode

    /// Whether a new connection is refused: protected mode is on, the default user has no password, and the peer
    /// is not on the loopback interface (Redis 7's `clientAcceptHandler`).
    func refusesConnection(fromLoopback isLoopback: Bool) -> Bool {
        protectedMode.load(ordering: .relaxed) && defaultUserIsNoPass.load(ordering: .relaxed) && !isLoopback
    }

    /// Redis 7.0's refusal, word for word (7.2 corrected "Setup a an" in point 4).
    static let protectedModeRefusal =
        "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the "
        + "default user. In this mode connections are only accepted from the loopback interface. If you want to "
        + "connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable "
        + "protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by "
        + "connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly "
        + "accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
        + "you can just disable the protected mode by editing the Redis configuration file, and setting the protected "
        + "mode option to 'no', and then restarting the server. 3) If you started the server manually just for "
        + "testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the "
        + "default user. NOTE: You only need to do one of the above things in order for the server to start "
        + "accepting connections from the outside."

    private func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
