import LevelDB
import NIOCore
import Synchronization

/// The user keyspace, reachable only inside a lease (`Store.withLease`), which holds the store's lock.
///
/// Writes go into a pending `WriteBatch` and an overlay that later reads in the same batch consult first, so the
/// commands of one pipeline see each other's writes and reach LevelDB as one atomic write at `commit()`. Every read
/// hides keys whose expiry has passed, deleting them as it finds them.
///
/// A commit either reaches LevelDB whole or leaves the keyspace exactly as the last successful commit left it: the
/// key count and expiry statistics move only when LevelDB has accepted the batch.
public final class Keyspace {
    /// Replaced only when the store reopens the database (`Store.recover()`).
    private(set) var database: Database
    private let health: PersistenceHealth
    private let clock: StoreClock
    /// Time, in Unix milliseconds, against which expiry is judged; fixed for the duration of a lease.
    public private(set) var now: Int64 = 0
    /// Number of keys, including expired keys not yet removed (`liveCount()` excludes them); persisted with every
    /// commit that changes it.
    public internal(set) var count: Int
    private var committedCount: Int

    /// A write of this batch that LevelDB has not seen yet.
    enum PendingEntry {
        /// A record: a string's value, or a collection's metadata.
        /// `rawEncoding`: a string Redis holds as `raw` whatever its content (`RecordFormat.rawString`).
        case record(value: ByteBuffer, expireAt: Int64, revision: KeyRevision, type: ValueType, rawEncoding: Bool = false)
        case deleted
    }

    /// A write of this batch to a collection element (keyed by its LevelDB key) that LevelDB has not seen yet.
    enum PendingElement {
        case value(ByteBuffer)
        case deleted
    }

    /// What a lookup learned about a live key, kept for the write that usually follows it.
    struct RecordSummary {
        var revision: KeyRevision
        var type: ValueType
        var expireAt: Int64
        /// A collection's metadata (nil for a string, or a damaged record).
        var metadata: CollectionMetadata?
        /// A string Redis would hold as `raw` whatever its content (`RecordFormat.rawString`).
        var rawEncoding = false

        /// A collection's generation (0 for a string).
        var generation: UInt64 { metadata?.generation ?? 0 }
        /// A collection's element count (0 for a string).
        var elements: Int { metadata?.count ?? 0 }

        init(
            type: ValueType, value: UnsafeRawBufferPointer, expireAt: Int64, revision: KeyRevision,
            rawEncoding: Bool = false
        ) {
            self.revision = revision
            self.type = type
            self.expireAt = expireAt
            metadata = type.isCollection ? CollectionMetadata(value) : nil
            self.rawEncoding = rawEncoding && type == .string
        }

        init(revision: KeyRevision, type: ValueType, expireAt: Int64, metadata: CollectionMetadata?) {
            self.revision = revision
            self.type = type
            self.expireAt = expireAt
            self.metadata = metadata
        }
    }

    // MARK: Revisions (see Keyspace+ChangeLog.swift)

    /// The last revision made, this lease's uncommitted ones included: +1 for every command that changes data.
    public internal(set) var revision: UInt64 = 0
    var committedRevision: UInt64 = 0
    /// The running command's revision once it has written; nil before its first write.
    var commandRevision: UInt64?
    /// The next event's index within `commandRevision`.
    var eventIndex: UInt32 = 0
    /// Whether changes go to the change log (`--change-log`); revisions are kept either way.
    public let logsChanges: Bool
    /// The oldest revision the change log holds; older ones are compacted.
    public internal(set) var oldestLoggedRevision: UInt64 = 1
    /// Bytes of the change log's entries, this lease's uncommitted ones included.
    public internal(set) var logBytes: UInt64 = 0
    var committedLogBytes: UInt64 = 0
    /// The key looked up last, so the write that follows a command's read does not read again (in the selected
    /// database: selecting another forgets it).
    var lastLookup: (key: ByteBuffer, summary: RecordSummary)?
    var eventScratch = ByteBuffer()

    /// The batch's writes by key: reads and iterations consult it before LevelDB.
    var pending = PendingWrites<PendingEntry>()
    /// The batch's writes to collection elements, by LevelDB key.
    var pendingElements = PendingWrites<PendingElement>()

    // MARK: Collections (see Collections/)

