import KVStore
import RESP

/// Why a rule was refused, with Redis 7.0's text (`ACLSetUserStringError`).
enum ACLRuleError: Error, Equatable {
    /// `+nosuch`, `+@nosuch` (Redis's ENOENT).
    case unknownCommand
    /// Anything else Redis cannot read (EINVAL).
    case syntax
    /// `~x` after `allkeys` (EEXIST).
    case keysAfterAllKeys
    /// `&x` after `allchannels` (EISDIR).
    case channelsAfterAllChannels
    /// `<pw` or `!hash` that the user does not have (ENODEV).
    case noSuchPassword
    /// `#hash` that is not 64 lower-case hex digits (EBADMSG).
    case badHash
    /// A user defined twice at start-up (EALREADY).
    case duplicateUser
    /// `+client|list|x` (ECHILD).
    case firstArgumentOfSubcommand

    var message: String {
        switch self {
        case .unknownCommand: "Unknown command or category name in ACL"
        case .syntax: "Syntax error"
        case .keysAfterAllKeys:
            "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. "
                + "Try 'resetkeys' to start with an empty list of patterns"
        case .channelsAfterAllChannels:
            "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any "
                + "effect. Try 'resetchannels' to start with an empty list of channels"
        case .noSuchPassword: "The password you are trying to remove from the user does not exist"
        case .badHash: "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
        case .duplicateUser: "Duplicate user found. A user can only be defined once in config files"
        case .firstArgumentOfSubcommand: "Allowing first-arg of a subcommand is not supported"
        }
    }
}

/// Redis 7's ACL rule language (`ACLSetUser`, `ACLSetSelector`), applied to `UserRules` values:
///
/// - user: `on`, `off`, `nopass`, `resetpass`, `>pw`, `<pw`, `#sha256`, `!sha256`, `(selector rules)`,
///   `clearselectors`, `reset`, `sanitize-payload`, `skip-sanitize-payload`;
/// - selector: `~pattern`, `%R~`, `%W~`, `%RW~`, `allkeys`, `resetkeys`, `&pattern`, `allchannels`, `resetchannels`,
///   `+cmd`, `-cmd`, `+cmd|sub`, `+cmd|firstarg`, `+@category`, `-@category`, `allcommands`, `nocommands`.
///
/// Keywords ignore case; patterns and passwords are bytes.
struct ACLRules {
    let index: ACLCommandIndex
    /// `acl-pubsub-default allchannels`: new selectors (and `reset`) allow every channel; Redis 7's default is
    /// `resetchannels`.
    let newSelectorsAllowAllChannels: Bool

    /// A new user: disabled, no password, a root selector with nothing allowed (Redis's `ACLCreateUser`).
    func newUser() -> UserRules {
        UserRules(selectors: [newSelector()])
    }

    /// The default user of a fresh server: `on nopass ~* &* +@all`.
    func defaultUser() -> UserRules {
        var rules = newUser()
        for rule in ["+@all", "~*", "&*", "on", "nopass"] { try! apply(Array(rule.utf8), to: &rules) }
        return rules
    }

    private func newSelector() -> ACLSelector {
        ACLSelector(flags: newSelectorsAllowAllChannels ? .allChannels : [], commandCount: index.bitCount)
    }

    // MARK: User rules

    /// Rules that set one user flag and clear its opposite.
    private static let flagRules: [String: (set: UserRules.Flags, clear: UserRules.Flags)] = [
        "on": (.enabled, .disabled), "off": (.disabled, .enabled),
        "skip-sanitize-payload": (.skipSanitizePayload, .sanitizePayload),
        "sanitize-payload": (.sanitizePayload, .skipSanitizePayload),
    ]

