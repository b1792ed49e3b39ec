import LevelDB
import NIOCore
import Synchronization

/// A point-in-time, read-only view of the user keyspace, for exports that run without the store's lock (SNAPSHOT,
/// BGSAVE, `kvnode-dump --data`). Later writes are invisible to it; it holds a LevelDB snapshot, so let it go before
/// the database closes.
public final class KeyspaceSnapshot: @unchecked Sendable {
    private let snapshot: Snapshot
    /// Unix milliseconds at which the view was taken; keys that expire at or before it are left out.
    public let takenAt: Int64
    /// The key count stored with the keyspace when the view was taken (expired keys not yet removed included).
    public let approximateKeyCount: Int
    /// The store revision the view holds exactly (0 for a view of a database without revisions).
    public let revision: UInt64
    /// The logical databases (SELECT) holding keys in the view, ascending (expired keys not yet removed count), and
    /// always database 0.
    public let databases: [UInt32]
    /// Logical → storage database (SWAPDB) in the view.
    private let databaseMap: DatabaseMap

    private let tracker: SnapshotTracker?

    /// A view of `database` as it is now. Only consistent with committed commands when the caller holds the store's
    /// lock (see `Keyspace.snapshot()`) or no server has the database open.
    public convenience init(database: Database, now: Int64) throws {
        try self.init(database: database, now: now, tracker: nil)
    }

    init(database: Database, now: Int64, tracker: SnapshotTracker?) throws {
        snapshot = database.makeSnapshot()
        takenAt = now
        approximateKeyCount = try Self.storedKeyCount(snapshot)
        revision = try Self.storedRevision(snapshot)
        (databaseMap, databases) = try Self.storedDatabases(snapshot)
        self.tracker = tracker
        tracker?.live.wrappingAdd(1, ordering: .relaxed)
    }

