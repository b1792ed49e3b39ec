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
    /// Unix time in milliseconds when the server started.
    public let startTime: Int64
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
    /// The keyspace's observer: WATCH invalidation and expiry counts.
    let keyspaceEvents = KeyspaceEvents()
    /// 40 random hex digits identifying this run (INFO `run_id`).
    let runID: String
    private let clientIDs = NIOLockedValueBox<Int>(0)
    private let shutdownHandler: NIOLockedValueBox<(@Sendable () -> Void)?> = .init(nil)

    public init(configuration: ServerConfiguration, store: Store, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.commands = .standard
        self.logger = logger
        self.startTime = WallClock.milliseconds()
        self.settings = RuntimeSettings(configuration)
        self.config = ConfigRegistry(ServerConfigParameters.all)
        var bySlot = [CommandSpec?](repeating: nil, count: CommandSpec.slotCount)
        for spec in commands.commands + commands.commands.flatMap(\.subcommands) { bySlot[spec.statisticsSlot] = spec }
        self.commandsBySlot = bySlot
        self.metrics = ServerMetrics(slotCount: bySlot.count)
        var generator = SystemRandomNumberGenerator()
        self.runID = (0..<40).map { _ in String(Int.random(in: 0..<16, using: &generator), radix: 16) }.joined()
        let keyspace = store.acquire()
        keyspace.observer = keyspaceEvents
        _ = try? store.release()
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