    func apply(_ rule: [UInt8], to user: inout UserRules) throws(ACLRuleError) {
        guard !rule.isEmpty else { return }
        let keyword = Self.keyword(rule)
        if let flags = Self.flagRules[keyword] {
            user.flags.insert(flags.set)
            user.flags.remove(flags.clear)
            return
        }
        switch keyword {
        case "nopass":
            user.flags.insert(.noPass)
            user.passwords = []
        case "resetpass":
            user.flags.remove(.noPass)
            user.passwords = []
        case "clearselectors":
            user.selectors.removeSubrange(1...)
        case "reset":
            for rule in ["resetpass", "resetkeys", "resetchannels"] { try apply(Array(rule.utf8), to: &user) }
            if newSelectorsAllowAllChannels { try apply(Array("allchannels".utf8), to: &user) }
            for rule in ["off", "sanitize-payload", "clearselectors", "-@all"] { try apply(Array(rule.utf8), to: &user) }
        default:
            switch rule[0] {
            case UInt8(ascii: ">"), UInt8(ascii: "#"):
                let hash = try passwordHash(rule)
                if !user.passwords.contains(hash) { user.passwords.append(hash) }
                user.flags.remove(.noPass)
            case UInt8(ascii: "<"), UInt8(ascii: "!"):
                let hash = try passwordHash(rule)
                guard let position = user.passwords.firstIndex(of: hash) else { throw .noSuchPassword }
                user.passwords.remove(at: position)
            case UInt8(ascii: "(") where rule.last == UInt8(ascii: ")"):
                user.selectors.append(try selector(from: rule))
            default:
                try apply(rule, to: &user.root)
            }
        }
    }

