import LevelDB
import NIOCore
import Synchronization

/// The key count and expiry statistics of one storage database 1 and up (database 0 keeps `Keyspace.count`,
/// `expiringKeys` and `expireAtSum`, persisted where they always were).
struct DatabaseCounters: Equatable {
    var keys = 0
    var expiringKeys = 0
    var expireAtSum: Int128 = 0
}

/// Numbered databases (SELECT, MOVE, SWAPDB, FLUSHALL): which database the keyspace's calls act on, and the counters
/// of databases 1 and up. Database 0 is selected unless the engine says otherwise, and every call for it encodes
/// what it encoded before numbered databases existed; another database only costs a branch where a key is encoded
/// or counted.
extension Keyspace {
    // MARK: Selection

    /// Makes logical database `logical` the one the following calls act on (the engine calls it with the session's
    /// database before every command). Cheap enough for every command: no allocation, a lookup in the SWAPDB table
    /// only while one is in effect.
    @inline(__always)
    public func select(_ logical: UInt32) {
        let storage = databaseMap.storage(of: logical)
        if storage != storageDatabase {
            lastLookup = nil
            storageDatabase = storage
        }
        selectedDatabase = logical
    }

    /// Selects the logical database whose keys storage database `storage` holds (the sweeper finds keys by storage).
    func selectStorage(_ storage: UInt32) {
        select(databaseMap.logical(of: storage))
    }

    /// Runs `body` with logical database `logical` selected, then selects the one selected before.
    public func withDatabase<R>(_ logical: UInt32, _ body: () throws -> R) rethrows -> R {
        let previous = selectedDatabase
        select(logical)
        defer { select(previous) }
        return try body()
    }

    // MARK: Counters

    /// The selected database's key count, expired keys not yet removed included.
    var storedCount: Int {
        storageDatabase == 0 ? count : numberedCounters[storageDatabase]?.keys ?? 0
    }

    func countNumberedKeys(_ delta: Int) {
        numberedCounters[storageDatabase, default: DatabaseCounters()].keys += delta
        numberedStateChanged = true
    }

    func trackNumberedExpiry(from old: Int64, to new: Int64) {
        var counters = numberedCounters[storageDatabase, default: DatabaseCounters()]
        if old > 0 {
            counters.expiringKeys -= 1
            counters.expireAtSum -= Int128(old)
        }
        if new > 0 {
            counters.expiringKeys += 1
            counters.expireAtSum += Int128(new)
        }
        numberedCounters[storageDatabase] = counters
        numberedStateChanged = true
    }

    /// Logical database `logical`'s keys (expired ones not yet removed included), keys with an expiry, and their
    /// average remaining time to live in milliseconds: INFO keyspace's `dbN:keys=..,expires=..,avg_ttl=..`.
    public func statistics(ofDatabase logical: UInt32) -> (keys: Int, expires: Int, averageTTL: Int64) {
        let storage = databaseMap.storage(of: logical)
        if storage == 0 { return (count, expiringKeys, averageTTL) }
        let counters = numberedCounters[storage] ?? DatabaseCounters()
        return (
            counters.keys, counters.expiringKeys,
            Self.averageTTL(sum: counters.expireAtSum, count: counters.expiringKeys, now: now)
        )
    }

    /// The logical databases holding keys (expired ones not yet removed count), ascending.
    public var databasesWithKeys: [UInt32] {
        var storages = numberedCounters.filter { $0.value.keys > 0 }.map(\.key)
        if count > 0 { storages.append(0) }
        return storages.map { databaseMap.logical(of: $0) }.sorted()
    }

    // MARK: Persistence

