import LevelDB
import NIOCore

/// A key's place in the store's history, as etcd keeps it: the revision that created it, the revision of its last
/// change, and how many changes it has had since it was created (1 for a new key).
public struct KeyRevision: Sendable, Equatable {
    public var created: UInt64
    public var modified: UInt64
    public var version: UInt64

    public init(created: UInt64, modified: UInt64, version: UInt64) {
        self.created = created
        self.modified = modified
        self.version = version
    }

    /// A key written before revisions were kept.
    public static let unknown = KeyRevision(created: 0, modified: 0, version: 0)
}

/// What a change-log event did to its key (docs/storage-format.md, "The change log").
///
/// Whole-key operations (1–15) carry at most a value; element operations (16 and up) name the element they change
/// (`ChangeEvent.element`) and, where Redis's command does, a value. Each element operation is named after the Redis
/// command that replays it: `hset key field value`, `srem key member`. Ranges are kept per type: 16–31 hashes,
/// 32–47 sets, 48–63 lists, 64–79 sorted sets.
public enum ChangeOperation: UInt8, Sendable, CaseIterable {
    /// A string key was written (created or overwritten; a TTL change rewrites it too).
    case set = 1
    /// The key was deleted by a command (or emptied: a collection whose last element went).
    case delete = 2
    /// The key was deleted because its expiry passed.
    case expire = 3
    /// Every key was deleted (FLUSHDB, FLUSHALL); the event has no key.
    case flush = 4
    /// A collection's expiry was set (`expireAt`); a string's is logged as `set`.
    case expireAt = 5
    /// A collection's expiry was removed.
    case persist = 6
    /// The key now holds what the key named by `value` held (RENAME of a collection: its elements stay where they
    /// are); a `del` of the source follows.
    case rename = 7
    /// MOVE of a collection: the key (in the event's database) now holds what the same key held in the database
    /// named by `value` (decimal); a `del` of the key in that database follows. A string's MOVE logs `set` instead.
    case move = 8
    /// SWAPDB: the event's database and the database named by `value` (decimal) exchanged their keys; no key.
    case swapDatabases = 9
    /// Hash: `element` (the field) was set to `value`.
    case hashSet = 16
    /// Hash: the field `element` was deleted.
    case hashDelete = 17
    /// Set: the member `element` was added.
    case setAdd = 32
    /// Set: the member `element` was removed.
    case setRemove = 33
    /// List: `element` was pushed at the tail (`rpush key element`).
    case listRightPush = 48
    /// List: `element` was pushed at the head (`lpush key element`).
    case listLeftPush = 49
    /// List: `element` was popped from the head (`lpop key`; the element tells what went).
    case listLeftPop = 50
    /// List: `element` was popped from the tail (`rpop key`).
    case listRightPop = 51
    /// List: the item at index `element` (decimal) became `value` (`lset key index value`).
    case listSet = 52
    /// List: `value` was inserted before the first `element` (`linsert key BEFORE pivot value`).
    case listInsertBefore = 53
    /// List: `value` was inserted after the first `element` (`linsert key AFTER pivot value`).
    case listInsertAfter = 54
    /// List: one occurrence of `value` was removed, the first from the head (`element` "1") or from the tail ("-1")
    /// (`lrem key 1|-1 value`).
    case listRemove = 55
    /// Sorted set: the member `element` was added, or its score changed, to `value` (the score as ZADD reads it:
    /// `%.17g`, `inf`, `-inf`).
    case sortedSetAdd = 64
    /// Sorted set: the member `element` was removed.
    case sortedSetRemove = 65

    /// The name watchers and KV.HISTORY show: the Redis command that replays it, for collection operations.
    public var name: StaticString {
        switch self {
        case .set: "set"
        case .delete: "del"
        case .expire: "expired"
        case .flush: "flush"
        case .expireAt: "pexpireat"
        case .persist: "persist"
        case .rename: "rename"
        case .move: "move"
        case .swapDatabases: "swapdb"
        case .hashSet: "hset"
        case .hashDelete: "hdel"
        case .setAdd: "sadd"
        case .setRemove: "srem"
        case .listRightPush: "rpush"
        case .listLeftPush: "lpush"
        case .listLeftPop: "lpop"
        case .listRightPop: "rpop"
        case .listSet: "lset"
        case .listInsertBefore, .listInsertAfter: "linsert"
        case .listRemove: "lrem"
        case .sortedSetAdd: "zadd"
        case .sortedSetRemove: "zrem"
        }
    }

