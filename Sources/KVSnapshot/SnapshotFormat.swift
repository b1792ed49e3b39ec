import KVStore

/// The record format inside state.bin's gzip stream (docs/snapshot-format.md). All integers are big-endian.
/// ```
///   header   magic "KVNSNAP\0" (8) | version u16 | reserved u16 (0) | takenAt i64 (Unix ms)
///   record   kind u8 | flags u8 (bit 0: has expiry) | [expireAt i64] | keyLength u32 | key | body
///                                                                                (repeated, in key order)
///            kind 0x01 string      body: valueLength u64 | value
///            kind 0x02 hash        body: count u64 | count × (fieldLength u32 | field | valueLength u64 | value)
///            kind 0x03 set         body: count u64 | count × (memberLength u32 | member)
///            kind 0x04 list        body: count u64 | count × (valueLength u64 | value), head to tail
///            kind 0x05 sorted set  body: count u64 | count × (memberLength u32 | member | score f64 bits)
///   select   kind u8 (0x06) | database u32      the records after it are of that database (version 3)
///   trailer  kind u8 (0xFF end) | recordCount u64 (key records, not elements or selects)
/// ```
/// The trailer's count lets a reader tell a complete stream from one cut at a record boundary; gzip's own CRC-32
/// and length catch damage inside the stream. Version 1 has string records only; version 2 adds the collection
/// kinds, and reads version 1 as it is; version 3 adds the select record (numbered databases). Records before any
/// select are database 0's.
public enum SnapshotFormat {
    /// The newest version this code reads and writes.
    public static let version: UInt16 = 3
    /// The version written for a keyspace whose keys are all in database 0: its files stay what they were before
    /// numbered databases, readable by an older kvnode.
    public static let singleDatabaseVersion: UInt16 = 2
    static let magic: [UInt8] = Array("KVNSNAP".utf8) + [0]
    static let headerLength = 8 + 2 + 2 + 8
    static let trailerLength = 1 + 8

    static let stringRecord: UInt8 = 0x01
    static let hashRecord: UInt8 = 0x02
    static let setRecord: UInt8 = 0x03
    static let listRecord: UInt8 = 0x04
    static let sortedSetRecord: UInt8 = 0x05
    static let selectRecord: UInt8 = 0x06
    static let endOfRecords: UInt8 = 0xFF
    static let hasExpiry: UInt8 = 0x01

    /// Longest key a record may claim; guards the reader against a damaged length.
    static let maximumKeyLength = 512 << 20
}

extension SnapshotFormat {
    /// The record kind of a value type.
    static func recordKind(of type: ValueType) -> UInt8 {
        switch type {
        case .string: stringRecord
        case .hash: hashRecord
        case .set: setRecord
        case .list: listRecord
        case .sortedSet: sortedSetRecord
        }
    }

    /// The value type of a record kind; nil for a kind this version does not know.
    static func valueType(ofRecordKind kind: UInt8, version: UInt16) -> ValueType? {
        switch kind {
        case stringRecord: .string
        case hashRecord where version >= 2: .hash
        case setRecord where version >= 2: .set
        case listRecord where version >= 2: .list
        case sortedSetRecord where version >= 2: .sortedSet
        default: nil
        }
    }
}

/// One item of a snapshot, as handed to readers: a key (a string with its value, or a collection whose `count`
/// elements follow as `.element` items), or one element of the collection before it. The buffers are valid only
/// during the callback.
public struct SnapshotEntry {
    public enum Kind: Equatable, Sendable {
        case string
        /// A collection key; its elements are the next `count` entries.
        case collection(ValueType, count: Int)
        /// One element of the last collection.
        case element
    }

    public let kind: Kind
    /// A key's name; for an element, the hash field, set or sorted set member, or list item.
    public let key: UnsafeRawBufferPointer
    /// A string's value, or a hash field's; empty otherwise.
    public let value: UnsafeRawBufferPointer
    /// Unix milliseconds, 0 for none (keys only).
    public let expireAt: Int64
    /// A sorted set member's score (0 otherwise).
    public let score: Double
    /// The logical database (SELECT) of the key, or of the collection an element belongs to.
    public let database: UInt32

    init(
        kind: Kind = .string, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        expireAt: Int64 = 0, score: Double = 0, database: UInt32 = 0
    ) {
        self.database = database
        self.kind = kind
        self.key = key
        self.value = value
        self.expireAt = expireAt
        self.score = score
    }
}

@available(*, unavailable)
extension SnapshotEntry: Sendable {}