    /// Where the live part of a sorted set's score index begins and ends after pops, by generation
    /// (Keyspace+SortedSets): scans start there instead of stepping over the deleted entries before it.
    var scoreIndexEnds: [UInt64: ScoreIndexEnds] = [:]

    /// The last collection generation handed out, this lease's included.
    var generation: UInt64 = 0
    var committedGeneration: UInt64 = 0
    /// Dropped collections the collector has not finished, and their elements (estimated), this lease's included.
    public internal(set) var garbageCollections = 0
    public internal(set) var garbageElements = 0
    var committedGarbage: (collections: Int, elements: Int) = (0, 0)
    /// Where the collector stopped inside the collection it works on (a LevelDB key), so the next chunk does not step
    /// over the deletions of the chunks before it.
    var collectorResume: [UInt8]?
    let batch = WriteBatch()
    var keyScratch = ByteBuffer()
    var recordScratch = ByteBuffer()

    /// Where the expiry index holds its first entry that may still be live: every entry before it has been swept.
    /// Seeking here rather than to the start of the index skips the deletion markers sweeps leave behind.
    var expiryIndexStart: [UInt8] = [StorageLayout.expiryPrefix]

    // MARK: Numbered databases (see Databases/Keyspace+Databases.swift)

    /// The database commands run in, as clients number it (SELECT): the engine selects the session's before each
    /// command. 0 until then, and at the start of every lease.
    public internal(set) var selectedDatabase: UInt32 = 0
    /// The storage database holding the selected database's keys (`databaseMap`); database 0's layout when 0.
    var storageDatabase: UInt32 = 0
    /// Logical → storage database, changed by SWAPDB; `committedDatabaseMap` is the last one LevelDB holds.
    var databaseMap = DatabaseMap()
    var committedDatabaseMap = DatabaseMap()
    /// Whether `databaseMap` is not the identity: lock-free reads (which encode database 0's layout) then take the
    /// lock instead.
    let databasesSwapped = Atomic<Bool>(false)
    /// Key count and expiry statistics of storage databases 1 and up (database 0's are `count`, `expiringKeys`,
    /// `expireAtSum`), this lease's changes included, and as last committed.
    var numberedCounters: [UInt32: DatabaseCounters] = [:]
    var committedNumberedCounters: [UInt32: DatabaseCounters] = [:]
    /// Set when `numberedCounters` or `databaseMap` changed since the last commit: one branch in `commit()`.
    var numberedStateChanged = false
    /// `expiryIndexStart` for the expiry index of databases 1 and up (`f`).
    var numberedExpiryIndexStart: [UInt8] = [DatabaseLayout.expiryPrefix]

    /// Lookups by `read` that found their key (INFO `keyspace_hits`) and that did not (`keyspace_misses`).
    public internal(set) var hits = 0
    public internal(set) var misses = 0
    /// Keys with an expiry and the sum of their expiry times, for INFO's `expires` and `avg_ttl`; persisted with
    /// every commit that changes them (see Keyspace+ExpiryStatistics.swift).
    public internal(set) var expiringKeys = 0
    var expireAtSum: Int128 = 0
    var committedExpiryStatistics: (count: Int, sum: Int128) = (0, 0)
    /// Set when the statistics were computed from the index of a database that did not store them yet.
    var expiryStatisticsUnpersisted = false

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

    /// Counts the snapshots taken, which keep the database from being reopened while they live.
    let snapshots: SnapshotTracker

    init(
        database: Database, health: PersistenceHealth, clock: StoreClock, snapshots: SnapshotTracker, logsChanges: Bool
    ) throws {
        self.logsChanges = logsChanges
        self.database = database
        self.health = health
        self.clock = clock
        self.snapshots = snapshots
        count = 0
        committedCount = 0
        try load()
    }

