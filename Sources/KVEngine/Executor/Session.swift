import KVStore
import NIOConcurrencyHelpers
import NIOCore
import RESP
import Synchronization

/// One connection's state in the engine: its decoder, the request being run, the reply buffer, and what its commands
/// set (protocol version, MULTI queue, WATCHes, subscriptions, reply mode, name). Owned by the connection and used
/// only on its event loop; the network layer never looks inside, it only hands bytes to the `Executor` and sends
/// `reply.buffer`.
public final class Session {
    let engine: Engine
    /// What other connections see of this one (CLIENT LIST, CLIENT KILL, wake-ups).
    let handle: ClientHandle
    /// The statistics and lock-free read slot of this connection's event loop.
    let loop: LoopResources
    /// The event loop the connection runs on; work done elsewhere completes back on it.
    let eventLoop: any EventLoop
    var id: Int { handle.id }
    /// Remote address as `ip:port`.
    var address: String { handle.address }

    var decoder: RequestDecoder
    /// The command being run.
    var request: Request
    /// Replies to send at the end of the batch.
    public var reply: ReplyWriter
    /// Pushes (Pub/Sub messages, later watch events) delivered to this connection while one of its own commands ran
    /// with CLIENT REPLY OFF or SKIP; the executor appends them after that command's reply, so they are not dropped
    /// with it.
    var pushesDuringCommand = ByteBuffer()
    /// Whether a command of this connection is running (pushes for it then wait in `pushesDuringCommand`).
    var isExecuting = false

    /// Set by QUIT, SHUTDOWN and protocol errors: close once the replies are flushed.
    var closeAfterReply = false
    /// Set by a command whose reply is produced off the event loop; see `CommandContext.replyLater`.
    var deferredReply: EventLoopFuture<DeferredReply>?
    /// A request held back (CLIENT PAUSE, or a command waiting for keys) to run before anything read after it.
    var parkedRequest: Request?
    /// What the parked command waits for, set by `CommandContext.wait(forKeys:timeoutMilliseconds:)`; its deadline
    /// lasts across the command's runs until it completes.
    var keyWait: KeyWait?
    /// Set by a command that asked to wait during its run; the executor parks it afterwards.
    var waitRequested = false
    /// The blocking pop this connection is blocked in (`BlockingPopCommand`).
    var blockedPop: BlockedPop?
    /// A reply in this batch reports a write committed by another connection's lease (a blocking pop served by a
    /// push): with `high` durability it waits for the fsync as the batch's own writes would.
    var repliesReportCommittedWrite = false
    /// Replies written under the event loop's turn lease wait for its commit (`TurnLease`).
    var awaitsTurnCommit = false
    /// The replies written since the last successful commit, taken back if the commit fails.
    var uncommittedReplies = UncommittedReplies()
    /// Told when the turn's commit lets held replies go: the connection's output.
    var replyOutput: (any TurnCommitListener)?

    /// Who the connection is: `default` until AUTH or HELLO AUTH chooses another user.
    private(set) var user: ACLUser
    /// Whether the connection has authenticated, or started so because the default user needs no password.
    private(set) var authenticated: Bool
    /// `user` once authenticated, `ACLUser.unauthenticated` before: the executor's whole access check on the fast
    /// path is this user's `allowsEverything`. Unowned, so reading it costs no reference counting: `user` (or the
    /// static sentinel) keeps its target alive.
    private(set) unowned(unsafe) var accessGate: ACLUser
    /// This connection's copy of its user's rules, taken again only when they change.
    var rulesCache: ACLUser.RulesCache?

