import LevelDB
import NIOCore

/// Expiry through the time-ordered index (`'e' + expireAt + key`, written in the same batch as the record it
/// describes): the sweep that removes due keys nobody reads, the live key count, and expiry changes.
extension Keyspace {
    /// Removes up to `limit` keys whose expiry has passed, earliest first, telling the observer of each
    /// (`keyExpired`). Index entries that no longer match their record are dropped too.
    /// - Returns: the number of index entries handled; `limit` means more may be due.
    public func removeExpiredKeys(limit: Int) throws -> Int {
        var due: [(key: ByteBuffer, expireAt: Int64)] = []
        let iterator = database.makeIterator()
        iterator.seek([StorageLayout.expiryPrefix])
        while due.count < limit, iterator.isValid,
            let entry = StorageLayout.decodeExpiryKey(iterator.key), entry.expireAt <= now
        {
            due.append((ByteBuffer(bytes: entry.key), entry.expireAt))
            iterator.next()
        }
        try iterator.checkError()
        for (key, expireAt) in due {
            // A read removes the key (and its index entry) when its record is due.
            _ = try read(key) { _, _ in () }
            // Whatever the read found, this entry is spent: its key expired with it, or the record no longer
            // carries this time (it was rewritten in this batch), so the entry is dropped either way.
            key.withUnsafeReadableBytes { deleteExpiryEntry($0, expireAt: expireAt) }
        }
        return due.count
    }

    /// The number of keys that have not expired: `count` less the due keys the sweeper has not removed yet, so
    /// DBSIZE never counts an expired key. Costs one lookup per due key.
    public func liveCount() throws -> Int {
        var due = 0
        var lookup = ByteBuffer()
        let iterator = database.makeIterator()
        iterator.seek([StorageLayout.expiryPrefix])
        while iterator.isValid, let entry = StorageLayout.decodeExpiryKey(iterator.key), entry.expireAt <= now {
            lookup.clear()
            lookup.writeBytes(entry.key)
            // A key this batch rewrote or removed is already accounted for in `count`.
            if pending[lookup] == nil {
                StorageLayout.encodeUserKey(entry.key, into: &keyScratch)
                let stored = try keyScratch.withUnsafeReadableBytes { storageKey in
                    try database.withValue(forKey: storageKey) { RecordFormat.decode($0)?.expireAt }
                }
                if stored == entry.expireAt { due += 1 }
            }
            iterator.next()
        }
        try iterator.checkError()
        return count - due
    }

    /// Changes the expiry of a live key, keeping its value: `expireAt` 0 removes the expiry and a time that has
    /// passed deletes the key.
    /// - Returns: false when the key does not exist.
    @discardableResult
    public func updateExpiry(of key: ByteBuffer, to expireAt: Int64) throws -> Bool {
        guard let (value, previousExpiry) = try read(key, { value, expireAt in (ByteBuffer(bytes: value), expireAt) })
        else { return false }
        if previousExpiry != expireAt {
            try set(key, value: value, expireAt: expireAt, previousExpiry: previousExpiry)
        }
        return true
    }
}

extension Store {
    /// Removes every due key, `chunkSize` at a time, taking the lock for each chunk so commands keep flowing
    /// between chunks.
    /// - Returns: the number of expiry-index entries handled.
    @discardableResult
    public func removeExpiredKeys(chunkSize: Int = 512) throws -> Int {
        var total = 0
        while true {
            let handled = try withKeyspace { try $0.removeExpiredKeys(limit: chunkSize) }
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

    /// Sweeps until the task is cancelled. A failed pass is reported to `onError` and retried on the next one.
    public func run(onError: @Sendable (any Error) -> Void = { _ in }) async {
        while !Task.isCancelled {
            do { try store.removeExpiredKeys(chunkSize: chunkSize) } catch { onError(error) }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