    /// Reads the persisted counters; writes the format version into a new database.
    private func load() throws {
        if let stored = try database.get(StorageLayout.keyCountKey), stored.count == 8 {
            count = Int(stored.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        } else {
            count = 0
        }
        committedCount = count
        expiringKeys = 0
        expireAtSum = 0
        try loadExpiryStatistics()
        try loadNumberedState()
        try loadChangeLogState()
        try loadCollectionState()
        let format = try database.get(StorageLayout.formatKey)?.first
        if let format, format > StorageLayout.formatVersion {
            throw StoreFormatError(found: format)
        }
        if format != StorageLayout.formatVersion {
            // Version 1 records (no revisions) stay readable as they are; new writes carry revisions.
            try database.put(StorageLayout.formatKey, [StorageLayout.formatVersion])
        }
    }

    /// Continues on a reopened database: nothing is pending (a failed commit discarded it) and the counters are
    /// read back from disk.
    func reopen(on database: Database) throws {
        self.database = database
        batch.clear()
        pending.removeAll()
        pendingElements.removeAll()
        scoreIndexEnds.removeAll()
        expiryIndexStart = [StorageLayout.expiryPrefix]
        numberedExpiryIndexStart = [DatabaseLayout.expiryPrefix]
        collectorResume = nil
        try load()
    }

    /// A LevelDB property of the database, such as `leveldb.stats` or `leveldb.approximate-memory-usage`.
    public func databaseProperty(_ name: String) -> String? {
        assertLeased()
        return database.property(name)
    }

    // MARK: Leases

    /// Whether a lease is in progress; checked by debug builds on every entry point.
    private var isLeased = false

    func beginLease() {
        isLeased = true
        select(0)
        now = clock.milliseconds()
        wroteInLease = false
        beginCommand()
    }

    /// - Returns: whether any commit of the lease reached LevelDB.
    func endLease() -> Bool {
        isLeased = false
        lastLookup = nil
        return wroteInLease
    }

    /// Starts a command: the writes it makes from now on share one revision (an EXEC's queued commands share the
    /// EXEC's). The command engine calls it before each command it runs under a lease; a lease starts one too.
    public func beginCommand() {
        commandRevision = nil
        eventIndex = 0
        lastLookup = nil
    }

    /// Traps in debug builds when the keyspace is used outside a lease (an escaped reference).
    @inline(__always) func assertLeased() {
        assert(isLeased, "the keyspace is used outside Store.withLease")
    }

    // MARK: Reads

    /// Reads a live string key's value and expiry (0 when none) and hands them to `body`, counting a keyspace hit or
    /// miss.
    /// - Returns: `body`'s result, or nil when the key does not exist or has expired.
    /// - Throws: `WrongTypeError` (before calling `body`) when the key holds another type.
    public func read<R>(_ key: ByteBuffer, _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R) throws -> R? {
        let result = try lookupCounted(key) { type, value, expireAt in
            guard type == .string else { throw WrongTypeError(found: type) }
            return try body(value, expireAt)
        }
        return result
    }

    /// `read` without counting a hit or miss: the lookup a command makes to update a key, as Redis's
    /// `lookupKeyWrite` (INCR, APPEND...).
    public func readForWrite<R>(_ key: ByteBuffer, _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R) throws -> R? {
        try lookup(key, body)
    }

    /// The lookup behind `read` and `readForWrite`: a string key's value, or `WrongTypeError`.
    func lookup<R>(_ key: ByteBuffer, _ body: (_ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R) throws -> R? {
        try lookupRecord(key) { type, value, expireAt in
            guard type == .string else { throw WrongTypeError(found: type) }
            return try body(value, expireAt)
        }
    }

    /// Reads a live key of any type, handing `body` its type, value (a string's, or a collection's metadata,
    /// `CollectionMetadata`) and expiry; counts a keyspace hit or miss.
    public func readAny<R>(
        _ key: ByteBuffer, _ body: (_ type: ValueType, _ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R
    ) throws -> R? {
        try lookupCounted(key, body)
    }

    /// `lookupRecord`, counting a keyspace hit or miss.
    func lookupCounted<R>(
        _ key: ByteBuffer, _ body: (_ type: ValueType, _ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R
    ) throws -> R? {
        let result = try lookupRecord(key, body)
        if result == nil { misses += 1 } else { hits += 1 }
        return result
    }

    /// Finds a live key of any type and hands `body` its type, value (a collection's metadata) and expiry (0 when
    /// none); a key found expired is deleted. The batch's writes come first, then LevelDB.
    /// - Returns: `body`'s result, or nil when the key does not exist or has expired.
    func lookupRecord<R>(
        _ key: ByteBuffer, _ body: (_ type: ValueType, _ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> R
    ) throws -> R? {
        assertLeased()
        if !pending.isEmpty, let entry = pending[key, storageDatabase] {
            switch entry {
            case .deleted: return nil
            case .record(let value, let expireAt, let revision, let type, let rawEncoding):
                let summary = value.withUnsafeReadableBytes {
                    RecordSummary(type: type, value: $0, expireAt: expireAt, revision: revision, rawEncoding: rawEncoding)
                }
                if RecordFormat.hasExpired(expireAt, at: now) {
                    try expire(key, summary)
                    return nil
                }
                lastLookup = (key, summary)
                return try value.withUnsafeReadableBytes { try body(type, $0, expireAt) }
            }
        }
        var expired: RecordSummary?
        var found: RecordSummary?
        let result: R?? = try key.withUnsafeReadableBytes { keyBytes in
            DatabaseLayout.encodeUserKey(keyBytes, database: storageDatabase, into: &keyScratch)
            return try keyScratch.withUnsafeReadableBytes { storageKey in
                try database.withValue(forKey: storageKey) { record -> R? in
                    guard let (expireAt, revision, type, value) = RecordFormat.decodeWithRevision(record) else {
                        return nil
                    }
                    let summary = RecordSummary(
                        type: type, value: value, expireAt: expireAt, revision: revision,
                        rawEncoding: RecordFormat.isRawString(record))
                    if RecordFormat.hasExpired(expireAt, at: now) {
                        expired = summary
                        return nil
                    }
                    found = summary
                    return try body(type, value, expireAt)
                }
            }
        }
        if let found { lastLookup = (key, found) }
        if let expired { try expire(key, expired) }
        return result ?? nil
    }

    /// What a live key holds (type, expiry, revisions, a collection's generation and size), or nil when it does not
    /// exist. Not counted as a hit or miss.
    func summary(of key: ByteBuffer) throws -> RecordSummary? {
        if let cached = lastLookup, cached.key == key { return cached.summary }
        return try lookupRecord(key) { _, _, _ in () }.flatMap { lastLookup?.summary }
    }

    /// The revisions of a live key, or nil when it does not exist. Not counted as a hit or miss.
    public func revision(of key: ByteBuffer) throws -> KeyRevision? {
        try summary(of: key)?.revision
    }

    /// The type of a live key, or nil when it does not exist; counted as a keyspace hit or miss, as Redis's TYPE
    /// lookup is.
    public func type(of key: ByteBuffer) throws -> ValueType? {
        try lookupCounted(key) { type, _, _ in type }
    }

    /// The type of a live key, or nil when it does not exist; not counted as a hit or miss (Redis's
    /// `lookupKeyWrite`), for a command that goes on to change it.
    public func typeForWrite(of key: ByteBuffer) throws -> ValueType? {
        try summary(of: key)?.type
    }

    /// Whether `key` exists (of any type) and has not expired.
    public func exists(_ key: ByteBuffer) throws -> Bool {
        try lookupCounted(key) { _, _, _ in true } ?? false
    }

    /// The expiry of a live key of any type (0 when it has none), or nil when the key does not exist. Not counted as
    /// a hit or miss.
    public func expiry(of key: ByteBuffer) throws -> Int64? {
        try summary(of: key)?.expireAt
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
    /// lookup. `rawEncoding`: the value was changed in place or built bit by bit, so OBJECT ENCODING says `raw` as
    /// Redis would (`hasRawEncoding`); any other write clears it.
    public func set(
        _ key: ByteBuffer, value: ByteBuffer, expireAt: Int64, previousExpiry: Int64?, rawEncoding: Bool = false
    ) throws {
        assertLeased()
        let summary = previousExpiry == nil ? nil : try self.summary(of: key)
        let previous = previousExpiry == nil ? nil : summary?.revision ?? .unknown
        if expireAt > 0 && expireAt <= now {
            // Setting an expiry in the past is a delete, as in Redis.
            if let previousExpiry {
                try remove(key, previousExpiry: previousExpiry, previous: summary, operation: .delete)
                observer?.keyModified(key, database: selectedDatabase)
            }
            return
        }
        // A collection overwritten by a string: its elements go to the collector.
        if let summary, summary.type.isCollection { dropCollection(summary.generation, elements: summary.elements) }
        let event = nextEvent()
        let revision = KeyRevision(
            created: previous?.created ?? event.revision, modified: event.revision,
            version: (previous?.version ?? 0) &+ 1)
        if logsChanges {
            key.withUnsafeReadableBytes { keyBytes in
                value.withUnsafeReadableBytes { valueBytes in
                    logEvent(
                        event, .set, key: keyBytes, value: valueBytes, expireAt: expireAt, keyRevision: revision,
                        previousRevision: previous?.modified ?? 0)
                }
            }
        }
        stageRecord(
            key, value: value, type: .string, expireAt: expireAt, revision: revision, previousExpiry: previousExpiry,
            rawEncoding: rawEncoding)
    }

    /// Whether a string key holds a value Redis would keep as `raw` whatever its content, because it was changed in
    /// place (APPEND, SETRANGE, SETBIT, BITFIELD) or built by BITOP (`RecordFormat.rawString`). False for a missing key
    /// or another type. Not counted as a hit or miss.
    public func hasRawEncoding(_ key: ByteBuffer) throws -> Bool {
        try summary(of: key)?.rawEncoding ?? false
    }

    /// Writes a key's record (a string's value or a collection's metadata) with its expiry-index entry, and tells the
    /// observer: the write every setter ends with. `previousExpiry` is nil for a key that did not exist; a new key is
    /// announced (`keyCreated`) unless it overwrites a value deleted just before (`announcesCreation` false).
    func stageRecord(
        _ key: ByteBuffer, value: ByteBuffer, type: ValueType, expireAt: Int64, revision: KeyRevision,
        previousExpiry: Int64?, announcesCreation: Bool = true, rawEncoding: Bool = false
    ) {
        key.withUnsafeReadableBytes { keyBytes in
            DatabaseLayout.encodeUserKey(keyBytes, database: storageDatabase, into: &keyScratch)
            value.withUnsafeReadableBytes { valueBytes in
                RecordFormat.encode(
                    value: valueBytes, expireAt: expireAt, revision: revision, type: type, rawEncoding: rawEncoding,
                    into: &recordScratch)
            }
            keyScratch.withUnsafeReadableBytes { k in recordScratch.withUnsafeReadableBytes { batch.put(key: k, value: $0) } }
            if let previousExpiry, previousExpiry > 0, previousExpiry != expireAt {
                deleteExpiryEntry(keyBytes, expireAt: previousExpiry)
            }
            if expireAt > 0 && previousExpiry != expireAt {
                DatabaseLayout.encodeExpiryKey(keyBytes, database: storageDatabase, expireAt: expireAt, into: &keyScratch)
                keyScratch.withUnsafeReadableBytes { batch.put(key: $0, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
            }
        }
        pending[key, storageDatabase] = .record(
            value: value, expireAt: expireAt, revision: revision, type: type, rawEncoding: rawEncoding)
        lastLookup = value.withUnsafeReadableBytes {
            (key, RecordSummary(type: type, value: $0, expireAt: expireAt, revision: revision, rawEncoding: rawEncoding))
        }
        trackExpiry(from: previousExpiry ?? 0, to: expireAt)
        if previousExpiry == nil {
            if storageDatabase == 0 { count += 1 } else { countNumberedKeys(1) }
            if announcesCreation { observer?.keyCreated(key, database: selectedDatabase) }
        }
        observer?.keyModified(key, database: selectedDatabase)
    }

    /// Deletes `key`.
    /// - Returns: whether it existed (and had not expired).
    @discardableResult
    public func delete(_ key: ByteBuffer) throws -> Bool {
        guard let summary = try summary(of: key) else { return false }
        try remove(key, previousExpiry: summary.expireAt, previous: summary, operation: .delete)
        observer?.keyModified(key, database: selectedDatabase)
        return true
    }

    /// Removes every key of the selected database (FLUSHDB), and its expiry index entries with them.
    ///
    /// Commits in chunks, each carrying the key count and expiry statistics of what it removed, so a failure part way
    /// leaves the counters exact for the keys that remain.
    public func removeAll() throws {
        assertLeased()
        let removedKeys = storedCount
        try withMultiBatchWrite { try removeAllInChunks(removedKeys: removedKeys) }
        // Drop the deletion markers now: until a compaction does, every seek into these ranges steps over them.
        if storageDatabase == 0 {
            database.compactRange(start: [StorageLayout.expiryPrefix], end: [StorageLayout.keyPrefix + 1])
        } else {
            let prefix = DatabaseLayout.userKeyRangePrefix(database: storageDatabase)
            database.compactRange(start: prefix, end: KeyRange.successor(ofPrefix: prefix) ?? [prefix[0] + 1])
        }
    }

    private func removeAllInChunks(removedKeys: Int) throws {
        try commit()
        let chunkSize = 10_000
        let prefix = DatabaseLayout.userKeyRangePrefix(database: storageDatabase)
        var chunk: [(key: ByteBuffer, summary: RecordSummary?)] = []
        chunk.reserveCapacity(chunkSize)
        repeat {
            chunk.removeAll(keepingCapacity: true)
            // The walk restarts at the namespace after each chunk: the committed chunk's deletions hide its keys.
            let iterator = database.makeIterator()
            iterator.seek(prefix)
            while chunk.count < chunkSize, iterator.isValid, iterator.key.starts(with: prefix) {
                let summary = RecordFormat.decodeWithRevision(iterator.value).map {
                    RecordSummary(type: $0.type, value: $0.value, expireAt: $0.expireAt, revision: $0.revision)
                }
                chunk.append((ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: iterator.key[prefix.count...])), summary))
                iterator.next()
            }
            try iterator.checkError()
            for (key, summary) in chunk {
                try remove(key, previousExpiry: summary?.expireAt ?? 0, previous: summary, operation: nil)
            }
            try commit()
        } while chunk.count == chunkSize
        // Index entries without a record (none are expected) go too; they carry no statistics.
        try deleteExpiryIndex(ofStorage: storageDatabase)
        // One event for the whole flush, and a marker that AT reads consult; told before the last commit, which writes
        // at least the key count (zero), so observers hear of it when it lands.
        logFlush()
        observer?.keyspaceCleared(removedKeys: removedKeys, database: selectedDatabase)
        try commit()
        if storageDatabase == 0 {
            expiryIndexStart = [StorageLayout.expiryPrefix]
        } else {
            numberedExpiryIndexStart = [DatabaseLayout.expiryPrefix]
        }
    }

    /// Deletes a key's record and expiry entry, hands a collection's elements to the collector, and logs the
    /// deletion as `operation` (nil: FLUSHDB logs one event for every key instead).
    /// - Parameter dropsElements: false when the command deleted every element of a collection itself.
    func remove(
        _ key: ByteBuffer, previousExpiry: Int64, previous: RecordSummary?, operation: ChangeOperation?,
        dropsElements: Bool = true
    ) throws {
        if let previous, previous.type.isCollection, dropsElements {
            dropCollection(previous.generation, elements: previous.elements)
        }
        key.withUnsafeReadableBytes { keyBytes in
            if let operation, logsChanges {
                logEvent(
                    nextEvent(), operation, key: keyBytes, value: nil, expireAt: 0,
                    previousRevision: previous?.revision.modified ?? 0, type: previous?.type ?? .string)
            } else if operation != nil {
                _ = nextEvent()
            }
            DatabaseLayout.encodeUserKey(keyBytes, database: storageDatabase, into: &keyScratch)
            keyScratch.withUnsafeReadableBytes { batch.delete(key: $0) }
            if previousExpiry > 0 { deleteExpiryEntry(keyBytes, expireAt: previousExpiry) }
        }
        pending[key, storageDatabase] = .deleted
        if lastLookup?.key == key { lastLookup = nil }
        trackExpiry(from: previousExpiry, to: 0)
        if storageDatabase == 0 { count -= 1 } else { countNumberedKeys(-1) }
    }

    /// Deletes a key found expired by a read. While the store is failing nothing can be written: the key is only
    /// reported missing, and goes once writes are accepted again.
    func expire(_ key: ByteBuffer, _ summary: RecordSummary) throws {
        guard !health.isFailing else { return }
        try remove(key, previousExpiry: summary.expireAt, previous: summary, operation: .expire)
        observer?.keyExpired(key, database: selectedDatabase)
    }

    func deleteExpiryEntry(_ key: UnsafeRawBufferPointer, expireAt: Int64) {
        DatabaseLayout.encodeExpiryKey(key, database: storageDatabase, expireAt: expireAt, into: &keyScratch)
        keyScratch.withUnsafeReadableBytes { batch.delete(key: $0) }
    }

    // MARK: Commit

    /// Number of writes waiting for `commit()`.
    public var pendingWrites: Int { batch.count }

    /// Whether a commit of the current lease reached LevelDB (including `commitIfLarge` between commands), so the
    /// holder knows a `high` durability fsync is due.
    private var wroteInLease = false

    /// Successful commits that wrote something; the command engine compares it across a command to learn that the
    /// writes staged before were committed.
    public private(set) var commits = 0
    /// Commits that failed (their writes discarded); the command engine compares it to learn that replies it wrote
    /// for those writes must be taken back.
    public private(set) var discards = 0

    /// Writes every pending change to LevelDB as one atomic batch. On failure nothing of it is kept: the keyspace
    /// is as the last successful commit left it, the observer is told the changes are discarded, and the store is
    /// failing (later commits are refused without reaching LevelDB until it recovers).
    /// - Returns: whether anything was written.
    /// - Throws: LevelDB's error, or `StoreWriteRefusedError` while the store is failing.
    @discardableResult
    public func commit() throws -> Bool {
        if count != committedCount {
            // Big-endian, written without allocating (this runs on every commit that adds or removes keys).
            withUnsafeBytes(of: UInt64(count).bigEndian) { encoded in
                StorageLayout.keyCountKey.withUnsafeBytes { batch.put(key: $0, value: encoded) }
            }
        }
        let expiryStatistics = stageExpiryStatisticsIfChanged()
        if numberedStateChanged { stageNumberedState() }
        stageChangeLogState()
        stageCollectionState()
        guard batch.count > 0 else {
            // Changes told without a write of their own (FLUSHDB of an empty range) are committed all the same.
            observer?.changesCommitted()
            return false
        }
        do {
            guard !health.isFailing else { throw StoreWriteRefusedError(health) }
            try database.write(batch)
        } catch {
            if !health.isFailing { health.recordFailure(error, at: clock.milliseconds()) }
            discardPending()
            throw error
        }
        committedCount = count
        committedExpiryStatistics = expiryStatistics
        expiryStatisticsUnpersisted = false
        committedRevision = revision
        committedLogBytes = logBytes
        committedGeneration = generation
        committedGarbage = (garbageCollections, garbageElements)
        if numberedStateChanged { numberedStateCommitted() }
        clearStaging()
        wroteInLease = true
        commits += 1
        observer?.changesCommitted()
        return true
    }

    /// Largest staging memory (batch, scratch buffers) kept between commits: a bigger write's is given back, so one
    /// 100 MB value does not hold several times its size for the life of the server.
    static let retainedStagingBytes = 1 << 20

    /// Empties the batch and the overlay after a commit or a discard.
    private func clearStaging() {
        batch.clear(retainedBytes: Self.retainedStagingBytes)
        pending.removeAll()
        pendingElements.removeAll()
        Self.release(&eventScratch)
        Self.release(&keyScratch)
        Self.release(&recordScratch)
    }

    private static func release(_ scratch: inout ByteBuffer) {
        if scratch.capacity > retainedStagingBytes { scratch = ByteBuffer() }
    }

    /// Forgets every write staged since the last commit, as if the commands that made them never ran.
    private func discardPending() {
        clearStaging()
        generation = committedGeneration
        (garbageCollections, garbageElements) = committedGarbage
        collectorResume = nil
        scoreIndexEnds.removeAll()
        count = committedCount
        (expiringKeys, expireAtSum) = committedExpiryStatistics
        // The revisions taken by the discarded writes are given back: the log never shows a gap for them.
        revision = committedRevision
        logBytes = committedLogBytes
        commandRevision = nil
        eventIndex = 0
        lastLookup = nil
        // The sweep may have advanced past entries whose deletion was just discarded.
        expiryIndexStart = [StorageLayout.expiryPrefix]
        numberedExpiryIndexStart = [DatabaseLayout.expiryPrefix]
        if numberedStateChanged { numberedStateDiscarded() }
        discards += 1
        observer?.changesDiscarded()
    }

    /// Commits when enough writes are pending; call between commands so one huge pipeline does not build an
    /// unbounded batch.
    public func commitIfLarge() throws {
        if batch.count >= maximumPendingWrites && !defersCommits { try commit() }
    }
}

@available(*, unavailable)
extension Keyspace: Sendable {}
