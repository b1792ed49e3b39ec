/// Everything Redis reports about one command: what `COMMAND INFO` and `COMMAND DOCS` say, and what access control
/// reads (ACL categories, key specifications). A table row (`CommandSpec`) is one of these plus a handler.
///
/// Redis's commands come from Redis itself: `scripts/gen-command-reference` writes one `static let` per command into
/// Metadata/Generated/ (`CommandMetadata.get`, `CommandMetadata.clientList`). kvnode's own commands, its extensions of
/// Redis's, and commands newer than that Redis are written by hand in Metadata/CommandMetadata+kvnode.swift.
/// See docs/command-table.md.
public struct CommandMetadata: Sendable {
    /// Lower-case name, e.g. `get`, or `list` for CLIENT LIST.
    public let name: String
    /// The container command of a subcommand (`client` for CLIENT LIST), nil for a top-level command.
    public let container: String?
    /// `get`, or `client|list` for a subcommand: the name COMMAND reports and error messages use.
    public let fullName: String
    /// Redis's arity: `n` means exactly n arguments (name included), `-n` at least n.
    public let arity: Int
    /// The flags COMMAND INFO reports (no kvnode-internal flag: those are added by the table row).
    public let flags: CommandFlags
    /// Redis's legacy key positions, derived from the key specifications as Redis derives them: the first key
    /// argument (0 when there is no key), the last (negative counts from the end), and the step between keys.
    public let keys: (first: Int, last: Int, step: Int)
    /// ACL categories, as COMMAND INFO reports them (implied ones such as `@write` for a write command included).
    public let categories: ACLCategories
    /// Hints for clients and proxies (`nondeterministic_output`, `request_policy:all_shards`...).
    public let tips: [String]
    /// Where the keys are and how the command accesses each one; empty for a command without keys.
    public let keySpecs: [KeySpec]
    /// COMMAND DOCS.
    public let doc: CommandDoc

    /// - Parameter container: the command this one is a subcommand of, e.g. `client` for CLIENT LIST.
    package init(
        _ name: String, of container: String? = nil, arity: Int, flags: CommandFlags,
        keys: (first: Int, last: Int, step: Int) = (0, 0, 0), categories: ACLCategories, tips: [String] = [],
        keySpecs: [KeySpec] = [], doc: CommandDoc
    ) {
        self.name = name
        self.container = container
        self.fullName = container.map { "\($0)|\(name)" } ?? name
        self.arity = arity
        self.flags = flags
        self.keys = keys
        self.categories = categories
        self.tips = tips
        self.keySpecs = keySpecs
        self.doc = doc
    }
}

/// An option set whose options Redis names in its replies, in a fixed order (command flags, ACL categories, key-spec
/// flags).
public protocol NamedOptions: OptionSet where Element == Self {
    /// Every option with its name, in the order Redis lists them.
    static var named: [(Self, String)] { get }
}

extension NamedOptions {
    /// The names of these options, in Redis's order.
    public var names: [String] { Self.named.filter { contains($0.0) }.map(\.1) }

    /// The option named `name` (ASCII, any case), or nil.
    public init?(name: String) {
        let lowercased = name.lowercased()
        guard let found = Self.named.first(where: { $0.1.lowercased() == lowercased }) else { return nil }
        self = found.0
    }
}

/// Redis's ACL categories (`@read`, `@string`...), a bit each, for access-control checks that cost one AND.
public struct ACLCategories: NamedOptions, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let keyspace = ACLCategories(rawValue: 1 << 0)
    public static let read = ACLCategories(rawValue: 1 << 1)
    public static let write = ACLCategories(rawValue: 1 << 2)
    public static let set = ACLCategories(rawValue: 1 << 3)
    public static let sortedSet = ACLCategories(rawValue: 1 << 4)
    public static let list = ACLCategories(rawValue: 1 << 5)
    public static let hash = ACLCategories(rawValue: 1 << 6)
    public static let string = ACLCategories(rawValue: 1 << 7)
    public static let bitmap = ACLCategories(rawValue: 1 << 8)
    public static let hyperLogLog = ACLCategories(rawValue: 1 << 9)
    public static let geo = ACLCategories(rawValue: 1 << 10)
    public static let stream = ACLCategories(rawValue: 1 << 11)
    public static let pubsub = ACLCategories(rawValue: 1 << 12)
    public static let admin = ACLCategories(rawValue: 1 << 13)
    public static let fast = ACLCategories(rawValue: 1 << 14)
    public static let slow = ACLCategories(rawValue: 1 << 15)
    public static let blocking = ACLCategories(rawValue: 1 << 16)
    public static let dangerous = ACLCategories(rawValue: 1 << 17)
    public static let connection = ACLCategories(rawValue: 1 << 18)
    public static let transaction = ACLCategories(rawValue: 1 << 19)
    public static let scripting = ACLCategories(rawValue: 1 << 20)

    /// Every category with its name (without `@`), in the order Redis lists them (`ACL CAT`, COMMAND INFO).
    public static let named: [(ACLCategories, String)] = [
        (.keyspace, "keyspace"), (.read, "read"), (.write, "write"), (.set, "set"), (.sortedSet, "sortedset"),
        (.list, "list"), (.hash, "hash"), (.string, "string"), (.bitmap, "bitmap"), (.hyperLogLog, "hyperloglog"),
        (.geo, "geo"), (.stream, "stream"), (.pubsub, "pubsub"), (.admin, "admin"), (.fast, "fast"),
        (.slow, "slow"), (.blocking, "blocking"), (.dangerous, "dangerous"), (.connection, "connection"),
        (.transaction, "transaction"), (.scripting, "scripting"),
    ]
}
