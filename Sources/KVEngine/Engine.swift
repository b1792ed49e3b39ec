import KVSnapshot
import KVStore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The command engine: the store and everything every connection shares — the command table, Pub/Sub, keyspace
/// notifications, WATCH, the client registry, CONFIG, statistics, snapshots. It knows nothing of sockets: the
/// network layer gives each connection a `Session` and runs its reads through an `Executor`.
public final class Engine: Sendable {
    public let configuration: ServerConfiguration
    public let store: Store
    public let logger: Logger
    /// The command table: every command and subcommand, with everything the executor, COMMAND and ACLs read.
    let commands: CommandTable
    /// Writes SNAPSHOT/SAVE/BGSAVE snapshots under the data directory; stop it before closing the store.
    public let snapshots: Snapshotter
    /// Unix time in milliseconds when the server started.
    let startTime: Int64
    /// Where each live SCAN iteration stopped.
    let scanCursors: ScanCursors
    /// Pub/Sub channels and patterns, shared by every event loop.
    let pubsub = PubSubHub()
    /// Publishes keyspace notifications through `pubsub`.
    let notifier: KeyspaceNotifier
    /// Watched keys and their clients.
    let watches = WatchRegistry()
    /// Connections whose command waits for keys.
    let keyWaiters = KeyWaiters()
    /// Clients blocked in BLPOP and the other blocking list pops.
    let blockingPops = BlockingPops()
    /// KV.WATCH watchers.
    let watchHub: WatchHub
    /// The store's observer: WATCH invalidation, notifications, expiry counts.
    let keyspaceEvents: KeyspaceEventObserver
    /// Settings CONFIG SET may change while the server runs.
    let settings: RuntimeSettings
    /// The CONFIG parameters.
    let config: ConfigRegistry
    /// Every live connection.
    let clients = ClientRegistry()
    /// CLIENT PAUSE's state.
    let pause = ClientPause()
    /// Users, authentication, the ACL log and protected mode.
    let access: AccessControl
    /// The Lua interpreter and script cache (EVAL, SCRIPT).
    let lua: LuaInterpreter
    /// Command and connection statistics (INFO).
    let metrics: ServerMetrics
    /// Every command spec (subcommands included) by statistics slot, for naming a slot.
    let commandsBySlot: [CommandSpec?]
    /// Capabilities plugged into every command (access control, MONITOR, slow log); none yet.
    let hooks: [any ExecutorHooks]
    /// 40 random hex digits identifying this run (INFO `run_id`).
    let runID: String
    private let clientIDs = NIOLockedValueBox<Int>(0)
    private let loops = NIOLockedValueBox<[ObjectIdentifier: LoopResources]>([:])
    private let shutdownHandler: NIOLockedValueBox<(@Sendable () -> Void)?> = .init(nil)

