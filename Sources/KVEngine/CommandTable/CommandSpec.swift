import Synchronization

/// What the server knows about one command: the row of the command table that drives dispatch, arity checks,
/// `COMMAND` replies and, later, ACLs. A class, so a lookup on the hot path costs one retain, not a copy.
public final class CommandSpec: Sendable {
    /// Lower-case name, e.g. `get`, or `setinfo` for a subcommand.
    public let name: String
    /// Redis's arity: `n` means exactly n arguments (name included), `-n` at least n.
    public let arity: Int
    public let flags: CommandFlags
    /// Position of the first key argument (0 when the command takes no key).
    public let firstKey: Int
    /// Position of the last key argument; negative counts from the end (-1 = last argument).
    public let lastKey: Int
    /// Distance between key arguments (2 for MSET's key/value pairs).
    public let keyStep: Int
    /// ACL categories without the `@`, e.g. `string`, `read`.
    public let categories: [String]
    /// Subcommands, for container commands such as CLIENT and COMMAND.
    public let subcommands: [CommandSpec]
    /// Runs the command.
    let handler: CommandHandler

    /// The name used in error messages: `get`, or `client|setinfo` for a subcommand.
    public let fullName: String
    /// Index of this command's counters in the statistics: unique per spec, dense from 0.
    let statisticsSlot: Int

    private static let nextSlot = Atomic<Int>(0)
    /// Number of statistics slots handed out so far.
    static var slotCount: Int { nextSlot.load(ordering: .relaxed) }

    /// - Parameter container: the command this one is a subcommand of, e.g. `client` for CLIENT SETINFO.
    package init(
        _ name: String, of container: String? = nil, arity: Int, flags: CommandFlags,
        keys: (first: Int, last: Int, step: Int) = (0, 0, 0),
        categories: [String], subcommands: [CommandSpec] = [],
        handler: @escaping CommandHandler = { _ in }
    ) {
        self.name = name
        self.fullName = container.map { "\($0)|\(name)" } ?? name
        self.arity = arity
        // A command that reads or writes data (Redis's `readonly` and `write` flags) runs under a lease, unless it
        // is a single-key read that may use committed data.
        var flags = flags
        if flags.contains(.write) || (flags.contains(.readonly) && !flags.contains(.readsCommitted)) {
            flags.insert(.keyspace)
        }
        self.flags = flags
        self.firstKey = keys.first
        self.lastKey = keys.last
        self.keyStep = keys.step
        self.categories = categories
        self.subcommands = subcommands
        self.handler = handler
        self.statisticsSlot = Self.nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Whether `count` arguments satisfy the arity.
    @inlinable func accepts(argumentCount count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }
}

/// Runs one command with its context.
public typealias CommandHandler = @Sendable (CommandContext) throws -> Void

/// Command properties: Redis's, named as `COMMAND` reports them, and kvnode's own, which drive the executor and are
/// not reported.
public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyOOM = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let loading = CommandFlags(rawValue: 1 << 6)
    public static let stale = CommandFlags(rawValue: 1 << 7)
    public static let fast = CommandFlags(rawValue: 1 << 8)
    public static let noAuth = CommandFlags(rawValue: 1 << 9)
    public static let allowBusy = CommandFlags(rawValue: 1 << 10)
    public static let noMulti = CommandFlags(rawValue: 1 << 11)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 12)

    // kvnode's own flags.

    /// The command reads or writes the keyspace: the executor holds a lease on the store while it runs.
    public static let keyspace = CommandFlags(rawValue: 1 << 24)
    /// A single-key read that may run without a lease, from committed data (`CommandContext.readKey`).
    public static let readsCommitted = CommandFlags(rawValue: 1 << 25)
    /// Allowed on a RESP2 connection that subscribes to something (SUBSCRIBE's family, PING, QUIT, RESET).
    public static let allowedWhileSubscribed = CommandFlags(rawValue: 1 << 26)
    /// Runs at once inside MULTI instead of being queued (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET).
    public static let transactionControl = CommandFlags(rawValue: 1 << 27)

    /// In the order Redis lists them.
    static let names: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyOOM, "denyoom"), (.admin, "admin"), (.pubsub, "pubsub"),
        (.noscript, "noscript"), (.loading, "loading"), (.stale, "stale"), (.skipSlowlog, "skip_slowlog"),
        (.fast, "fast"), (.noAuth, "no_auth"), (.noMulti, "no_multi"), (.allowBusy, "allow_busy"),
    ]

    /// The flag names in Redis's order.
    var names: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
}