    /// A word the replayed command takes before the element (`linsert key BEFORE pivot value`), or nil.
    public var wordBeforeElement: StaticString? {
        switch self {
        case .listInsertBefore: "BEFORE"
        case .listInsertAfter: "AFTER"
        default: nil
        }
    }

    /// The arguments after the key in a watch frame or KV.HISTORY entry: the word, the element, the value.
    public var argumentCount: Int { (hasElement ? 2 : 1) + (wordBeforeElement == nil ? 0 : 1) }

    /// Whether the event names an element (a field or member) besides its key.
    public var hasElement: Bool { rawValue >= 16 }

    /// Whether the event carries a value (`ChangeEvent.value`).
    public var carriesValue: Bool {
        switch self {
        case .set, .hashSet, .sortedSetAdd, .rename, .move, .swapDatabases, .listSet, .listInsertBefore, .listInsertAfter, .listRemove: true
        default: false
        }
    }

    /// Whether the key exists after the event, so the event carries its revisions (`ChangeEvent.keyRevision`).
    var keepsKey: Bool {
        switch self {
        case .delete, .expire, .flush, .swapDatabases: false
        default: true
        }
    }
}

/// One event of the change log: the store's revision that made it, its place among that revision's events, and the
/// change itself.
public struct ChangeEvent: Sendable {
    public let revision: UInt64
    /// Index of the event among its revision's events, from 0.
    public let index: UInt32
    public let operation: ChangeOperation
    public let key: ByteBuffer
    /// The field or member an element operation changes; nil for whole-key operations.
    public let element: ByteBuffer?
    /// The new value: a string's (`set`), a hash field's (`hset`), the source key of a `rename`; nil otherwise.
    public let value: ByteBuffer?
    /// The type of the key the event is about (for `del`/`expired`, the type it had).
    public let valueType: ValueType
    /// The key's expiry after a `set`, or the time of a `pexpireat` (0 for none).
    public let expireAt: Int64
    /// The key's revisions after an event that leaves it in place (its creation revision and version); `modified`
    /// is this event's revision.
    public let keyRevision: KeyRevision?
    /// The key's revision before this event (its `modified`), 0 when it did not exist.
    public let previousRevision: UInt64
    /// Unix milliseconds of the command that made the event.
    public let time: Int64
    /// The logical database (SELECT) of the key; 0 for every event written before numbered databases.
    public let database: UInt32

    public init(
        revision: UInt64, index: UInt32, operation: ChangeOperation, key: ByteBuffer, element: ByteBuffer? = nil,
        value: ByteBuffer?, valueType: ValueType = .string, expireAt: Int64, keyRevision: KeyRevision?,
        previousRevision: UInt64, time: Int64, database: UInt32 = 0
    ) {
        self.database = database
        self.revision = revision
        self.index = index
        self.operation = operation
        self.key = key
        self.element = element
        self.value = value
        self.valueType = valueType
        self.expireAt = expireAt
        self.keyRevision = keyRevision
        self.previousRevision = previousRevision
        self.time = time
    }
}

/// The change log's layout in LevelDB (docs/storage-format.md):
/// ```
///   'r' + BE64 revision + BE32 index  →  [op u8][flags u8][time BE64][previous revision BE64]
///                                        [database BE32, if flags & otherDatabase][key length varint][key][expireAt BE64, if flags & hasExpiry]
///                                        [created BE64][version BE64], if the op keeps the key]
///                                        [element length varint][element], for element ops][value...]
///   'h' + BE32 key length + key + BE64 revision + BE32 index  →  empty   the key's events, for history and AT reads
///                                                                          (one per event: a command can change a key
///                                                                          twice, e.g. a lazy expiry then a SET)
///   'H' + BE32 database + the 'h' layout after its 'h'                 the same, for databases 1 and up
///   'x' + BE64 revision  →  empty                                      revisions that flushed every key (of db 0)
///   'x' + BE64 revision + BE32 database  →  empty                      revisions that flushed database 1 and up
/// ```
/// The flags' upper four bits are the key's value type (as in records). Layout version 2 wrote one `h` entry per key
/// and revision, `'h' + BE32 key length + key + BE64 revision → BE32 index`, and its events have no
/// `indexedHistory` flag; both forms are read.
enum ChangeLogLayout {
    static let eventPrefix = UInt8(ascii: "r")
    static let historyPrefix = UInt8(ascii: "h")
    /// The history index of databases 1 and up: `H` + BE32 database, then what follows `h` in database 0's.
    static let numberedHistoryPrefix = UInt8(ascii: "H")
    static let flushPrefix = UInt8(ascii: "x")
    static let hasExpiry: UInt8 = 0x01
    /// The event's `h` entry carries its index in the key (layout version 3).
    static let indexedHistory: UInt8 = 0x02
    /// The event is of a logical database other than 0, which follows the fixed fields (BE32); database 0's events
    /// are byte for byte what they were before numbered databases.
    static let otherDatabase: UInt8 = 0x04

