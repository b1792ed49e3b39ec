import KVStore
import NIOCore
import RESP

/// The commands queued between MULTI and EXEC.
struct TransactionQueue {
    /// Queued commands with a private copy of their arguments (the read buffer is reused meanwhile).
    private(set) var commands: [(spec: CommandSpec, request: Request)] = []
    /// Set when a command was refused while queuing: EXEC then replies EXECABORT.
    var failed = false
    /// Whether a queued command writes (a CLIENT PAUSE WRITE postpones such an EXEC).
    private(set) var containsWrites = false
    /// Bytes held by the queued requests, bounded by `client-query-buffer-limit`.
    private(set) var queuedBytes = 0

    mutating func append(_ spec: CommandSpec, request: Request) {
        // Copy just this request's bytes: its frame is a slice of the connection's read buffer.
        var frame = ByteBufferAllocator().buffer(capacity: request.frame.readableBytes)
        frame.writeImmutableBuffer(request.frame)
        commands.append((spec, Request(frame: frame, spans: Array(request.spans))))
        queuedBytes += frame.readableBytes + request.spans.count * MemoryLayout<ArgumentSpan>.stride
        if spec.flags.contains(.write) { containsWrites = true }
    }
}

/// The keys a client WATCHes and the token other clients mark dirty when they change one.
struct ClientWatch {
    private var keys: [DatabaseKey: WatchedKey] = [:]
    private(set) var token = WatchToken()

    var isEmpty: Bool { keys.isEmpty }
    var count: Int { keys.count }

    func contains(_ key: ByteBuffer, database: UInt32) -> Bool { keys[DatabaseKey(database, key)] != nil }

    /// Starts watching `key` of `database`. The caller holds a lease.
    mutating func add(_ key: ByteBuffer, database: UInt32, existed: Bool, expireAt: Int64, registry: WatchRegistry) {
        // A private copy: the argument is a slice of the read buffer.
        let copy = DatabaseKey(database, ByteBufferAllocator().buffer(buffer: key))
        keys[copy] = WatchedKey(key: copy, existed: existed, expireAt: expireAt)
        registry.watch(copy, existed: existed, by: token)
    }

    /// Whether EXEC must fail: a watched key was changed, or has expired since WATCH (an expired key counts as
    /// changed even before anything deletes it, as in Redis).
    func isDirty(now: Int64) -> Bool {
        token.isDirty || keys.values.contains { $0.existed && RecordFormat.hasExpired($0.expireAt, at: now) }
    }

    /// Forgets every watched key.
    mutating func removeAll(registry: WatchRegistry) {
        guard !keys.isEmpty else { return }
        registry.unwatch(keys.values, by: token)
        keys.removeAll()
        token = WatchToken()
    }
}
