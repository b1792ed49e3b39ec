import LevelDB
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The database: one LevelDB and the one lock that makes every command atomic.
///
/// Commands from every event loop run against the `Keyspace` while holding `lock`, so each command (and each
/// transaction) sees and leaves a consistent state, as Redis's single thread guarantees. A connection takes the lock
/// once per read batch, not once per command, which keeps pipelines cheap.
public final class Store: @unchecked Sendable {
    /// The LevelDB database under the keyspace.
    public let database: Database
    /// The durability the server was started with.
    public let durability: Durability
    private let lock = NIOLock()
    private let keyspace: Keyspace
    /// Set when a commit has written data that has not been fsynced yet.
    private let unsynced = Atomic<Bool>(false)

    /// Opens (or creates) the store in `directory`.
    /// - Throws: `LevelDBError` when LevelDB cannot open the directory, for example because another process holds it.
    public init(directory: String, durability: Durability, options: Options = Options()) throws {
        database = try Database(path: directory, options: options)
        self.durability = durability
        keyspace = try Keyspace(database: database)
    }

    /// Told of changes the store makes by itself (expiry) and of every change, for WATCH and notifications.
    public var observer: (any KeyspaceObserver)? {
        get { lock.withLock { keyspace.observer } }
        set { lock.withLock { keyspace.observer = newValue } }
    }

    /// Takes the lock and returns the keyspace. Pair every call with `release()`; the batch executor does so once per
    /// read so a pipeline pays for one lock round trip.
    public func acquire() -> Keyspace {
        lock.lock()
        keyspace.now = WallClock.milliseconds()
        return keyspace
    }

    /// Commits what the holder wrote and releases the lock.
    /// - Returns: whether anything was written, so the caller knows whether a `high` durability sync is due.
    @discardableResult
    public func release() throws -> Bool {
        defer {
            keyspace.wroteSinceAcquire = false
            lock.unlock()
        }
        try keyspace.commit()
        let wrote = keyspace.wroteSinceAcquire
        if wrote { unsynced.store(true, ordering: .relaxed) }
        return wrote
    }

    /// Reads a live key's committed value without taking the lock, for a single-key read by a connection that holds no
    /// pending writes of its own.
    ///
    /// This is still atomic: LevelDB makes a whole `WriteBatch` visible at once, and a writer's reply goes out only
    /// after its commit, so the read sees every acknowledged write and no half of any batch. An expired key is reported
    /// missing and left for the sweeper to delete (removing it here would be a write).
    ///
    /// A write made of several batches (FLUSHDB, PDEL, a transaction that contains one) is a seqlock: when one ran at
    /// any moment of the read, the value is not used and the read is made again under the lock. Keyspace hits and
    /// misses are the caller's to count.
    /// - Parameter scratch: the caller's own buffer for the LevelDB key, so concurrent readers share nothing.
    /// - Returns: `body`'s result, or nil when the key does not exist or has expired.
    public func readCommitted<R>(
        _ key: UnsafeRawBufferPointer, scratch: inout ByteBuffer,
        _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R
    ) throws -> R? {
        let generation = keyspace.multiBatchWrites.load(ordering: .sequentiallyConsistent)
        func underLock() throws -> R? { try withKeyspace { try $0.lookup(ByteBuffer(bytes: key), body) } }
        if generation & 1 == 1 { return try underLock() }
        var changed = false
        StorageLayout.encodeUserKey(key, into: &scratch)
        let result: R?? = try scratch.withUnsafeReadableBytes { storageKey in
            try database.withValue(forKey: storageKey) { record -> R? in
                // Checked before `body` sees the value, as `body` writes the reply.
                guard keyspace.multiBatchWrites.load(ordering: .sequentiallyConsistent) == generation else {
                    changed = true
                    return nil
                }
                guard let (expireAt, value) = RecordFormat.decode(record) else { return nil }
                if expireAt > 0 && expireAt <= WallClock.milliseconds() { return nil }
                return try body(value, expireAt)
            }
        }
        if result == nil {  // not found: was it removed by a write still in progress?
            changed = keyspace.multiBatchWrites.load(ordering: .sequentiallyConsistent) != generation
        }
        return changed ? try underLock() : result ?? nil
    }

    /// Runs `body` with exclusive access to the keyspace and commits its writes.
    public func withKeyspace<R>(_ body: (Keyspace) throws -> R) throws -> R {
        let keyspace = acquire()
        var result: R
        do {
            result = try body(keyspace)
        } catch {
            _ = try? release()
            throw error
        }
        try release()
        return result
    }

    /// Commits nothing new but makes everything written so far durable, then closes LevelDB. The store must not be
    /// used afterwards.
    public func close() throws {
        lock.lock()
        defer { lock.unlock() }
        try keyspace.commit()
        try database.sync()
        // LevelDB does not write its memtable out on close, so the next start would replay the whole write-ahead
        // log; compacting an empty range flushes the memtable first, moving that cost to shutdown.
        database.compactRange(start: [0], end: [0])
        database.close()
    }

    /// Fsyncs LevelDB's write-ahead log: every write committed before this call is on disk when it returns.
    public func sync() throws {
        unsynced.store(false, ordering: .relaxed)
        try database.sync()
    }

    /// Fsyncs the write-ahead log if anything was written since the last sync.
    public func syncIfNeeded() throws {
        if unsynced.load(ordering: .relaxed) { try sync() }
    }
}