    /// `m` + `rev`: the last revision made (BE64).
    static let revisionKey: [UInt8] = [StorageLayout.metadataPrefix] + Array("rev".utf8)
    /// `m` + `logfrom`: the oldest revision the log still holds (BE64); older ones are compacted.
    static let oldestKey: [UInt8] = [StorageLayout.metadataPrefix] + Array("logfrom".utf8)
    /// `m` + `logbytes`: the size of the log's entries (BE64), for retention by size.
    static let sizeKey: [UInt8] = [StorageLayout.metadataPrefix] + Array("logbytes".utf8)
    /// Present while the server runs with `--change-log off`: revisions advance without events.
    static let pausedKey: [UInt8] = [StorageLayout.metadataPrefix] + Array("logpaused".utf8)

    static func eventKey(revision: UInt64, index: UInt32, into scratch: inout ByteBuffer) {
        scratch.clear()
        scratch.writeInteger(eventPrefix)
        scratch.writeInteger(revision, endianness: .big)
        scratch.writeInteger(index, endianness: .big)
    }

    /// The `h` key of a key's event: with `index`, one entry per event (layout 3); without, layout 2's entry per key
    /// and revision (also the prefix of the revision's layout-3 entries).
    static func historyKey(
        _ key: UnsafeRawBufferPointer, database: UInt32 = 0, revision: UInt64, index: UInt32? = nil,
        into scratch: inout ByteBuffer
    ) {
        historyKeyPrefix(key, database: database, into: &scratch)
        scratch.writeInteger(revision, endianness: .big)
        if let index { scratch.writeInteger(index, endianness: .big) }
    }

    /// The part of a key's `h` entries before the revision: every entry of the key starts with it.
    static func historyKeyPrefix(_ key: UnsafeRawBufferPointer, database: UInt32 = 0, into scratch: inout ByteBuffer) {
        scratch.clear()
        if database == 0 {
            scratch.writeInteger(historyPrefix)
        } else {
            scratch.writeInteger(numberedHistoryPrefix)
            scratch.writeInteger(database, endianness: .big)
        }
        scratch.writeInteger(UInt32(truncatingIfNeeded: key.count), endianness: .big)
        scratch.writeBytes(key)
    }

