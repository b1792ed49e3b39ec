import KVStore
import NIOCore

/// Why access control refused a command, and which argument it stopped at.
enum ACLDenial: Equatable {
    /// The command (or subcommand) is not allowed.
    case command
    /// A key argument (or a key pattern argument) is not allowed.
    case key(position: Int)
    /// A channel argument is not allowed.
    case channel(position: Int)

    /// Redis's ranking when several selectors refuse for different reasons (`ACL_DENIED_*` values): the highest wins,
    /// then the later argument.
    var rank: Int {
        switch self {
        case .command: 1
        case .key: 2
        case .channel: 4
        }
    }

    var position: Int {
        switch self {
        case .command: 0
        case .key(let position), .channel(let position): position
        }
    }

    /// ACL LOG's `reason`.
    var reason: String {
        switch self {
        case .command: "command"
        case .key: "key"
        case .channel: "channel"
        }
    }
}

/// Checks a command against a user's rules, as Redis's `ACLCheckAllUserCommandPerm`: allowed when one selector allows
/// the command, every key it names with the access its key specifications declare, every key its glob or prefix
/// could reach (kvnode's pattern commands), and every channel it names. Everything it reads — categories, key
/// positions and flags, channels — comes from the command's table row.
enum ACLPermissionCheck {
    /// Nil when allowed.
    static func check(_ rules: UserRules, _ spec: CommandSpec, _ arguments: CommandArguments) -> ACLDenial? {
        var keys: [KeyReference]?
        var relevant = ACLDenial.command
        for selector in rules.selectors {
            guard let denial = check(selector, spec, arguments, keys: &keys) else { return nil }
            if denial.rank > relevant.rank || (denial.rank == relevant.rank && denial.position > relevant.position) {
                relevant = denial
            }
        }
        return relevant
    }

    private static func check(
        _ selector: ACLSelector, _ spec: CommandSpec, _ arguments: CommandArguments, keys: inout [KeyReference]?
    ) -> ACLDenial? {
        if !selector.flags.contains(.allCommands) && !spec.flags.contains(.noAuth)
            && !selector.commands[spec.statisticsSlot]
            && !allowsFirstArgument(selector, spec, arguments)
        {
            return .command
        }
        if !selector.flags.contains(.allKeys) {
            if spec.hasKeys {
                let found = keys ?? spec.keyPositions(in: arguments)
                keys = found
                for key in found {
                    let allowed = arguments.withArgument(key.position) {
                        allowsKey($0, access: KeyAccess(keySpecFlags: key.flags), in: selector)
                    }
                    if !allowed { return .key(position: key.position) }
                }
            }
            for scope in spec.keyPatternFinder?(arguments) ?? [] where !covers(scope, arguments, selector) {
                return .key(position: scope.position)
            }
        }
        if !selector.flags.contains(.allChannels), let channels = spec.channelFinder?(arguments) {
            for channel in channels {
                let allowed = arguments.withArgument(channel.position) { name in
                    channel.isPattern
                        ? selector.channels.contains { $0.pattern.elementsEqual(name) }
                        : selector.channels.contains { $0.matches(name) }
                }
                if !allowed { return .channel(position: channel.position) }
            }
        }
        return nil
    }

    /// Whether a selector of `rules` that allows the command may also read every key (Redis's
    /// `ACLUserCheckCmdWithUnrestrictedKeyAccess`): `allkeys`, or a `*` pattern granting reads. SORT's BY and GET
    /// patterns reach keys nobody can name before the command runs.
    static func allowsReadingEveryKey(_ rules: UserRules, _ spec: CommandSpec, _ arguments: CommandArguments) -> Bool {
        rules.selectors.contains { selector in
            let everyKey = selector.flags.contains(.allKeys)
                || selector.keyPatterns.contains { $0.access.contains(.read) && $0.glob.pattern == [UInt8(ascii: "*")] }
            var keys: [KeyReference]?
            return everyKey && check(selector, spec, arguments, keys: &keys) == nil
        }
    }

    /// `+get|foo`: a command otherwise forbidden, allowed with this first argument.
    private static func allowsFirstArgument(_ selector: ACLSelector, _ spec: CommandSpec, _ arguments: CommandArguments) -> Bool {
        guard arguments.count >= 2, let allowed = selector.firstArguments[spec.statisticsSlot] else { return false }
        let position = spec.metadata.container == nil ? 1 : 2
        guard position < arguments.count else { return false }
        return arguments.withArgument(position) { argument in
            allowed.contains { candidate in
                candidate.count == argument.count
                    && zip(candidate, argument).allSatisfy { CommandTable.lowercase($0) == CommandTable.lowercase($1) }
            }
        }
    }

    /// Whether a pattern granting at least `access` matches `key`.
    static func allowsKey(_ key: UnsafeRawBufferPointer, access: KeyAccess, in selector: ACLSelector) -> Bool {
        selector.keyPatterns.contains { $0.access.isSuperset(of: access) && $0.glob.matches(key) }
    }

    /// Whether every key the scope could reach is allowed with the access it needs.
    private static func covers(_ scope: KeyPatternReference, _ arguments: CommandArguments, _ selector: ACLSelector) -> Bool {
        arguments.withArgument(scope.position) { argument in
            covers(scope.kind, Array(argument), access: KeyAccess(keySpecFlags: scope.flags), selector)
        }
    }

    /// Whether every key `argument` reaches as a key, prefix or glob may be accessed as `access`.
    static func covers(
        _ kind: KeyPatternReference.Kind, _ argument: [UInt8], access: KeyAccess, _ selector: ACLSelector
    ) -> Bool {
        if selector.flags.contains(.allKeys) { return true }
        let allowed = selector.keyPatterns.filter { $0.access.isSuperset(of: access) }.map(\.glob)
        switch kind {
        case .key: return argument.withUnsafeBytes { allowsKey($0, access: access, in: selector) }
        case .prefix: return GlobInclusion.isCovered(prefix: argument, by: allowed)
        case .glob: return GlobInclusion.isCovered(GlobPattern(argument), by: allowed)
        }
    }

    /// Whether some selector of `rules` may read every key `filter` follows (a KV.WATCH kept after its user's rules
    /// change).
    static func allowsWatching(_ filter: WatchFilter, _ rules: UserRules) -> Bool {
        let (kind, argument): (KeyPatternReference.Kind, [UInt8]) = switch filter {
        case .key(let key): (.key, Array(key.readableBytesView))
        case .prefix(let prefix): (.prefix, Array(prefix.readableBytesView))
        case .pattern(let glob): (.glob, glob.pattern)
        }
        return rules.selectors.contains { covers(kind, argument, access: .read, $0) }
    }
}
