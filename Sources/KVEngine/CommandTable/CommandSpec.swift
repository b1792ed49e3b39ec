import RESP
import Synchronization

/// A row of the command table: a command's metadata (everything Redis reports about it, see `CommandMetadata`) and
/// what kvnode adds to run it — its handler, its subcommands, the flags that drive the executor. Dispatch, arity
/// checks, COMMAND and its subcommands, and access control all read the row. A class, so a lookup on the hot path
/// costs one retain, not a copy; the fields the executor reads on every request are stored apart from the metadata.
public final class CommandSpec: Sendable {
    // What the executor reads on every request comes first, together in memory; the metadata, read by COMMAND and
    // access control, last.

    /// Lower-case name, e.g. `get`, or `setinfo` for a subcommand.
    public let name: String
    /// Redis's arity: `n` means exactly n arguments (name included), `-n` at least n.
    public let arity: Int
    /// Redis's flags (from the metadata) and kvnode's own.
    public let flags: CommandFlags
    /// Subcommands, for container commands such as CLIENT and COMMAND.
    public let subcommands: [CommandSpec]
    /// Runs the command.
    let handler: CommandHandler
    /// Index of this command's counters in the statistics: unique per spec, dense from 0.
    let statisticsSlot: Int
    /// The name used in error messages: `get`, or `client|setinfo` for a subcommand.
    public let fullName: String

    /// The command's own key finder, for key specifications that cannot find the keys by themselves.
    let keyFinder: KeyFinder?
    /// Keys the command reaches through a glob or prefix (PDEL, KEYS WITHVALUES, KV.WATCH), for access control.
    let keyPatternFinder: KeyPatternFinder?
    /// The Pub/Sub channels among the arguments (PUBLISH, SUBSCRIBE, PSUBSCRIBE...), for access control.
    let channelFinder: ChannelFinder?
    /// Whether the key specifications give the keys and their flags reliably (Redis prefers them to a key finder).
    private let keySpecsSuffice: Bool
    /// Whether the command takes keys: a key specification of real keys, or a key finder (`doesCommandHaveKeys`).
    public let hasKeys: Bool
    /// Everything COMMAND reports about the command.
    public let metadata: CommandMetadata

    private static let nextSlot = Atomic<Int>(0)
    /// Number of statistics slots handed out so far.
    static var slotCount: Int { nextSlot.load(ordering: .relaxed) }

    /// A command's row.
    ///
    /// - Parameters:
    ///   - metadata: the command, as Redis (or kvnode, for its own) describes it: `.get`, `.clientList`.
    ///   - kvnodeFlags: kvnode's internal flags for the executor (`.readsCommitted`, `.keyspace`,
    ///     `.allowedWhileSubscribed`, `.transactionControl`); Redis's flags come from the metadata alone.
    ///   - keyFinder: finds the keys when the key specifications are `incomplete`, `variableFlags` or `unknown`.
    ///   - keyPatternFinder: finds the keys reached by a glob or prefix, which access control must cover entirely.
    ///   - channelFinder: finds the Pub/Sub channels access control checks.
    package convenience init(
        _ metadata: CommandMetadata, kvnodeFlags: CommandFlags = [], keyFinder: KeyFinder? = nil,
        keyPatternFinder: KeyPatternFinder? = nil, channelFinder: ChannelFinder? = nil,
        handler: @escaping CommandHandler
    ) {
        self.init(
            metadata, kvnodeFlags: kvnodeFlags, keyFinder: keyFinder, keyPatternFinder: keyPatternFinder,
            channelFinder: channelFinder, subcommands: [], handler: handler)
    }

    /// A container's row (CLIENT, CONFIG): the executor runs the subcommand the next argument names; `handler` runs
    /// only when the container's arity lets it be called alone (COMMAND).
    package convenience init(
        _ metadata: CommandMetadata, subcommands: [CommandSpec], handler: @escaping CommandHandler = { _ in }
    ) {
        self.init(
            metadata, kvnodeFlags: [], keyFinder: nil, keyPatternFinder: nil, channelFinder: nil,
            subcommands: subcommands, handler: handler)
    }