    /// The database SELECT chose (0 until then); every keyspace command runs in it.
    var database: UInt32 = 0 {
        didSet { handle.database.store(Int(database), ordering: .relaxed) }
    }
    /// Set while a script's `redis.call` runs a command, whose reply goes to the script: pushes delivered to this
    /// connection meanwhile are kept here, in the connection's protocol, and placed in its replies afterwards.
    var scriptCommand: (callerVersion: ProtocolVersion, pushes: ByteBuffer)?
    /// Set while EXEC runs the queued commands.
    var isRunningTransaction = false
    /// MULTI's queue; nil outside a transaction.
    var transaction: TransactionQueue? {
        didSet { handle.queuedCommands.store(transaction?.commands.count ?? -1, ordering: .relaxed) }
    }
    /// The keys this connection WATCHes.
    var watch = ClientWatch()
    /// CLIENT REPLY's mode.
    var replyMode = ReplyMode.on
    /// Monotonic nanoseconds when the next command's timing starts (the previous command's end, so each command
    /// costs one clock read).
    var commandClock: UInt64 = 0

    /// Pub/Sub subscriptions; names are copied out of the request so they do not pin its buffer.
    var channelSubscriptions = Set<ByteBuffer>()
    var patternSubscriptions = Set<ByteBuffer>()
    var shardSubscriptions = Set<ByteBuffer>()
    /// This connection's mailbox for Pub/Sub messages.
    let subscriber: Subscriber

    /// KV.WATCH watches, by id.
    private(set) var watchers: [Int: Watcher] = [:] {
        didSet { handle.setFlag(.watching, !watchers.isEmpty) }
    }
    private var lastWatchID = 0

    /// Whether the connection subscribes to anything or watches (in RESP2 this restricts the commands it may send).
    var isSubscribed: Bool {
        !channelSubscriptions.isEmpty || !patternSubscriptions.isEmpty || !shardSubscriptions.isEmpty
            || !watchers.isEmpty
    }

    /// Scratch space for LevelDB keys of lock-free reads.
    private var readScratch = ByteBuffer()

    /// - Parameter connection: how other connections close or wake this one.
    /// Call `attach(sink:)` before the session runs a command.
    public init(engine: Engine, eventLoop: any EventLoop, connection: any ConnectionControl, allocator: ByteBufferAllocator) {
        self.engine = engine
        self.eventLoop = eventLoop
        let user = engine.access.defaultUser
        let authenticated = engine.access.newConnectionsAuthenticated
        self.user = user
        self.authenticated = authenticated
        self.accessGate = authenticated ? user : .unauthenticated
        let handle = ClientHandle(id: engine.nextClientID(), connection: connection, user: user)
        self.handle = handle
        self.loop = engine.loopResources(for: eventLoop)
        self.decoder = RequestDecoder(limits: engine.configuration.decoderLimits)
        self.request = Request(frame: ByteBuffer(), spans: [])
        self.reply = ReplyWriter(buffer: allocator.buffer(capacity: 4096))
        self.subscriber = Subscriber(clientID: handle.id, eventLoop: eventLoop)
    }

    /// Where Pub/Sub messages, and the news that held replies may go, are sent for this connection.
    public func attach(sink: any PushSink & TurnCommitListener) {
        subscriber.attach(sink)
        replyOutput = sink
    }

    /// The statistics of this connection's event loop.
    var statistics: StatisticsShard { loop.statistics }

    /// Reads argument `index`'s key from committed data without the store's lock, counting a hit or miss.
    func readCommitted<R>(_ index: Int, _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R) throws -> R? {
        let result = try request.withArgument(index) { key in
            try engine.store.readCommitted(key, database: database, scratch: &readScratch, slot: loop.readerSlot, body)
        }
        statistics.add(1, to: result == nil ? .keyspaceMisses : .keyspaceHits)  // the keyspace counts the others
        return result
    }

    /// Makes the connection run as `user` (AUTH, HELLO AUTH, RESET).
    func setUser(_ user: ACLUser, authenticated: Bool) {
        self.user = user
        self.authenticated = authenticated
        accessGate = authenticated ? user : .unauthenticated
        handle.identity.withLockedValue { $0.user = user }
    }

    /// Name set by CLIENT SETNAME or HELLO SETNAME; empty when unset.
    var name: [UInt8] {
        get { handle.identity.withLockedValue { $0.name } }
        set { handle.identity.withLockedValue { $0.name = newValue } }
    }
    /// Library name and version set by CLIENT SETINFO.
    var libraryName: [UInt8] {
        get { handle.identity.withLockedValue { $0.libraryName } }
        set { handle.identity.withLockedValue { $0.libraryName = newValue } }
    }
    var libraryVersion: [UInt8] {
        get { handle.identity.withLockedValue { $0.libraryVersion } }
        set { handle.identity.withLockedValue { $0.libraryVersion = newValue } }
    }
}

