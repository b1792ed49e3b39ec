import KVStore
import NIOCore
import RESP

/// What a command sees while it runs: its arguments, the reply writer, the keyspace (when its table row asks for
/// it), keyspace notifications, and the connection's own state for the commands that manage it (MULTI, CLIENT,
/// SUBSCRIBE...). Anything else a family needs — the Pub/Sub hub, the snapshotter, the client registry — is given to
/// the family when the command table is built, never reached through a server object.
///
/// Made by the executor for one command and valid only while that command runs.
public struct CommandContext {
    /// The connection the command came from.
    let session: Session
    /// The keyspace of the executor's lease, when it holds one.
    let lease: Keyspace?
    let executor: Executor

    // MARK: Arguments

    /// The command's arguments, the name included.
    package var request: Request { session.request }

    /// Number of arguments, the command name included.
    package var argumentCount: Int { session.request.count }

    /// Argument `index` as a slice of the request (no copy).
    package func argument(_ index: Int) -> ByteBuffer { session.request[index] }

    /// Argument `index` decoded as UTF-8 text (for error messages and names, never for keys or values).
    package func argumentText(_ index: Int) -> String {
        session.request.withArgument(index) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether argument `index` equals `word`, ignoring ASCII case. `word` must be lower-case.
    package func argument(_ index: Int, is word: StaticString) -> Bool {
        session.request.withArgument(index) { bytes in
            guard bytes.count == word.utf8CodeUnitCount else { return false }
            let expected = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            for position in 0..<bytes.count where CommandTable.lowercase(bytes[position]) != expected[position] {
                return false
            }
            return true
        }
    }

    /// Argument `index` as a 64-bit integer, or Redis's "not an integer" error.
    package func integerArgument(_ index: Int, error: CommandError = .notInteger) throws(CommandError) -> Int {
        guard let value = session.request.withArgument(index, { RESPInteger.parse($0) }) else { throw error }
        return value
    }

    /// Argument `index` as a database number (SELECT, MOVE, COPY ... DB): `-ERR value is not an integer or out of
    /// range` unless it is an int, `-ERR DB index is out of range` unless it is below `databases`, as Redis says.
    package func databaseArgument(_ index: Int, notInteger: CommandError = .notInteger) throws(CommandError) -> UInt32 {
        guard let number = Int32(exactly: try integerArgument(index, error: notInteger)) else { throw notInteger }
        guard number >= 0, Int(number) < executor.engine.configuration.databases else {
            throw CommandError.dbIndexOutOfRange
        }
        return UInt32(number)
    }

    // MARK: Reply

    /// Where the command writes its reply.
    package var reply: ReplyWriter {
        get { session.reply }
        nonmutating _modify { yield &session.reply }
    }

    /// Writes an out-of-band frame (a Pub/Sub confirmation): in line with the replies, but kept when CLIENT REPLY
    /// drops them, as Redis keeps pushes.
    package func push(_ write: (inout ReplyWriter) -> Void) {
        if session.replyMode == .on { return write(&session.reply) }
        var writer = ReplyWriter(buffer: session.pushesDuringCommand, version: session.reply.version)
        session.pushesDuringCommand = ByteBuffer()  // one owner, so the writes below do not copy
        write(&writer)
        session.pushesDuringCommand = writer.buffer
    }

    // MARK: Keyspace

    /// The keyspace, for a command whose table row has the `keyspace` flag (the executor holds a lease for it).
    package var keyspace: Keyspace {
        guard let lease else { preconditionFailure("\(session.request) runs without the keyspace flag") }
        return lease
    }

    /// Reads one key for a single-key read command (flag `readsCommitted`): through the lease when the executor holds
    /// one (so the command sees its batch's pending writes, and a transaction stays isolated), otherwise from
    /// committed data without the lock, so reads on different event loops run in parallel.
    package func readKey<R>(
        _ index: Int, _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R
    ) throws -> R? {
        if let lease { return try lease.read(argument(index), body) }
        return try session.readCommitted(index, body)
    }

    /// Publishes a keyspace notification for a change this command just made. It goes out once the change is
    /// committed, after any event the keyspace itself reports for it (`new`, `expired`).
    package func notify(_ type: KeyspaceEventFlags, _ event: StaticString, key: ByteBuffer) {
        assert(lease != nil, "a notification is recorded under the lease of the change it reports")
        executor.engine.keyspaceEvents.notify(type, event, key: key, database: keyspace.selectedDatabase)
    }

    /// `notify` for a change in another database than the session's (MOVE's `move_to`, COPY ... DB's `copy_to`).
    package func notify(_ type: KeyspaceEventFlags, _ event: StaticString, key: ByteBuffer, database: UInt32) {
        assert(lease != nil, "a notification is recorded under the lease of the change it reports")
        executor.engine.keyspaceEvents.notify(type, event, key: key, database: database)
    }

    // MARK: Server

    /// The whole engine, for the families that report on or control the server as a whole (INFO, CONFIG, COMMAND,
    /// CLIENT, SHUTDOWN, snapshots). Data-type families never need it.
    var engine: Engine { executor.engine }

    // MARK: Connection

    /// Closes the connection once the replies so far are sent (QUIT, SHUTDOWN).
    package func closeAfterReply() {
        session.closeAfterReply = true
    }

    /// Ends the batch: the reply of this command comes from `future`, written in order when it completes, and the
    /// requests after it run then (SNAPSHOT, SAVE).
    package func replyLater(_ future: EventLoopFuture<DeferredReply>) {
        session.deferredReply = future
    }

    /// Makes this command wait until one of `keys` is changed by a commit, or `timeoutMilliseconds` pass (nil: no
    /// limit): the command must write no reply now; it runs again then, with `waitTimedOut` telling which. The
    /// deadline is set by the first wait and kept while the command waits again (BLPOP and friends; never inside
    /// MULTI, where a blocking command answers at once).
    package func wait(forKeys keys: [ByteBuffer], timeoutMilliseconds: Int64?) {
        precondition(!isInTransaction, "a command inside MULTI/EXEC answers at once instead of waiting")
        let deadline = session.keyWait?.deadline
            ?? timeoutMilliseconds.map { executor.engine.store.clock.milliseconds() &+ $0 }
        let database = session.database
        session.keyWait = KeyWait(keys: keys.map { DatabaseKey(database, ByteBuffer(buffer: $0)) }, deadline: deadline)
        session.waitRequested = true
    }

    /// Whether the command runs inside MULTI/EXEC (where a blocking command answers at once).
    package var isInTransaction: Bool { session.transaction != nil || session.isRunningTransaction }

    /// Whether this run of a waiting command comes after its deadline passed.
    package var waitTimedOut: Bool {
        guard let deadline = session.keyWait?.deadline else { return false }
        return executor.engine.store.clock.milliseconds() >= deadline
    }

    /// The event loop of the connection; work done elsewhere completes back on it.
    package var eventLoop: any EventLoop { session.eventLoop }

    /// Runs a command inside this one (EXEC's queue, a script's `redis.call`), with the same lease; call it within
    /// `runAsOneUnit`.
    func execute(_ spec: CommandSpec, request: Request) {
        session.request = request
        executor.execute(spec, session: session, lease: lease)
    }

    /// Runs `body`, which runs other commands through `execute(_:request:)` (EXEC, scripts), as one unit under this
    /// command's lease: no other client sees part of it; commits are deferred, so its writes reach LevelDB in one
    /// batch and share this command's revision; a blocking command inside answers at once. When it `mayWrite`, a
    /// command inside that commits as it goes (FLUSHDB) diverts lock-free readers to the lock meanwhile. This
    /// command's request is restored afterwards.
    func runAsOneUnit<R>(mayWrite: Bool, _ body: () throws -> R) rethrows -> R {
        let keyspace = self.keyspace
        let request = session.request
        let (wasDeferring, wasRunning) = (keyspace.defersCommits, session.isRunningTransaction)
        keyspace.defersCommits = true
        session.isRunningTransaction = true
        defer {
            keyspace.defersCommits = wasDeferring
            session.isRunningTransaction = wasRunning
            session.request = request
        }
        return mayWrite ? try keyspace.withMultiBatchWrite(body) : try body()
    }
}

/// Writes the reply of a command that completed off the event loop; see `CommandContext.replyLater`.
public typealias DeferredReply = @Sendable (inout ReplyWriter) -> Void
