import KVSnapshot
import KVStore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What every connection shares: the store, the command table, the client registry and server-wide counters.
public final class ServerState: Sendable {
    public let configuration: ServerConfiguration
    public let store: Store
    public let commands: CommandTable
    public let logger: Logger
    /// Writes SNAPSHOT/SAVE/BGSAVE snapshots under the data directory; stop it before closing the store.
    public let snapshots: Snapshotter
    /// Unix time in milliseconds when the server started.
    public let startTime: Int64
    /// Where each live SCAN iteration stopped.
    let scanCursors: ScanCursors
    /// Pub/Sub channels and patterns, shared by every event loop.
    let pubsub = PubSubHub()
    /// Publishes keyspace notifications through `pubsub`.
    public let notifier: KeyspaceNotifier
    /// The store's observer: WATCH invalidation, expiry notifications and counts.
    let storeObserver: StoreEventObserver
    /// Settings CONFIG SET may change while the server runs.
    let settings: RuntimeSettings
    /// The CONFIG parameters.
    let config: ConfigRegistry
    /// Every live connection.
    let clients = ClientRegistry()
    /// CLIENT PAUSE's state.
    let pause = ClientPause()
    /// Command and connection statistics (INFO).
    let metrics: ServerMetrics
    /// Every command spec (subcommands included) by statistics slot, for naming a slot.
    let commandsBySlot: [CommandSpec?]
    /// 40 random hex digits identifying this run (INFO `run_id`).
    let runID: String
    private let clientIDs = NIOLockedValueBox<Int>(0)
    /// Per event loop, the `high` durability group commit (see DurableReplies).
    let durableReplyGroups = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<DurableReplies>]>([:])
    private let shutdownHandler: NIOLockedValueBox<(@Sendable () -> Void)?> = .init(nil)

    public init(configuration: ServerConfiguration, store: Store, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.commands = .standard
        self.logger = logger
        self.snapshots = Snapshotter(
            dataDirectory: FileSystem.absolutePath(configuration.dataDirectory), keep: configuration.snapshotKeep,
            logger: logger)
        self.startTime = WallClock.milliseconds()
        self.scanCursors = ScanCursors(capacity: configuration.scanCursorTableSize)
        self.notifier = KeyspaceNotifier(flags: configuration.notifyKeyspaceEvents, hub: pubsub)
        self.storeObserver = StoreEventObserver(notifier: notifier)
        store.observer = storeObserver
        self.settings = RuntimeSettings(configuration)
        self.config = ConfigRegistry(ServerConfigParameters.all)
        var bySlot = [CommandSpec?](repeating: nil, count: CommandSpec.slotCount)
        for spec in commands.commands + commands.commands.flatMap(\.subcommands) { bySlot[spec.statisticsSlot] = spec }
        self.commandsBySlot = bySlot
        self.metrics = ServerMetrics(slotCount: bySlot.count)
        var generator = SystemRandomNumberGenerator()
        self.runID = (0..<40).map { _ in String(Int.random(in: 0..<16, using: &generator), radix: 16) }.joined()
    }

    /// A new, never reused client id, as CLIENT ID and HELLO report.
    func nextClientID() -> Int {
        clientIDs.withLockedValue { id in
            id += 1
            return id
        }
    }

    /// Registers what SHUTDOWN calls to stop the process gracefully.
    public func onShutdownRequest(_ handler: @escaping @Sendable () -> Void) {
        shutdownHandler.withLockedValue { $0 = handler }
    }

    /// Asks the process to shut down gracefully (the SHUTDOWN command).
    func requestShutdown() {
        shutdownHandler.withLockedValue { $0 }?()
    }
}