    /// Stages the changed counters of databases 1 and up (`m` + `keys` + db, `m` + `expires` + db) and the SWAPDB
    /// table (`m` + `dbmap`); an empty database's counters and an identity table are deleted, not written.
    func stageNumberedState() {
        for (storage, counters) in numberedCounters where committedNumberedCounters[storage] != counters {
            let countKey = DatabaseLayout.keyCountKey(database: storage)
            let statisticsKey = DatabaseLayout.expiryStatisticsKey(database: storage)
            guard counters != DatabaseCounters() else {
                batch.delete(countKey)
                batch.delete(statisticsKey)
                continue
            }
            batch.put(countKey, DatabaseLayout.bigEndian64(UInt64(counters.keys)))
            batch.put(
                statisticsKey,
                DatabaseLayout.bigEndian64(UInt64(counters.expiringKeys))
                    + DatabaseLayout.bigEndian128(UInt128(bitPattern: counters.expireAtSum)))
        }
        if databaseMap != committedDatabaseMap {
            let encoded = databaseMap.encoded
            if encoded.isEmpty { batch.delete(DatabaseLayout.mapKey) } else { batch.put(DatabaseLayout.mapKey, encoded) }
        }
    }

    func numberedStateCommitted() {
        numberedCounters = numberedCounters.filter { $0.value != DatabaseCounters() }
        committedNumberedCounters = numberedCounters
        committedDatabaseMap = databaseMap
        databasesSwapped.store(!databaseMap.isIdentity, ordering: .sequentiallyConsistent)
        numberedStateChanged = false
    }

    func numberedStateDiscarded() {
        numberedCounters = committedNumberedCounters
        databaseMap = committedDatabaseMap
        databasesSwapped.store(!databaseMap.isIdentity, ordering: .sequentiallyConsistent)
        numberedStateChanged = false
        select(selectedDatabase)
    }

    /// Reads the counters of databases 1 and up and the SWAPDB table; a data directory from before numbered
    /// databases has none of them.
    func loadNumberedState() throws {
        numberedCounters = [:]
        let iterator = database.makeIterator()
        let countPrefix = StorageLayout.keyCountKey
        iterator.seek(countPrefix)
        while iterator.isValid, iterator.key.starts(with: countPrefix) {
            if iterator.key.count == countPrefix.count + 4, iterator.value.count == 8 {
                let storage = DatabaseLayout.bigEndian32(iterator.key, at: countPrefix.count)
                numberedCounters[storage, default: DatabaseCounters()].keys = Int(RecordFormat.bigEndian64(iterator.value, at: 0))
            }
            iterator.next()
        }
        let statisticsPrefix = StorageLayout.expiryStatisticsKey
        iterator.seek(statisticsPrefix)
        while iterator.isValid, iterator.key.starts(with: statisticsPrefix) {
            if iterator.key.count == statisticsPrefix.count + 4, iterator.value.count == 24 {
                let storage = DatabaseLayout.bigEndian32(iterator.key, at: statisticsPrefix.count)
                let value = iterator.value
                numberedCounters[storage, default: DatabaseCounters()].expiringKeys =
                    Int(RecordFormat.bigEndian64(value, at: 0))
                numberedCounters[storage, default: DatabaseCounters()].expireAtSum = Int128(
                    bitPattern: UInt128(RecordFormat.bigEndian64(value, at: 8)) << 64
                        | UInt128(RecordFormat.bigEndian64(value, at: 16)))
            }
            iterator.next()
        }
        try iterator.checkError()
        committedNumberedCounters = numberedCounters
        databaseMap = try database.get(DatabaseLayout.mapKey).flatMap { DatabaseMap(encoded: $0) } ?? DatabaseMap()
        committedDatabaseMap = databaseMap
        databasesSwapped.store(!databaseMap.isIdentity, ordering: .sequentiallyConsistent)
        numberedStateChanged = false
        storageDatabase = databaseMap.storage(of: selectedDatabase)
    }

    // MARK: Whole databases

    /// FLUSHALL: removes the keys of every database, each database's removal logged and told as FLUSHDB's is
    /// (database 0's always, the others' when they hold keys).
    public func removeAllDatabases() throws {
        assertLeased()
        let previous = selectedDatabase
        defer { select(previous) }
        select(0)
        try removeAll()
        // Storage database 0 is another logical database's after a SWAPDB.
        var others = numberedCounters.filter { $0.value.keys > 0 }.keys.sorted()
        if count > 0 { others.insert(0, at: 0) }
        for storage in others {
            selectStorage(storage)
            try removeAll()
        }
    }