    /// The revision and index an `h` entry stands for, given the length of its key's prefix (`h`, length, key): the
    /// index is in the LevelDB key (layout 3) or the value (layout 2). Nil for an entry of another shape.
    static func historyEntry(
        key storageKey: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, prefixLength: Int
    ) -> (revision: UInt64, index: UInt32)? {
        let rest = UnsafeRawBufferPointer(rebasing: storageKey[prefixLength...])
        guard let revision = bigEndian64(rest) else { return nil }
        let indexBytes: UnsafeRawBufferPointer
        switch rest.count {
        case 12: indexBytes = UnsafeRawBufferPointer(rebasing: rest[8...])
        case 8 where value.count >= 4: indexBytes = value
        default: return nil
        }
        return (revision, indexBytes.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    }

    static func flushKey(revision: UInt64, database: UInt32 = 0) -> [UInt8] {
        var key = [flushPrefix]
        withUnsafeBytes(of: revision.bigEndian) { key.append(contentsOf: $0) }
        if database != 0 { key += DatabaseLayout.bigEndian(database) }
        return key
    }

    /// The revision and database of an `x` marker; nil for another key.
    static func flushEntry(_ storageKey: UnsafeRawBufferPointer) -> (revision: UInt64, database: UInt32)? {
        guard storageKey.first == flushPrefix, storageKey.count == 9 || storageKey.count == 13,
            let revision = bigEndian64(UnsafeRawBufferPointer(rebasing: storageKey[1...]))
        else { return nil }
        return (revision, storageKey.count == 13 ? DatabaseLayout.bigEndian32(storageKey, at: 9) : 0)
    }

    static func encodeEvent(
        _ operation: ChangeOperation, key: UnsafeRawBufferPointer, element: UnsafeRawBufferPointer? = nil,
        value: UnsafeRawBufferPointer?, type: ValueType = .string, expireAt: Int64, keyRevision: KeyRevision?,
        previousRevision: UInt64, time: Int64, database: UInt32 = 0, into scratch: inout ByteBuffer
    ) {
        scratch.clear()
        scratch.writeInteger(operation.rawValue)
        scratch.writeInteger(
            (expireAt > 0 ? hasExpiry : 0) | indexedHistory | (database != 0 ? otherDatabase : 0)
                | type.rawValue << RecordFormat.typeShift)
        scratch.writeInteger(UInt64(bitPattern: time), endianness: .big)
        scratch.writeInteger(previousRevision, endianness: .big)
        if database != 0 { scratch.writeInteger(database, endianness: .big) }
        writeVarint(UInt64(key.count), into: &scratch)
        scratch.writeBytes(key)
        if expireAt > 0 { scratch.writeInteger(UInt64(bitPattern: expireAt), endianness: .big) }
        if operation.keepsKey {
            scratch.writeInteger(keyRevision?.created ?? 0, endianness: .big)
            scratch.writeInteger(keyRevision?.version ?? 0, endianness: .big)
        }
        if operation.hasElement {
            let element = element ?? UnsafeRawBufferPointer(start: nil, count: 0)
            writeVarint(UInt64(element.count), into: &scratch)
            scratch.writeBytes(element)
        }
        if let value { scratch.writeBytes(value) }
    }

    /// Whether an `r` entry's `h` entry carries its index in the key (layout 3), from its flags byte.
    static func hasIndexedHistory(_ record: UnsafeRawBufferPointer) -> Bool {
        record.count > 1 && record[1] & indexedHistory != 0
    }

    /// Decodes an `r` entry; nil when it is damaged.
    static func decodeEvent(key storageKey: UnsafeRawBufferPointer, value record: UnsafeRawBufferPointer) -> ChangeEvent? {
        guard storageKey.count == 13, storageKey[0] == eventPrefix else { return nil }
        var buffer = ByteBuffer(bytes: record)
        guard let rawOperation = buffer.readInteger(as: UInt8.self), let operation = ChangeOperation(rawValue: rawOperation),
            let flags = buffer.readInteger(as: UInt8.self),
            let time = buffer.readInteger(endianness: .big, as: UInt64.self),
            let previous = buffer.readInteger(endianness: .big, as: UInt64.self),
            let database = flags & otherDatabase == 0 ? 0 : buffer.readInteger(endianness: .big, as: UInt32.self),
            let keyLength = readVarint(from: &buffer), keyLength <= buffer.readableBytes,
            let key = buffer.readSlice(length: Int(keyLength))
        else { return nil }
        guard let type = RecordFormat.type(ofFlags: flags) else { return nil }
        var expireAt: Int64 = 0
        if flags & hasExpiry != 0 {
            guard let stored = buffer.readInteger(endianness: .big, as: UInt64.self) else { return nil }
            expireAt = Int64(bitPattern: stored)
        }
        var revision: UInt64 = 0
        for offset in 1..<9 { revision = revision << 8 | UInt64(storageKey[offset]) }
        var index: UInt32 = 0
        for offset in 9..<13 { index = index << 8 | UInt32(storageKey[offset]) }
        var keyRevision: KeyRevision?
        // Layout 2 logged revisions for `set` only, and had no other operation that keeps the key.
        if operation.keepsKey {
            guard let created = buffer.readInteger(endianness: .big, as: UInt64.self),
                let version = buffer.readInteger(endianness: .big, as: UInt64.self)
            else { return nil }
            keyRevision = KeyRevision(created: created, modified: revision, version: version)
        }
        var element: ByteBuffer?
        if operation.hasElement {
            guard let length = readVarint(from: &buffer), length <= buffer.readableBytes,
                let bytes = buffer.readSlice(length: Int(length))
            else { return nil }
            element = bytes
        }
        let hasValue = operation.carriesValue
        return ChangeEvent(
            revision: revision, index: index, operation: operation, key: key, element: element,
            value: hasValue ? buffer : nil, valueType: type, expireAt: expireAt, keyRevision: keyRevision,
            previousRevision: previous, time: Int64(bitPattern: time), database: database)
    }

    static func writeVarint(_ value: UInt64, into buffer: inout ByteBuffer) {
        var remaining = value
        while remaining >= 0x80 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: remaining) | 0x80)
            remaining >>= 7
        }
        buffer.writeInteger(UInt8(remaining))
    }

    static func readVarint(from buffer: inout ByteBuffer) -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let byte = buffer.readInteger(as: UInt8.self) else { return nil }
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        return nil
    }

    /// Reads a big-endian u64 from the start of `bytes`; nil when there are fewer than 8.
    static func bigEndian64(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count >= 8 else { return nil }
        var value: UInt64 = 0
        for offset in 0..<8 { value = value << 8 | UInt64(bytes[offset]) }
        return value
    }
}
