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
    private let storeObserver: StoreEventObserver
    private let clientIDs = NIOLockedValueBox<Int>(0)
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