    deinit {
        tracker?.live.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Calls `body` with every live key, its value (a collection's metadata), its expiry (Unix ms, 0 for none) and
    /// its type, in byte order of the key, starting at `prefix` and stopping after the last key that starts with it.
    /// A collection's elements are read with `forEachElement`.
    /// - Throws: what `body` throws (which stops the walk), `LevelDBError` when LevelDB reports a read error, or
    ///   `CorruptRecordError` when a stored record cannot be decoded.
    /// - Parameter database: the logical database (SELECT) whose keys are visited.
    public func forEachKey(
        withPrefix prefix: [UInt8] = [], database logical: UInt32 = 0,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ expireAt: Int64, _ type: ValueType)
            throws -> Void
    ) throws {
        let iterator = snapshot.makeIterator()
        let namespace = DatabaseLayout.userKeyRangePrefix(database: databaseMap.storage(of: logical))
        let start = namespace + prefix
        iterator.seek(start)
        while iterator.isValid {
            let storageKey = iterator.key
            guard storageKey.starts(with: start) else { break }
            let key = UnsafeRawBufferPointer(rebasing: storageKey[namespace.count...])
            guard let (expireAt, type, value) = RecordFormat.decode(iterator.value) else {
                throw CorruptRecordError(key: Array(key))
            }
            if !RecordFormat.hasExpired(expireAt, at: takenAt) {
                try body(key, value, expireAt, type)
            }
            iterator.next()
        }
        try iterator.checkError()
    }

    /// Calls `body` with the elements of one kind of the collection with `generation`, in byte order, after `after`
    /// when given, until `body` returns false.
    /// - Returns: how many elements it visited.
    @discardableResult
    public func forEachElement(
        generation: UInt64, kind: UInt8, after: [UInt8]? = nil,
        _ body: (_ element: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws -> Int {
        let prefix = ElementLayout.kindPrefix(generation, kind)
        let iterator = snapshot.makeIterator()
        iterator.seek(prefix + (after.map { $0 + [0] } ?? []))
        var visited = 0
        while iterator.isValid, iterator.key.starts(with: prefix) {
            visited += 1
            guard try body(UnsafeRawBufferPointer(rebasing: iterator.key[prefix.count...]), iterator.value) else { break }
            iterator.next()
        }
        try iterator.checkError()
        return visited
    }

    private static func storedRevision(_ snapshot: Snapshot) throws -> UInt64 {
        let iterator = snapshot.makeIterator()
        iterator.seek(ChangeLogLayout.revisionKey)
        guard iterator.isValid, iterator.key.elementsEqual(ChangeLogLayout.revisionKey) else {
            try iterator.checkError()
            return 0
        }
        return ChangeLogLayout.bigEndian64(iterator.value) ?? 0
    }

    func makeIterator() -> Iterator {
        snapshot.makeIterator()
    }

    /// The SWAPDB table, and the logical databases whose storage database holds keys (database 0's count is
    /// `m` + `keys`, the others' `m` + `keys` + BE32 database).
    private static func storedDatabases(_ snapshot: Snapshot) throws -> (DatabaseMap, [UInt32]) {
        let iterator = snapshot.makeIterator()
        iterator.seek(DatabaseLayout.mapKey)
        var map = DatabaseMap()
        if iterator.isValid, iterator.key.elementsEqual(DatabaseLayout.mapKey) {
            map = DatabaseMap(encoded: Array(iterator.value)) ?? DatabaseMap()
        }
        var storages: [UInt32] = []
        let countKey = StorageLayout.keyCountKey
        iterator.seek(countKey)
        while iterator.isValid, iterator.key.starts(with: countKey) {
            let key = iterator.key
            if iterator.value.count == 8, iterator.value.contains(where: { $0 != 0 }) {
                if key.count == countKey.count {
                    storages.append(0)
                } else if key.count == countKey.count + 4 {
                    storages.append(DatabaseLayout.bigEndian32(key, at: countKey.count))
                }
            }
            iterator.next()
        }
        try iterator.checkError()
        // Database 0 is always walked: a data directory of the first layout version may have no key count.
        var logical = Set(storages.map { map.logical(of: $0) })
        logical.insert(0)
        return (map, logical.sorted())
    }

    private static func storedKeyCount(_ snapshot: Snapshot) throws -> Int {
        let iterator = snapshot.makeIterator()
        iterator.seek(StorageLayout.keyCountKey)
        guard iterator.isValid, iterator.key.elementsEqual(StorageLayout.keyCountKey), iterator.value.count == 8 else {
            try iterator.checkError()
            return 0
        }
        return Int(truncatingIfNeeded: iterator.value.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }
}

/// A stored record too short to hold its header: the database is damaged.
public struct CorruptRecordError: Error, CustomStringConvertible, Sendable {
    /// The user key whose record is damaged.
    public let key: [UInt8]

    public init(key: [UInt8]) {
        self.key = key
    }

    public var description: String {
        "corrupt record for key '\(String(decoding: key.prefix(64), as: UTF8.self))'"
    }
}

extension Keyspace {
    /// Commits the pending writes of the current batch and takes a view of the keyspace as it stands. Call it while
    /// holding the lock (as every `Keyspace` user does): no other command is half-applied then, so the view contains
    /// exactly the commands that completed before this one.
    public func snapshot() throws -> KeyspaceSnapshot {
        assertLeased()
        try commit()
        return try KeyspaceSnapshot(database: database, now: now, tracker: snapshots)
    }
}

/// How many `KeyspaceSnapshot`s of a store are alive: the store cannot reopen its database under them.
final class SnapshotTracker: Sendable {
    let live = Atomic<Int>(0)
}

extension KeyspaceSnapshot {
    /// About `limit` change-log events (or `maxBytes` of their keys and values) with revisions from `from` through
    /// `through`, in order, starting after `position` (the last event of the previous call) when given. A revision is
    /// never split: the last one read is read whole, so everything through it has been read.
    /// - Returns: the events, and whether they reach `through` (nothing is left to read).
    public func events(
        from: UInt64, after position: (revision: UInt64, index: UInt32)?, through: UInt64, limit: Int,
        maxBytes: Int = .max
    ) throws -> (events: [ChangeEvent], complete: Bool) {
        var start = ByteBuffer()
        if let position {
            ChangeLogLayout.eventKey(revision: position.revision, index: position.index &+ 1, into: &start)
            if position.index == .max { ChangeLogLayout.eventKey(revision: position.revision &+ 1, index: 0, into: &start) }
        } else {
            ChangeLogLayout.eventKey(revision: from, index: 0, into: &start)
        }
        var events: [ChangeEvent] = []
        var bytes = 0
        let iterator = makeIterator()
        start.withUnsafeReadableBytes { iterator.seek($0) }
        while iterator.isValid, iterator.key.first == ChangeLogLayout.eventPrefix {
            guard let event = ChangeLogLayout.decodeEvent(key: iterator.key, value: iterator.value) else {
                throw CorruptRecordError(key: Array(iterator.key))
            }
            guard event.revision <= through else { break }
            if events.count >= limit || bytes >= maxBytes, let last = events.last, event.revision != last.revision {
                try iterator.checkError()
                return (events, false)
            }
            events.append(event)
            bytes += event.key.readableBytes + (event.value?.readableBytes ?? 0)
            iterator.next()
        }
        try iterator.checkError()
        return (events, true)
    }

    /// Calls `body` with up to `limit` live keys of `range` in logical database `logical`, in order, after `after` when given, with their values
    /// (a collection's metadata), expiry, revisions and type, until `body` returns false; no more once the keys and
    /// values given to `body` reach `maxBytes`.
    /// - Returns: how many keys it visited.
    public func entries(
        in range: KeyRange, database logical: UInt32 = 0, after: [UInt8]?, limit: Int, maxBytes: Int = .max,
        _ body: (
            _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ expireAt: Int64, _ revision: KeyRevision,
            _ type: ValueType
        ) throws -> Bool
    ) throws -> Int {
        var bounded = range
        if let after { bounded.restrict(after: after) }
        let iterator = makeIterator()
        let namespace = DatabaseLayout.userKeyRangePrefix(database: databaseMap.storage(of: logical))
        iterator.seek(namespace + (bounded.lower?.key ?? []))
        var visited = 0
        var bytes = 0
        while visited < limit, bytes < maxBytes, iterator.isValid, iterator.key.starts(with: namespace) {
            let key = UnsafeRawBufferPointer(rebasing: iterator.key[namespace.count...])
            guard bounded.isBelowUpper(key) else { break }
            if bounded.contains(key) {  // not the excluded lower bound itself
                guard let (expireAt, revision, type, value) = RecordFormat.decodeWithRevision(iterator.value) else {
                    throw CorruptRecordError(key: Array(key))
                }
                visited += 1
                if !RecordFormat.hasExpired(expireAt, at: takenAt) {
                    bytes += key.count + value.count
                    guard try body(key, value, expireAt, revision, type) else { break }
                }
            }
            iterator.next()
        }
        try iterator.checkError()
        return visited
    }
}
