/// Keys a command reaches through a glob or a prefix instead of naming them (kvnode's PDEL, KEYS WITHVALUES and
/// KV.WATCH): access control requires every key the argument could match to be allowed, which key specifications,
/// made for named keys, cannot express.
public struct KeyPatternReference: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The argument is one key (KV.WATCH KEY).
        case key
        /// Every key starting with the argument (KV.WATCH PREFIX).
        case prefix
        /// Every key the argument matches as a Redis glob (PDEL, KEYS, KV.WATCH PATTERN).
        case glob
    }

    public let position: Int
    public let kind: Kind
    /// How the command uses those keys, as key specification flags (`RO access` to read values, `RM delete`...).
    public let flags: KeySpec.Flags

    public init(position: Int, kind: Kind, flags: KeySpec.Flags) {
        self.position = position
        self.kind = kind
        self.flags = flags
    }
}

/// Finds the key patterns of a command's arguments (none when they hold none, or do not parse).
public typealias KeyPatternFinder = @Sendable (CommandArguments) -> [KeyPatternReference]

/// A Pub/Sub channel argument, as Redis's `ACLDoesCommandHaveChannels` cases find them: PUBLISH's channel, each
/// channel of SUBSCRIBE, each pattern of PSUBSCRIBE (which must equal one of the user's channel patterns, not merely
/// match it).
public struct ChannelReference: Sendable, Equatable {
    public let position: Int
    /// The argument is a pattern, compared literally with the user's channel patterns.
    public let isPattern: Bool

    public init(position: Int, isPattern: Bool) {
        self.position = position
        self.isPattern = isPattern
    }
}

/// Finds the channel arguments of a Pub/Sub command.
public typealias ChannelFinder = @Sendable (CommandArguments) -> [ChannelReference]

extension ChannelReference {
    /// Argument 1 (PUBLISH, SPUBLISH).
    static let first: ChannelFinder = { arguments in
        arguments.count > 1 ? [ChannelReference(position: 1, isPattern: false)] : []
    }
    /// Every argument after the name (SUBSCRIBE, SSUBSCRIBE).
    static let all: ChannelFinder = { arguments in
        (1..<max(arguments.count, 1)).map { ChannelReference(position: $0, isPattern: false) }
    }
    /// Every argument after the name, as patterns (PSUBSCRIBE).
    static let allPatterns: ChannelFinder = { arguments in
        (1..<max(arguments.count, 1)).map { ChannelReference(position: $0, isPattern: true) }
    }
}
