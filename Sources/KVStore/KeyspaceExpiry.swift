import LevelDB
import NIOCore

/// Expiry through the time-ordered index (`'e' + expireAt + key`, written in the same batch as the record it
/// describes): the sweep that removes due keys nobody reads, the live key count, and expiry changes.
extension Keyspace {
    /// Removes up to `limit` keys whose expiry has passed, earliest first, telling the observer of each
    /// (`keyExpired`). Index entries that no longer match their record are dropped too.
    ///
    /// The walk starts where the previous one stopped, so a backlog of a million due keys costs one pass, not a
    /// pass per chunk over the deletion markers of the chunks before. A new entry always sorts after that point
    /// (its time is later than any the sweep has seen), unless the wall clock stepped back: `fromStart` walks the
    /// whole index again and the sweeper asks for it now and then.
    /// - Returns: the number of index entries handled; `limit` means more may be due.
    public func removeExpiredKeys(limit: Int, fromStart: Bool = false) throws -> Int {
        assertLeased()
        if fromStart {
            expiryIndexStart = [StorageLayout.expiryPrefix]
            numberedExpiryIndexStart = [DatabaseLayout.expiryPrefix]
        }
        // Database 0's index (`e`), then that of the other databases (`f`): both in time order.
        var due: [(database: UInt32, key: ByteBuffer, expireAt: Int64)] = []
        try collectDue(from: &expiryIndexStart, into: &due, limit: limit)
        try collectDue(from: &numberedExpiryIndexStart, into: &due, limit: limit)
        guard !due.isEmpty else { return 0 }
        let selected = selectedDatabase
        defer { select(selected) }
        for (storage, key, expireAt) in due {
            selectStorage(storage)
            // A read removes the key (and its index entry) when its record is due.
            _ = try lookupRecord(key) { _, _, _ in () }
            // Whatever the read found, this entry is spent: its key expired with it, or the record no longer
            // carries this time (it was rewritten in this batch), so the entry is dropped either way.
            key.withUnsafeReadableBytes { deleteExpiryEntry($0, expireAt: expireAt) }
        }
        return due.count
    }

    /// Appends the due entries of the expiry index that starts at `start` (`e` or `f`) until `due` holds `limit`,
    /// and moves `start` past them.
    private func collectDue(
        from start: inout [UInt8], into due: inout [(database: UInt32, key: ByteBuffer, expireAt: Int64)], limit: Int
    ) throws {
        guard due.count < limit, let namespace = start.first else { return }
        let iterator = database.makeIterator()
        iterator.seek(start)
        var resumeAt: [UInt8]?
        while due.count < limit, iterator.isValid, iterator.key.first == namespace,
            let entry = DatabaseLayout.decodeExpiryKey(iterator.key), RecordFormat.hasExpired(entry.expireAt, at: now)
        {
            due.append((entry.database, ByteBuffer(bytes: entry.key), entry.expireAt))
            resumeAt = Array(iterator.key)
            iterator.next()
        }
        try iterator.checkError()
        if let resumeAt { start = resumeAt + [0] }
    }

    /// The number of keys of the selected database that have not expired: its count less the due keys the sweeper
    /// has not removed yet, so DBSIZE never counts an expired key. Costs one lookup per due key not yet swept.
    public func liveCount() throws -> Int {
        assertLeased()
        var due = 0
        var lookup = ByteBuffer()
        let iterator = database.makeIterator()
        let namespace = storageDatabase == 0 ? StorageLayout.expiryPrefix : DatabaseLayout.expiryPrefix
        iterator.seek(storageDatabase == 0 ? expiryIndexStart : numberedExpiryIndexStart)
        while iterator.isValid, iterator.key.first == namespace, let entry = DatabaseLayout.decodeExpiryKey(iterator.key),
            RecordFormat.hasExpired(entry.expireAt, at: now)
        {
            lookup.clear()
            lookup.writeBytes(entry.key)
            // A key this batch rewrote or removed is already accounted for in the count.
            if entry.database == storageDatabase, pending[lookup, storageDatabase] == nil {
                DatabaseLayout.encodeUserKey(entry.key, database: storageDatabase, into: &keyScratch)
                let stored = try keyScratch.withUnsafeReadableBytes { storageKey in
                    try database.withValue(forKey: storageKey) { RecordFormat.decode($0)?.expireAt }
                }
                if stored == entry.expireAt { due += 1 }
            }
            iterator.next()
        }
        try iterator.checkError()
        return storedCount - due
    }

    /// Changes the expiry of a live key of any type, keeping its value: `expireAt` 0 removes the expiry and a time
    /// that has passed deletes the key. A string is rewritten (logged as `set`); a collection's record alone is
    /// (logged as `pexpireat` or `persist`), whatever its size.
    /// - Returns: false when the key does not exist.
    @discardableResult
    public func updateExpiry(of key: ByteBuffer, to expireAt: Int64) throws -> Bool {
        let found = try lookupRecord(key) { type, value, expireAt in (type, ByteBuffer(bytes: value), expireAt) }
        guard let (type, value, previousExpiry) = found else { return false }
        guard previousExpiry != expireAt else { return true }
        if type.isCollection {
            guard var collection = try collectionForWrite(key, type) else { return false }
            collection.expireAt = expireAt
            try save(&collection)
        } else {
            try set(
                key, value: value, expireAt: expireAt, previousExpiry: previousExpiry,
                rawEncoding: try hasRawEncoding(key))
        }
        return true
    }
}

extension Store {
    /// Removes every due key, `chunkSize` at a time, taking the lock for each chunk so commands keep flowing
    /// between chunks.
    /// - Returns: the number of expiry-index entries handled.
    /// - Parameter fromStart: walk the whole expiry index rather than from where the last sweep stopped.
    @discardableResult
    public func removeExpiredKeys(chunkSize: Int = 512, fromStart: Bool = false) throws -> Int {
        var total = 0
        var restart = fromStart
        while true {
            let handled = try withKeyspace { try $0.removeExpiredKeys(limit: chunkSize, fromStart: restart) }
            restart = false
            total += handled
            if handled < chunkSize { return total }
        }
    }
}

/// The background sweeper: every `interval` it removes the keys whose expiry has passed, so expired data leaves
/// LevelDB (and DBSIZE) without anyone reading it. Its first pass runs at once, removing keys that expired while
/// the server was down.
public struct ExpirySweeper: Sendable {
    public let store: Store
    /// Pause between passes.
    public var interval: Duration
    /// Keys removed per lock acquisition.
    public var chunkSize: Int

    public init(store: Store, interval: Duration = .milliseconds(100), chunkSize: Int = 512) {
        self.store = store
        self.interval = interval
        self.chunkSize = chunkSize
    }

    /// Every this many passes, one walks the whole expiry index (see `Keyspace.removeExpiredKeys`).
    public var passesBetweenFullWalks = 100

    /// Sweeps until the task is cancelled. A failed pass is reported to `onError` and retried on the next one.
    public func run(onError: @Sendable (any Error) -> Void = { _ in }) async {
        var pass = 0
        while !Task.isCancelled {
            let fromStart = pass % max(passesBetweenFullWalks, 1) == 0
            do { try store.removeExpiredKeys(chunkSize: chunkSize, fromStart: fromStart) } catch { onError(error) }
            pass += 1
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