    /// The hash a password rule names: `>pw`/`<pw` hash the clear text, `#h`/`!h` give the hash itself.
    private func passwordHash(_ rule: [UInt8]) throws(ACLRuleError) -> String {
        let rest = rule.dropFirst()
        if rule[0] == UInt8(ascii: ">") || rule[0] == UInt8(ascii: "<") { return SHA256.hexDigest(rest) }
        guard rest.count == 64,
            rest.allSatisfy({ ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f")) })
        else { throw .badHash }
        return String(decoding: rest, as: UTF8.self)
    }

    /// `(rule rule ...)`: a new selector, its rules split as `sdssplitargs` splits them.
    private func selector(from rule: [UInt8]) throws(ACLRuleError) -> ACLSelector {
        guard let rules = InlineSplitter.arguments(Array(rule.dropFirst().dropLast())) else { throw .syntax }
        var selector = newSelector()
        for inner in rules { try apply(inner, to: &selector) }
        return selector
    }

    // MARK: Selector rules

    func apply(_ rule: [UInt8], to selector: inout ACLSelector) throws(ACLRuleError) {
        switch Self.keyword(rule) {
        case "allkeys", "~*":
            selector.flags.insert(.allKeys)
            selector.keyPatterns = []
        case "resetkeys":
            selector.flags.remove(.allKeys)
            selector.keyPatterns = []
        case "allchannels", "&*":
            selector.flags.insert(.allChannels)
            selector.channels = []
        case "resetchannels":
            selector.flags.remove(.allChannels)
            selector.channels = []
        case "allcommands", "+@all":
            selector.setAllCommands(true)
        case "nocommands", "-@all":
            selector.setAllCommands(false)
        default:
            guard let first = rule.first else { throw .syntax }
            switch first {
            case UInt8(ascii: "~"), UInt8(ascii: "%"):
                try addKeyPattern(rule, to: &selector)
            case UInt8(ascii: "&"):
                guard !selector.flags.contains(.allChannels) else { throw .channelsAfterAllChannels }
                let pattern = Array(rule.dropFirst())
                guard !Self.hasSpaces(pattern) else { throw .syntax }
                if !selector.channels.contains(where: { $0.pattern == pattern }) {
                    selector.channels.append(GlobPattern(pattern))
                }
                selector.flags.remove(.allChannels)
            case UInt8(ascii: "+") where rule.count < 2 || rule[1] != UInt8(ascii: "@"):
                try allow(Array(rule.dropFirst()), in: &selector)
            case UInt8(ascii: "-") where rule.count < 2 || rule[1] != UInt8(ascii: "@"):
                guard let spec = index.lookup(Array(rule.dropFirst())) else { throw .unknownCommand }
                selector.setPermission(spec, false)
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                guard let category = ACLCategories(name: String(decoding: rule.dropFirst(2), as: UTF8.self)) else {
                    throw .unknownCommand
                }
                selector.setPermission(category: category, first == UInt8(ascii: "+"), in: index)
            default:
                throw .syntax
            }
        }
    }

    /// `~pattern` or `%R~`/`%W~`/`%RW~pattern`; a pattern given again gains the new access.
    private func addKeyPattern(_ rule: [UInt8], to selector: inout ACLSelector) throws(ACLRuleError) {
        guard !selector.flags.contains(.allKeys) else { throw .keysAfterAllKeys }
        var access: KeyAccess = []
        var offset = 1
        if rule[0] == UInt8(ascii: "%") {
            while offset < rule.count {
                let byte = rule[offset] & ~0x20  // upper case
                if byte == UInt8(ascii: "R") && !access.contains(.read) {
                    access.insert(.read)
                } else if byte == UInt8(ascii: "W") && !access.contains(.write) {
                    access.insert(.write)
                } else if rule[offset] == UInt8(ascii: "~") {
                    offset += 1
                    break
                } else {
                    throw .syntax
                }
                offset += 1
            }
            // `%~x` grants nothing (Redis 7.0 accepts it and then cannot describe it): refuse it.
            guard !access.isEmpty else { throw .syntax }
        } else {
            access = .readWrite
        }
        let pattern = Array(rule[offset...])
        guard !Self.hasSpaces(pattern) else { throw .syntax }
        if let existing = selector.keyPatterns.firstIndex(where: { $0.glob.pattern == pattern }) {
            selector.keyPatterns[existing].access.formUnion(access)
        } else {
            selector.keyPatterns.append(KeyPattern(glob: GlobPattern(pattern), access: access))
        }
        selector.flags.remove(.allKeys)
    }

    /// `+cmd`, `+container|sub`, or `+cmd|firstarg` for a command without subcommands.
    private func allow(_ name: [UInt8], in selector: inout ACLSelector) throws(ACLRuleError) {
        guard let bar = name.lastIndex(of: UInt8(ascii: "|")) else {
            guard let spec = index.lookup(name) else { throw .unknownCommand }
            return selector.setPermission(spec, true)
        }
        guard let command = index.lookup(Array(name[..<bar])) else { throw .unknownCommand }
        guard command.metadata.container == nil else { throw .firstArgumentOfSubcommand }
        let argument = Array(name[(bar + 1)...])
        guard !argument.isEmpty else { throw .syntax }
        if !command.subcommands.isEmpty {
            guard let sub = index.lookup(name) else { throw .unknownCommand }
            selector.setPermission(sub, true)
        } else {
            var allowed = selector.firstArguments[command.statisticsSlot] ?? []
            if !allowed.contains(where: { Self.equalsIgnoringCase($0, argument) }) { allowed.append(argument) }
            selector.firstArguments[command.statisticsSlot] = allowed
        }
    }

    // MARK: Arguments

    /// Joins the arguments of a `(...)` selector given as several arguments (`ACL SETUSER u (~a* +get)` arrives as
    /// `(~a*` and `+get)`), as Redis's `ACLMergeSelectorArguments`.
    /// - Returns: the rules, or the index of the argument that opens a selector never closed.
    static func mergeSelectorArguments(_ arguments: [[UInt8]]) -> Result<[[UInt8]], UnclosedSelector> {
        var merged: [[UInt8]] = []
        var open: (start: Int, text: [UInt8])?
        for (position, argument) in arguments.enumerated() {
            if open == nil, argument.first == UInt8(ascii: "("), argument.last != UInt8(ascii: ")") {
                open = (position, argument)
                continue
            }
            if var selector = open {
                selector.text += [UInt8(ascii: " ")] + argument
                if argument.last == UInt8(ascii: ")") {
                    merged.append(selector.text)
                    open = nil
                } else {
                    open = selector
                }
                continue
            }
            merged.append(argument)
        }
        if let open { return .failure(UnclosedSelector(index: open.start)) }
        return .success(merged)
    }

    struct UnclosedSelector: Error {
        let index: Int
    }

    /// Redis's `ACLStringHasSpaces`: white space or NUL.
    static func hasSpaces(_ bytes: [UInt8]) -> Bool {
        bytes.contains { $0 == 0 || $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }
    }

    /// The rule as a lower-case keyword, for the words Redis compares with `strcasecmp`.
    private static func keyword(_ rule: [UInt8]) -> String {
        String(decoding: rule.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    private static func equalsIgnoringCase(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { CommandTable.lowercase($0) == CommandTable.lowercase($1) }
    }
}
