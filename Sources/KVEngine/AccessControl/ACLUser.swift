import NIOConcurrencyHelpers
import Synchronization

/// Everything a user is, as values: its flags, its password hashes, its selectors (the root first). ACL SETUSER works
/// on a copy and swaps it in whole, so a failed rule changes nothing, as in Redis.
struct UserRules: Sendable {
    /// Redis's user flags, in the order ACL GETUSER and ACL LIST name them.
    struct Flags: OptionSet, Sendable {
        let rawValue: UInt8
        static let enabled = Flags(rawValue: 1 << 0)
        static let disabled = Flags(rawValue: 1 << 1)
        static let noPass = Flags(rawValue: 1 << 2)
        static let skipSanitizePayload = Flags(rawValue: 1 << 3)
        static let sanitizePayload = Flags(rawValue: 1 << 4)

        static let named: [(Flags, String)] = [
            (.enabled, "on"), (.disabled, "off"), (.noPass, "nopass"),
            (.skipSanitizePayload, "skip-sanitize-payload"), (.sanitizePayload, "sanitize-payload"),
        ]

        var names: [String] { Self.named.filter { contains($0.0) }.map(\.1) }
    }

    var flags: Flags = [.disabled]
    /// SHA-256 hex digests of the passwords, in the order they were added. No password is ever kept in clear.
    var passwords: [String] = []
    /// The root selector first, then the `(...)` ones.
    var selectors: [ACLSelector]

    var root: ACLSelector {
        get { selectors[0] }
        set { selectors[0] = newValue }
    }

    var isEnabled: Bool { flags.contains(.enabled) }
    var isNoPass: Bool { flags.contains(.noPass) }

    /// Whether `password` opens this user (any password does for a `nopass` user).
    func accepts(password: [UInt8]) -> Bool {
        if isNoPass { return true }
        let hash = SHA256.hexDigest(password)
        // Compare every stored hash in full, so the time taken says nothing about which one matched.
        var matched = false
        for stored in passwords where constantTimeEquals(stored, hash) { matched = true }
        return matched
    }

    private func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

/// A user connections authenticate as. The object stays the same while its rules change, so every connection
/// authenticated as it sees a change at its next command; a deleted user's connections are closed.
final class ACLUser: Sendable {
    /// The name, as given (any bytes but spaces and NUL).
    let name: [UInt8]
    private let state: NIOLockedValueBox<(rules: UserRules, revision: UInt64)>
    /// Counts rule changes, so a connection can keep its copy of the rules until they change: checking a command
    /// then costs one atomic load, not a lock shared by every connection of the user.
    private let revision = Synchronization.Atomic<UInt64>(0)
    /// Whether the root selector allows every command, key and channel: the executor's fast path reads only this.
    private let unrestricted: Synchronization.Atomic<Bool>
    private let deleted = Synchronization.Atomic<Bool>(false)

    init(name: [UInt8], rules: UserRules) {
        self.name = name
        self.state = NIOLockedValueBox((rules, 0))
        self.unrestricted = Synchronization.Atomic(rules.root.allowsEverything)
    }

    var nameText: String { String(decoding: name, as: UTF8.self) }

    /// The current rules (a copy).
    var rules: UserRules { state.withLockedValue { $0.rules } }

    /// Replaces the rules; connections of this user follow from their next command.
    func replaceRules(_ rules: UserRules) {
        state.withLockedValue { state in
            state = (rules, state.revision &+ 1)
            revision.store(state.revision, ordering: .releasing)
            unrestricted.store(rules.root.allowsEverything, ordering: .relaxed)
        }
    }

    /// The rules, from `cache` while they have not changed since it was taken (then updated).
    func rules(cachedIn cache: inout RulesCache?) -> UserRules {
        let current = revision.load(ordering: .acquiring)
        if let cache, cache.user === self, cache.revision == current { return cache.rules }
        let (rules, revision) = state.withLockedValue { $0 }
        cache = RulesCache(user: self, revision: revision, rules: rules)
        return rules
    }

    /// A connection's copy of its user's rules and the revision it is of.
    struct RulesCache {
        let user: ACLUser
        let revision: UInt64
        let rules: UserRules
    }

    /// Whether nothing needs checking for this user: one relaxed load on every command.
    @inline(__always) var allowsEverything: Bool { unrestricted.load(ordering: .relaxed) }

    /// Marks the user gone (ACL DELUSER, ACL LOAD): its connections are being closed, and checks refuse everything
    /// it might still send meanwhile.
    func markDeleted() {
        deleted.store(true, ordering: .relaxed)
        unrestricted.store(false, ordering: .relaxed)
    }

    var isDeleted: Bool { deleted.load(ordering: .relaxed) }

    /// Stands for "not authenticated" in a session's access gate: it never allows everything, so such a session always
    /// takes the checked path, where authentication is required or not.
    static let unauthenticated = ACLUser(name: [], rules: UserRules(selectors: []).withNothingAllowed)
}

extension UserRules {
    /// Rules with a root selector that allows nothing (for the unauthenticated gate).
    fileprivate var withNothingAllowed: UserRules {
        var rules = self
        rules.selectors = [ACLSelector(flags: [], commandCount: 0)]
        return rules
    }
}