@available(*, unavailable)
extension Session: Sendable {}

/// How other connections act on a connection: the network layer implements it.
public protocol ConnectionControl: Sendable {
    /// The peer's address as `ip:port`, or `path:0` for the Unix socket (CLIENT LIST `addr`).
    var remoteAddress: String { get }
    /// The listening address as `ip:port` (CLIENT LIST `laddr`).
    var localAddress: String { get }
    /// Whether the peer is on the loopback interface or a Unix socket (protected mode lets only those in).
    var isLoopback: Bool { get }
    /// Whether the connection came through the Unix socket (CLIENT LIST flag `U`).
    var isUnixSocket: Bool { get }
    /// Closes the connection, from any thread; the close happens on the connection's own event loop.
    func close()
    /// Asks the connection to run its parked request again, from any thread (CLIENT UNPAUSE; later a push to a key
    /// a blocked client waits on).
    func wake()
}

// MARK: KV.WATCH

extension Session {
    /// Starts a watch of this connection (registered for live events at once; `Watcher.begin` sends it).
    func addWatcher(filter: WatchFilter, includePrevious: Bool, start: UInt64, hub: WatchHub) -> Watcher {
        lastWatchID += 1
        let watcher = Watcher(
            id: lastWatchID, filter: filter, database: database, includePrevious: includePrevious, start: start, hub: hub,
            store: engine.store, subscriber: subscriber, readerSlot: loop.readerSlot)
        watchers[watcher.id] = watcher
        hub.add(watcher)
        return watcher
    }

    func removeWatcher(_ id: Int) {
        guard let watcher = watchers.removeValue(forKey: id) else { return }
        let loop = watcher.eventLoop
        if loop.inEventLoop { watcher.stop() } else { loop.execute { watcher.stop() } }
    }

    var watcherIDs: [Int] { watchers.keys.sorted() }

    func removeAllWatchers() {
        for id in watcherIDs { removeWatcher(id) }
    }
}

// MARK: What the network layer reports

extension Session: CustomStringConvertible {
    /// The peer's address, for logs.
    public var description: String { handle.address }

    /// Counts bytes read from the connection (INFO `total_net_input_bytes`, `total_reads_processed`).
    public func countReceived(_ bytes: Int) {
        statistics.add(bytes, to: .netInputBytes)
        statistics.add(1, to: .readsProcessed)
    }

    /// Counts bytes handed to the socket (INFO `total_net_output_bytes`, `total_writes_processed`).
    public func countSent(_ bytes: Int) {
        statistics.add(bytes, to: .netOutputBytes)
        statistics.add(1, to: .writesProcessed)
    }

    /// Places a push delivered while one of this connection's own commands runs (it published to itself): where the
    /// command's reply has got to, as Redis does, or — while CLIENT REPLY drops replies — after the command, so the
    /// push is not dropped with them.
    /// - Returns: false when no command runs and the caller sends the push itself.
    public func holdPushDuringCommand(_ frame: ByteBuffer) -> Bool {
        guard isExecuting else { return false }
        if scriptCommand != nil {
            scriptCommand!.pushes.writeImmutableBuffer(frame)
        } else if replyMode == .on {
            reply.buffer.writeImmutableBuffer(frame)
        } else {
            pushesDuringCommand.writeImmutableBuffer(frame)
        }
        return true
    }

    /// The connection's protocol: its replies', except while a script's command writes its reply in the script's
    /// protocol (`redis.setresp`).
    public var protocolVersion: ProtocolVersion { scriptCommand?.callerVersion ?? reply.version }

    /// Publishes how many reply bytes wait for the socket (CLIENT LIST `omem`).
    public func setUnsentBytes(_ bytes: Int) {
        handle.outputBytes.store(bytes, ordering: .relaxed)
    }
}
