import LevelDB
import NIOCore
import Synchronization

/// The user keyspace, valid only while its `Store`'s lock is held.
///
/// Writes go into a pending `WriteBatch` and an overlay that later reads in the same batch consult first, so the
/// commands of one pipeline see each other's writes and reach LevelDB as one atomic write at `commit()`. Every read
/// hides keys whose expiry has passed, deleting them as it finds them.
public final class Keyspace {
    let database: Database
    /// Time, in Unix milliseconds, against which expiry is judged; fixed for the duration of a locked batch.
    public var now: Int64 = 0
    /// Number of keys, including expired keys not yet removed (`liveCount()` excludes them); persisted with every
    /// commit that changes it.
    public private(set) var count: Int
    private var committedCount: Int

    /// A write of this batch that LevelDB has not seen yet.
    enum PendingEntry {
        case record(value: ByteBuffer, expireAt: Int64)
        case deleted
    }

    /// The batch's writes by key: reads and iterations consult it before LevelDB.
    private(set) var pending = PendingWrites()
    let batch = WriteBatch()
    var keyScratch = ByteBuffer()
    private var recordScratch = ByteBuffer()

    /// Where the expiry index holds its first entry that may still be live: every entry before it has been swept.
    /// Seeking here rather than to the start of the index skips the deletion markers sweeps leave behind.
    var expiryIndexStart: [UInt8] = [StorageLayout.expiryPrefix]

    /// Lookups by `read` that found their key (INFO `keyspace_hits`) and that did not (`keyspace_misses`).
    public internal(set) var hits = 0
    public internal(set) var misses = 0
    /// Keys with an expiry and the sum of their expiry times, for INFO's `expires` and `avg_ttl`; persisted with
    /// every commit that changes them (see Keyspace+ExpiryStatistics.swift).
    public internal(set) var expiringKeys = 0
    var expireAtSum: Int128 = 0
    var committedExpiryStatistics: (count: Int, sum: Int128) = (0, 0)

    /// Told of every change, for WATCH and keyspace notifications. A strong reference: observers hold none back to
    /// the store, and a weak load on every write showed in profiles.
    public var observer: (any KeyspaceObserver)?

    /// Odd while one command writes in several LevelDB batches (FLUSHDB, PDEL, a transaction that contains one),
    /// bumped when it starts and when it ends: lock-free readers that see it odd, or changed across their read, read
    /// again under the lock instead of seeing the keyspace half changed.
    let multiBatchWrites = Atomic<UInt64>(0)

    /// Runs `body`, a command that commits in several batches, with lock-free reads diverted to the lock. Calls
    /// nest (FLUSHDB inside EXEC): only the outermost one counts. Only the lock holder calls it.
    public func withMultiBatchWrite<R>(_ body: () throws -> R) rethrows -> R {
        let outermost = multiBatchWrites.load(ordering: .relaxed) & 1 == 0
        if outermost { multiBatchWrites.wrappingAdd(1, ordering: .sequentiallyConsistent) }
        defer { if outermost { multiBatchWrites.wrappingAdd(1, ordering: .sequentiallyConsistent) } }
        return try body()
    }

    /// While set, `commitIfLarge()` commits nothing: EXEC sets it so a transaction reaches LevelDB in one batch.
    public var defersCommits = false

    /// Largest number of pending writes before `commitIfLarge()` writes them out.
    public var maximumPendingWrites = 1024