    /// - Parameters:
    ///   - families: extra command families (capability modules, tests) added to the standard table.
    ///   - hooks: capabilities that check or observe every command.
    public init(
        configuration: ServerConfiguration, store: Store, logger: Logger,
        families: [any CommandFamily] = [], hooks: [any ExecutorHooks] = []
    ) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        self.snapshots = Snapshotter(
            dataDirectory: FileSystem.absolutePath(configuration.dataDirectory), keep: configuration.snapshotKeep,
            logger: logger)
        self.startTime = WallClock.milliseconds()
        self.scanCursors = ScanCursors(capacity: configuration.scanCursorTableSize)
        self.notifier = KeyspaceNotifier(flags: configuration.notifyKeyspaceEvents, hub: pubsub)
        let (syncRequests, syncRequester) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.syncRequests = syncRequests
        self.watchHub = WatchHub(
            outputLimit: configuration.watchOutputLimit, progressInterval: configuration.watchProgressInterval,
            durability: store.durability == .low ? nil : WatchDurability(
                durableRevision: { [store] in store.durableRevision }, requestSync: { syncRequester.yield() }))
        var requestSync: (@Sendable () -> Void)?
        if store.durability == .medium {
            requestSync = { syncRequester.yield() }
        }
        self.keyspaceEvents = KeyspaceEventObserver(
            notifier: notifier, watches: watches, waiters: keyWaiters, blockingPops: blockingPops, watchers: watchHub,
            eventsWaitForSync: store.durability != .low, durableSequence: { [store] in store.durableSequence },
            requestSync: requestSync)
        self.settings = RuntimeSettings(configuration)
        self.config = ConfigRegistry(ServerConfigParameters.all)
        self.hooks = hooks
        self.lua = LuaInterpreter(logger: logger)
        // The one place the command table is assembled: every family, given what it needs.
        let standard: [any CommandFamily] = [
            ConnectionCommands(), ClientCommands(), StringCommands(), CounterCommands(),
            StringRangeCommands(settings: settings), KeyCommands(), ExpiryCommands(),
            OrderedKeyspaceCommands(scanCursors: scanCursors, keysDefaultLimit: configuration.keysDefaultLimit),
            ServerCommands(), IntrospectionCommands(), SnapshotCommands(), PubSubCommands(hub: pubsub),
            TransactionCommands(watches: watches), ConfigCommands(), ServerStatusCommands(), ObjectCommands(),
            RevisionCommands(hub: watchHub), AclCommands(), DatabaseCommands(),
            CompareAndSetCommands(),
            HashCommands(scanCursors: scanCursors), SetCommands(scanCursors: scanCursors), ListCommands(),
            BlockingListCommands(pops: blockingPops), SortedSetCommands(scanCursors: scanCursors),
            BlockingSortedSetCommands(pops: blockingPops), SortCommands(),
            BitCommands(settings: settings), BitFieldCommands(settings: settings), SubstringCommands(settings: settings),
            ScriptingCommands(lua: lua),
        ]
        let table = CommandTable(families: standard + families)
        self.commands = table
        self.access = AccessControl(
            table: table, configuration: configuration, clients: clients, pubsub: pubsub, watchers: watchHub,
            logger: logger)
        var bySlot = [CommandSpec?](repeating: nil, count: CommandSpec.slotCount)
        for spec in table.commands + table.commands.flatMap(\.subcommands) { bySlot[spec.statisticsSlot] = spec }
        self.commandsBySlot = bySlot
        self.metrics = ServerMetrics(slotCount: bySlot.count)
        var generator = SystemRandomNumberGenerator()
        self.runID = (0..<40).map { _ in String(Int.random(in: 0..<16, using: &generator), radix: 16) }.joined()
        store.observer = keyspaceEvents
        store.onSync { [keyspaceEvents] sequence in keyspaceEvents.synced(upTo: sequence) }
    }

    /// Creates the users given at start-up (`--user` definitions: a name and its rules, like redis.conf's `user`
    /// lines) and loads the ACL file, as Redis does before it accepts connections. The definitions are not kept.
    public func loadUsers(_ definitions: [String]) throws(ACLFileError) {
        try access.loadAtStartup(userLines: definitions)
    }

    /// The `tls-*` settings now: the start-up ones, or what CONFIG SET installed since.
    public var tlsSettings: TLSSettings { settings.tls.withLockedValue { $0 } }

    /// Registers the server's TLS layer, which CONFIG SET of `tls-cert-file`, `tls-key-file`, `tls-ca-cert-file` or
    /// `tls-auth-clients` then reloads.
    public func registerTLS(_ reloader: any TLSReloading) {
        settings.tlsReloader.withLockedValue { $0 = reloader }
    }

    /// Requests for a prompt fsync, coalesced: with `medium` durability, watch events waiting for one. The store's
    /// maintenance service serves them on its own thread.
    public let syncRequests: AsyncStream<Void>

    /// A new, never reused client id, as CLIENT ID and HELLO report.
    func nextClientID() -> Int {
        clientIDs.withLockedValue { id in
            id += 1
            return id
        }
    }

    /// What the connections of `eventLoop` share: statistics and the lock-free read slot (created on first use).
    func loopResources(for eventLoop: any EventLoop) -> LoopResources {
        loops.withLockedValue { loops in
            let id = ObjectIdentifier(eventLoop)
            if let resources = loops[id] { return resources }
            let resources = LoopResources(
                statistics: metrics.shard(for: eventLoop), readerSlot: store.makeReaderSlot(),
                turn: TurnLease(store: store, eventLoop: eventLoop, misconfError: { [unowned self] in misconfError() }))
            loops[id] = resources
            return resources
        }
    }

    /// The error a write gets while the store cannot persist, in the shape of Redis's (`-MISCONF Errors writing to
    /// the AOF file: ...`).
    func misconfError() -> CommandError {
        CommandError("MISCONF Errors writing to the data directory: \(store.health.failure ?? "unknown error")")
    }

    /// Registers what SHUTDOWN calls to stop the process gracefully.
    public func onShutdownRequest(_ handler: @escaping @Sendable () -> Void) {
        shutdownHandler.withLockedValue { $0 = handler }
    }

    /// Asks the process to shut down gracefully (the SHUTDOWN command).
    func requestShutdown() {
        shutdownHandler.withLockedValue { $0 }?()
    }

    /// Takes one sample of INFO's instantaneous rates; the server calls it every `sampleInterval`.
    public func sampleRates() {
        metrics.sampleRates()
    }

    /// The output limit of Pub/Sub clients (`client-output-buffer-limit pubsub`), read when a push is delivered.
    public var pubsubOutputLimit: @Sendable () -> OutputBufferLimit {
        let settings = self.settings
        return { settings.outputBufferLimits.withLockedValue { $0.pubsub } }
    }

    /// The largest request a connection may have pending (`client-query-buffer-limit`).
    public var queryBufferLimit: Int { settings.clientQueryBufferLimit.load(ordering: .relaxed) }

    /// Connections that have closed since start-up (rejected ones included, as they were registered too).
    public var closedConnections: Int {
        let counts = metrics.connectionCounts
        return counts.received + counts.rejected - clients.count
    }

    /// How often `sampleRates` should run.
    public static let sampleInterval = InstantaneousRates.interval
}

/// What the connections of one event loop share.
final class LoopResources: Sendable {
    let statistics: StatisticsShard
    let readerSlot: ReaderSlot
    /// The lease the loop's connections share during a turn, committed once at its end.
    let turn: TurnLease

    init(statistics: StatisticsShard, readerSlot: ReaderSlot, turn: TurnLease) {
        self.statistics = statistics
        self.readerSlot = readerSlot
        self.turn = turn
    }
}

/// A capability that plugs into every command the executor runs — access control refuses, MONITOR and the slow log
/// observe — without the executor knowing which.
public protocol ExecutorHooks: Sendable {
    /// Checked before a command runs or is queued by MULTI: the error to reply, or nil to let it through.
    func authorize(_ spec: CommandSpec, session: Session) -> CommandError?
    /// Told of every command after it ran, with its duration.
    func commandRan(_ spec: CommandSpec, session: Session, nanoseconds: UInt64)
}