    /// Deletes the expiry index entries of storage database `storage` (FLUSHDB: normally none are left by then).
    func deleteExpiryIndex(ofStorage storage: UInt32) throws {
        let prefix = storage == 0 ? StorageLayout.expiryPrefix : DatabaseLayout.expiryPrefix
        let iterator = database.makeIterator()
        iterator.seek([prefix])
        while iterator.isValid, iterator.key.first == prefix {
            if storage == 0 || DatabaseLayout.decodeExpiryKey(iterator.key)?.database == storage {
                batch.delete(key: iterator.key)
            }
            iterator.next()
        }
        try iterator.checkError()
    }

    /// SWAPDB `first` `second`: afterwards each logical database names the keys the other named. O(1): only the
    /// SWAPDB table changes (persisted in the same batch); no key moves. Logged as one `swapdb` event.
    public func swapDatabases(_ first: UInt32, _ second: UInt32) {
        assertLeased()
        guard first != second else { return }
        databaseMap.swap(first, second)
        // Lock-free readers take the lock from now on; until the commit, even a swap back to the identity.
        databasesSwapped.store(true, ordering: .sequentiallyConsistent)
        numberedStateChanged = true
        let event = nextEvent()
        if logsChanges {
            let other = Array(String(second).utf8)
            other.withUnsafeBytes {
                logEvent(
                    event, .swapDatabases, key: UnsafeRawBufferPointer(start: nil, count: 0), value: $0, expireAt: 0,
                    previousRevision: 0, database: first)
            }
        }
        observer?.databasesSwapped(first, second)
        select(selectedDatabase)  // its storage database may be another now
    }

    /// MOVE `key` `logical`: moves a live key of the selected database, with its expiry, to database `logical`
    /// unless the key exists there. A collection's record alone moves (its elements are keyed by generation), so
    /// the cost is O(1) whatever its size. Logged as `set` (a string) or `move` (a collection) in the destination,
    /// then `del` in the source.
    /// - Returns: whether the key moved (false: missing here, or present there).
    public func move(_ key: ByteBuffer, toDatabase logical: UInt32) throws -> Bool {
        guard let moved = try summary(of: key),
            let value = try lookupRecord(key, { _, value, _ in ByteBuffer(bytes: value) })
        else { return false }
        let source = selectedDatabase
        let placed: Bool = try withDatabase(logical) {
            guard try summary(of: key) == nil else { return false }
            guard moved.type.isCollection else {
                try set(key, value: value, expireAt: moved.expireAt, previousExpiry: nil)
                return true
            }
            let event = nextEvent()
            let revision = KeyRevision(created: event.revision, modified: event.revision, version: 1)
            if logsChanges {
                let sourceText = Array(String(source).utf8)
                key.withUnsafeReadableBytes { keyBytes in
                    sourceText.withUnsafeBytes {
                        logEvent(
                            event, .move, key: keyBytes, value: $0, expireAt: moved.expireAt, keyRevision: revision,
                            previousRevision: 0, type: moved.type)
                    }
                }
            }
            stageRecord(
                key, value: value, type: moved.type, expireAt: moved.expireAt, revision: revision, previousExpiry: nil)
            return true
        }
        guard placed else { return false }
        // The elements now belong to the destination's record.
        try remove(key, previousExpiry: moved.expireAt, previous: moved, operation: .delete, dropsElements: false)
        observer?.keyModified(key, database: selectedDatabase)
        return true
    }
}

extension DatabaseLayout {
    static func bigEndian64(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }

    static func bigEndian128(_ value: UInt128) -> [UInt8] {
        bigEndian64(UInt64(truncatingIfNeeded: value >> 64)) + bigEndian64(UInt64(truncatingIfNeeded: value))
    }
}