    init(database: Database) throws {
        self.database = database
        if let stored = try database.get(StorageLayout.keyCountKey), stored.count == 8 {
            count = Int(stored.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        } else {
            count = 0
        }
        committedCount = count
        try loadExpiryStatistics()
        if try database.get(StorageLayout.formatKey) == nil {
            try database.put(StorageLayout.formatKey, [StorageLayout.formatVersion])
        }
    }

    // MARK: Reads

    /// Reads a live key's value and expiry (0 when none) and hands them to `body`, counting a keyspace hit or miss.
    /// - Returns: `body`'s result, or nil when the key does not exist or has expired.
    public func read<R>(_ key: ByteBuffer, _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R) throws -> R? {
        let result = try lookup(key, body)
        if result == nil { misses += 1 } else { hits += 1 }
        return result
    }

    /// `read` without counting a hit or miss: the lookup a command makes to update a key, as Redis's
    /// `lookupKeyWrite` (INCR, APPEND, RENAME...).
    public func readForWrite<R>(_ key: ByteBuffer, _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R) throws -> R? {
        try lookup(key, body)
    }

    /// The lookup behind `read` and `readForWrite`.
    func lookup<R>(_ key: ByteBuffer, _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R) throws -> R? {
        if !pending.isEmpty, let entry = pending[key] {
            switch entry {
            case .deleted: return nil
            case .record(let value, let expireAt):
                if expireAt > 0 && expireAt <= now {
                    try expire(key, at: expireAt)
                    return nil
                }
                return try value.withUnsafeReadableBytes { try body($0, expireAt) }
            }
        }
        var expiredAt: Int64 = 0
        let result: R?? = try key.withUnsafeReadableBytes { keyBytes in
            StorageLayout.encodeUserKey(keyBytes, into: &keyScratch)
            return try keyScratch.withUnsafeReadableBytes { storageKey in
                try database.withValue(forKey: storageKey) { record -> R? in
                    guard let (expireAt, value) = RecordFormat.decode(record) else { return nil }
                    if expireAt > 0 && expireAt <= now {
                        expiredAt = expireAt
                        return nil
                    }
                    return try body(value, expireAt)
                }
            }
        }
        if expiredAt > 0 { try expire(key, at: expiredAt) }
        return result ?? nil
    }

    /// Whether `key` exists and has not expired.
    public func exists(_ key: ByteBuffer) throws -> Bool {
        try read(key) { _, _ in true } ?? false
    }

    /// The expiry of a live key (0 when it has none), or nil when the key does not exist. Not counted as a hit or
    /// miss.
    public func expiry(of key: ByteBuffer) throws -> Int64? {
        try lookup(key) { _, expireAt in expireAt }
    }

    // MARK: Writes

    /// Stores `value` under `key` with an expiry (`expireAt` in Unix ms, 0 for none).
    /// - Returns: whether the key existed before.
    @discardableResult
    public func set(_ key: ByteBuffer, value: ByteBuffer, expireAt: Int64 = 0) throws -> Bool {
        let previousExpiry = try expiry(of: key)
        try set(key, value: value, expireAt: expireAt, previousExpiry: previousExpiry)
        return previousExpiry != nil
    }

    /// Stores `value` under `key` when the caller already knows the key's current expiry (nil = missing), saving a
    /// lookup.
    public func set(_ key: ByteBuffer, value: ByteBuffer, expireAt: Int64, previousExpiry: Int64?) throws {
        if expireAt > 0 && expireAt <= now {
            // Setting an expiry in the past is a delete, as in Redis.
            if let previousExpiry {
                try remove(key, previousExpiry: previousExpiry)
                observer?.keyModified(key)
            }
            return
        }
        key.withUnsafeReadableBytes { keyBytes in
            value.withUnsafeReadableBytes { valueBytes in
                StorageLayout.encodeUserKey(keyBytes, into: &keyScratch)
                RecordFormat.encode(value: valueBytes, expireAt: expireAt, into: &recordScratch)
                keyScratch.withUnsafeReadableBytes { k in
                    recordScratch.withUnsafeReadableBytes { batch.put(key: k, value: $0) }
                }
                if let previousExpiry, previousExpiry > 0, previousExpiry != expireAt {
                    deleteExpiryEntry(keyBytes, expireAt: previousExpiry)
                }
                if expireAt > 0 && previousExpiry != expireAt {
                    StorageLayout.encodeExpiryKey(keyBytes, expireAt: expireAt, into: &keyScratch)
                    keyScratch.withUnsafeReadableBytes { batch.put(key: $0, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
                }
            }
        }
        pending[key] = .record(value: value, expireAt: expireAt)
        trackExpiry(from: previousExpiry ?? 0, to: expireAt)
        if previousExpiry == nil {
            count += 1
            observer?.keyCreated(key)
        }
        observer?.keyModified(key)
    }

    /// Deletes `key`.
    /// - Returns: whether it existed (and had not expired).
    @discardableResult
    public func delete(_ key: ByteBuffer) throws -> Bool {
        guard let previousExpiry = try expiry(of: key) else { return false }
        try remove(key, previousExpiry: previousExpiry)
        observer?.keyModified(key)
        return true
    }

    /// Removes every key, and the expiry index with them.
    public func removeAll() throws {
        let removedKeys = count
        try withMultiBatchWrite { try removeAllInBatches() }
        // Drop the deletion markers now: until a compaction does, every seek into these ranges steps over them.
        database.compactRange(start: [StorageLayout.expiryPrefix], end: [StorageLayout.keyPrefix + 1])
        observer?.keyspaceCleared(removedKeys: removedKeys)
    }

    private func removeAllInBatches() throws {
        try commit()
        let iterator = database.makeIterator()
        for prefix in [StorageLayout.keyPrefix, StorageLayout.expiryPrefix] {
            iterator.seek([prefix])
            while iterator.isValid, iterator.key.first == prefix {
                batch.delete(key: iterator.key)
                if batch.count >= 10_000 {
                    try database.write(batch)
                    wroteSinceAcquire = true
                    batch.clear()
                }
                iterator.next()
            }
        }
        try iterator.checkError()
        count = 0
        clearExpiryStatistics()
        try commit()
        expiryIndexStart = [StorageLayout.expiryPrefix]
    }

    private func remove(_ key: ByteBuffer, previousExpiry: Int64) throws {
        key.withUnsafeReadableBytes { keyBytes in
            StorageLayout.encodeUserKey(keyBytes, into: &keyScratch)
            keyScratch.withUnsafeReadableBytes { batch.delete(key: $0) }
            if previousExpiry > 0 { deleteExpiryEntry(keyBytes, expireAt: previousExpiry) }
        }
        pending[key] = .deleted
        trackExpiry(from: previousExpiry, to: 0)
        count -= 1
    }

    /// Deletes a key found expired by a read.
    func expire(_ key: ByteBuffer, at expireAt: Int64) throws {
        try remove(key, previousExpiry: expireAt)
        observer?.keyExpired(key)
    }

    func deleteExpiryEntry(_ key: UnsafeRawBufferPointer, expireAt: Int64) {
        StorageLayout.encodeExpiryKey(key, expireAt: expireAt, into: &keyScratch)
        keyScratch.withUnsafeReadableBytes { batch.delete(key: $0) }
    }

    // MARK: Commit

    /// Number of writes waiting for `commit()`.
    public var pendingWrites: Int { batch.count }

    /// Whether anything reached LevelDB since the lock was taken, by any commit (including `commitIfLarge` between
    /// commands), so the holder knows a `high` durability fsync is due.
    var wroteSinceAcquire = false

    /// Writes every pending change to LevelDB as one atomic batch.
    /// - Returns: whether anything was written.
    @discardableResult
    public func commit() throws -> Bool {
        if count != committedCount {
            // Big-endian, written without allocating (this runs on every commit that adds or removes keys).
            withUnsafeBytes(of: UInt64(count).bigEndian) { encoded in
                StorageLayout.keyCountKey.withUnsafeBytes { batch.put(key: $0, value: encoded) }
            }
            committedCount = count
        }
        persistExpiryStatisticsIfChanged()
        guard batch.count > 0 else { return false }
        defer {
            batch.clear()
            pending.removeAll()
        }
        try database.write(batch)
        wroteSinceAcquire = true
        return true
    }

    /// Commits when enough writes are pending; call between commands so one huge pipeline does not build an
    /// unbounded batch.
    public func commitIfLarge() throws {
        if batch.count >= maximumPendingWrites && !defersCommits { try commit() }
    }
}

@available(*, unavailable)
extension Keyspace: Sendable {}
