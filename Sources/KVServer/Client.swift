import KVStore
import NIOCore
import RESP
import Synchronization
import NIOConcurrencyHelpers

/// One connection's state, and the context every command runs in: the current request, the reply buffer and the
/// keyspace. Owned by the connection's handler and used only on its event loop.
public final class Client {
    /// The server this client is connected to.
    let server: ServerState
    /// What other connections see of this one (CLIENT LIST, CLIENT KILL, CLIENT PAUSE wake-ups).
    let handle: ClientHandle
    /// The statistics of this connection's event loop.
    let statistics: StatisticsShard
    /// The event loop the connection runs on; work done elsewhere completes back on it.
    let eventLoop: any EventLoop
    /// Unique id (CLIENT ID).
    var id: Int { handle.id }
    /// Remote address as `ip:port`.
    var address: String { handle.address }
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

    /// The command being run.
    var request: Request
    /// Replies to send at the end of the read batch.
    var reply: ReplyWriter
    /// Set by QUIT, SHUTDOWN and protocol errors: close once the replies are flushed.
    var closeAfterReply = false
    /// MULTI's queue; nil outside a transaction.
    var transaction: TransactionQueue? {
        didSet { handle.queuedCommands.store(transaction?.commands.count ?? -1, ordering: .relaxed) }
    }
    /// The keys this client WATCHes.
    var watch = ClientWatch()
    /// CLIENT REPLY's mode.
    var replyMode = ReplyMode.on
    /// Monotonic nanoseconds when the next command's timing starts (the previous command's end, so each command
    /// costs one clock read; see `execute`).
    var commandClock: UInt64 = 0
    /// Set by a command whose reply is produced off the event loop (SNAPSHOT, SAVE). The connection runs nothing
    /// more until it completes, then writes the reply in order and goes on with the requests that came meanwhile.
    /// A failure is written as an error reply.
    var deferredReply: EventLoopFuture<DeferredReply>?

    /// Pub/Sub subscriptions; channel names are copied out of the request so they do not pin its buffer.
    var channelSubscriptions = Set<ByteBuffer>()
    var patternSubscriptions = Set<ByteBuffer>()
    var shardSubscriptions = Set<ByteBuffer>()
    /// This connection's mailbox for Pub/Sub messages.
    var subscriber: Subscriber!

    /// Whether the client is subscribed to anything (in RESP2 this restricts the commands it may send).
    var isSubscribed: Bool {
        !channelSubscriptions.isEmpty || !patternSubscriptions.isEmpty || !shardSubscriptions.isEmpty
    }

    private var heldKeyspace: Keyspace?

    init(
        server: ServerState, eventLoop: any EventLoop, handle: ClientHandle, statistics: StatisticsShard,
        allocator: ByteBufferAllocator
    ) {
        self.server = server
        self.eventLoop = eventLoop
        self.handle = handle
        self.statistics = statistics
        self.request = Request(frame: ByteBuffer(), spans: [])
        self.reply = ReplyWriter(buffer: allocator.buffer(capacity: 4096))
    }

    // MARK: Keyspace access

    /// The keyspace, taking the store's lock on first use in a batch; the lock is held until `endBatch()`.
    var keyspace: Keyspace {
        if let heldKeyspace { return heldKeyspace }
        let keyspace = server.store.acquire()
        heldKeyspace = keyspace
        return keyspace
    }

    /// Scratch space for LevelDB keys of lock-free reads.
    private var readScratch = ByteBuffer()

    /// Reads one key for a single-key read command: through the keyspace when this client holds the lock (so it sees
    /// its own pending writes, and a transaction stays isolated), otherwise from committed data without the lock, so
    /// reads on different event loops run in parallel.
    func readKey<R>(_ index: Int, _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R) throws -> R? {
        if let heldKeyspace { return try heldKeyspace.read(argument(index), body) }
        let result = try request.withArgument(index) { key in
            try server.store.readCommitted(key, scratch: &readScratch, body)
        }
        statistics.add(1, to: result == nil ? .keyspaceMisses : .keyspaceHits)  // the keyspace counts the others
        return result
    }

    /// Called between commands: bounds the pending write batch of a long pipeline.
    func commandFinished() throws {
        guard let heldKeyspace else { return }
        let pending = heldKeyspace.pendingWrites
        try heldKeyspace.commitIfLarge()
        if heldKeyspace.pendingWrites < pending { commandClock = MonotonicClock.nanoseconds() }  // no command's time
    }

    /// Commits the batch's writes and releases the lock.
    /// - Returns: whether anything was written.
    func endBatch() throws -> Bool {
        guard heldKeyspace != nil else { return false }
        heldKeyspace = nil
        return try server.store.release()
    }

    /// Publishes a keyspace notification for a change this command just applied (while holding the store lock).
    func notify(_ type: KeyspaceEventFlags, _ event: StaticString, key: ByteBuffer) {
        server.notifier.notify(type, event, key: key)
    }

    // MARK: Argument helpers

    /// Number of arguments of the current request, the command name included.
    var argumentCount: Int { request.count }

    /// Argument `index` as a slice of the request (no copy).
    func argument(_ index: Int) -> ByteBuffer { request[index] }

    /// Argument `index` decoded as UTF-8 text (for error messages and names, never for keys or values).
    func argumentText(_ index: Int) -> String {
        request.withArgument(index) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether argument `index` equals `word`, ignoring ASCII case. `word` must be lower-case.
    func argument(_ index: Int, is word: StaticString) -> Bool {
        request.withArgument(index) { bytes in
            guard bytes.count == word.utf8CodeUnitCount else { return false }
            let expected = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            for position in 0..<bytes.count where CommandTable.lowercase(bytes[position]) != expected[position] {
                return false
            }
            return true
        }
    }

    /// Argument `index` as a 64-bit integer, or Redis's "not an integer" error.
    func integerArgument(_ index: Int, error: CommandError = .notInteger) throws(CommandError) -> Int {
        guard let value = request.withArgument(index, { RESPInteger.parse($0) }) else { throw error }
        return value
    }
}

@available(*, unavailable)
extension Client: Sendable {}

/// Writes the reply of a command that completed off the event loop; see `Client.deferredReply`.
typealias DeferredReply = @Sendable (inout ReplyWriter) -> Void