    private init(
        _ metadata: CommandMetadata, kvnodeFlags: CommandFlags, keyFinder: KeyFinder?,
        keyPatternFinder: KeyPatternFinder?, channelFinder: ChannelFinder?, subcommands: [CommandSpec],
        handler: @escaping CommandHandler
    ) {
        precondition(
            CommandFlags.kvnodeOwn.isSuperset(of: kvnodeFlags),
            "\(metadata.fullName): Redis's flags come from its metadata, not from the row")
        self.metadata = metadata
        self.name = metadata.name
        self.fullName = metadata.fullName
        self.arity = metadata.arity
        // A command that reads or writes data (Redis's `readonly` and `write` flags) runs under a lease, unless it
        // is a single-key read that may use committed data.
        var flags = metadata.flags.union(kvnodeFlags)
        if flags.contains(.write) || (flags.contains(.readonly) && !flags.contains(.readsCommitted)) {
            flags.insert(.keyspace)
        }
        self.flags = flags
        self.subcommands = subcommands
        self.handler = handler
        self.keyFinder = keyFinder
        self.keyPatternFinder = keyPatternFinder
        self.channelFinder = channelFinder
        let realKeys = metadata.keySpecs.contains { !$0.flags.contains(.notKey) }
        self.keySpecsSuffice = realKeys && !metadata.keySpecs.contains { $0.flags.contains(.variableFlags) }
        self.hasKeys = realKeys || keyFinder != nil
        self.statisticsSlot = Self.nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Whether `count` arguments satisfy the arity.
    @inlinable func accepts(argumentCount count: Int) -> Bool {
        arity >= 0 ? count == arity : count >= -arity
    }

    /// The key arguments of `arguments` and how the command accesses each, as Redis's `getKeysFromCommandWithSpecs`
    /// finds them: from the key specifications when they are reliable and fit the arguments, else from the row's
    /// key finder; no keys when neither finds any (arguments the command itself will refuse).
    public func keyPositions(in arguments: CommandArguments) -> [KeyReference] {
        if keySpecsSuffice, let keys = KeySpec.keys(of: metadata.keySpecs, in: arguments) { return keys }
        return keyFinder?(arguments) ?? []
    }

    /// The key arguments of a whole request.
    public func keyPositions(in request: Request) -> [KeyReference] {
        keyPositions(in: CommandArguments(request))
    }

    /// ACL categories, as COMMAND INFO reports them.
    public var categories: ACLCategories { metadata.categories }
}

/// Runs one command with its context.
public typealias CommandHandler = @Sendable (CommandContext) throws -> Void

/// Command properties: Redis's, named as `COMMAND` reports them, and kvnode's own, which drive the executor and are
/// not reported.
public struct CommandFlags: NamedOptions, Sendable {
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
    public static let blocking = CommandFlags(rawValue: 1 << 13)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 14)
    public static let asking = CommandFlags(rawValue: 1 << 15)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 16)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 17)
    /// The keys are not all at fixed positions: Redis sets it when a key specification is not a plain range.
    public static let movableKeys = CommandFlags(rawValue: 1 << 18)

    // kvnode's own flags.

    /// The command reads or writes the keyspace: the executor holds a lease on the store while it runs.
    public static let keyspace = CommandFlags(rawValue: 1 << 24)
    /// A single-key read that may run without a lease, from committed data (`CommandContext.readKey`).
    public static let readsCommitted = CommandFlags(rawValue: 1 << 25)
    /// Allowed on a RESP2 connection that subscribes to something (SUBSCRIBE's family, PING, QUIT, RESET).
    public static let allowedWhileSubscribed = CommandFlags(rawValue: 1 << 26)
    /// Runs at once inside MULTI instead of being queued (MULTI, EXEC, DISCARD, WATCH, QUIT, RESET).
    public static let transactionControl = CommandFlags(rawValue: 1 << 27)

    /// kvnode's own flags, which COMMAND does not report.
    static let kvnodeOwn: CommandFlags = [.keyspace, .readsCommitted, .allowedWhileSubscribed, .transactionControl]

    /// Redis's flags, in the order Redis lists them (kvnode's are never named).
    public static let named: [(CommandFlags, String)] = [
        (.write, "write"), (.readonly, "readonly"), (.denyOOM, "denyoom"), (.admin, "admin"), (.pubsub, "pubsub"),
        (.noscript, "noscript"), (.blocking, "blocking"), (.loading, "loading"), (.stale, "stale"),
        (.skipMonitor, "skip_monitor"), (.skipSlowlog, "skip_slowlog"), (.asking, "asking"), (.fast, "fast"),
        (.noAuth, "no_auth"), (.noMandatoryKeys, "no_mandatory_keys"), (.noAsyncLoading, "no_async_loading"),
        (.noMulti, "no_multi"), (.movableKeys, "movablekeys"), (.allowBusy, "allow_busy"),
    ]
}
