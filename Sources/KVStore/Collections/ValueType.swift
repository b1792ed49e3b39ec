import NIOCore

/// The type of the value a key holds: the tag in the upper four bits of its record's flags (docs/storage-format.md).
///
/// A string keeps its value in the record itself. Every other type is a collection: the record holds its metadata
/// (`CollectionMetadata`) and each element is a LevelDB record of its own under the `c` namespace (`ElementLayout`).
/// New types take the next free tag; the raw values are stored on disk and never change.
public enum ValueType: UInt8, Sendable, CaseIterable {
    case string = 0
    case hash = 1
    case set = 2
    /// Lists: elements by position, `CollectionMetadata.ends` holds head and tail (`ListLayout`).
    case list = 3
    /// Sorted sets: elements by member, plus a score index under its own element kind.
    case sortedSet = 4

    /// The name TYPE and SCAN's TYPE option use.
    public var name: String {
        switch self {
        case .string: "string"
        case .hash: "hash"
        case .set: "set"
        case .list: "list"
        case .sortedSet: "zset"
        }
    }

    /// The type TYPE / SCAN TYPE name `name` (ASCII case ignored), or nil.
    public init?(name: some Collection<UInt8>) {
        let lowered = String(decoding: name.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
        guard let type = Self.allCases.first(where: { $0.name == lowered }) else { return nil }
        self = type
    }

    /// Whether values of this type are collections, stored as metadata plus element records.
    @inlinable public var isCollection: Bool { self != .string }

    /// The element kinds a collection of this type stores (`ElementLayout`), all of which COPY copies.
    public var elementKinds: [UInt8] {
        switch self {
        case .string: []
        case .hash: [ElementLayout.hashField]
        case .set: [ElementLayout.setMember]
        case .list: [ElementLayout.listItem]
        case .sortedSet: [ElementLayout.sortedSetMember, ElementLayout.sortedSetScore]
        }
    }

    /// How a collection's elements are told as change events when they are sent or copied whole (KV.WATCH INITIAL,
    /// COPY): the element kind that holds them, and the operation that recreates one (`hset field value`,
    /// `sadd member`, `rpush item` (head to tail), `zadd member score`). Nil for a type that has none.
    public var elementEvents: (kind: UInt8, operation: ChangeOperation)? {
        switch self {
        case .hash: (ElementLayout.hashField, .hashSet)
        case .set: (ElementLayout.setMember, .setAdd)
        case .list: (ElementLayout.listItem, .listRightPush)
        case .sortedSet: (ElementLayout.sortedSetMember, .sortedSetAdd)
        case .string: nil
        }
    }

    /// Whether an element event names the element's value rather than its key: a list's items are stored by
    /// position, and `rpush` names the item.
    public var eventsNameValues: Bool { self == .list }
}

/// A command met a key of another type than it works on: `-WRONGTYPE Operation against a key holding the wrong kind
/// of value`. Thrown by the keyspace before anything is written.
public struct WrongTypeError: Error, Sendable, Equatable {
    /// The type the key holds.
    public let found: ValueType

    public init(found: ValueType) {
        self.found = found
    }
}

/// What a collection's record holds in place of a string's value:
/// ```
///   [generation BE64][count BE64][flags u8][head BE64, tail BE64, if flags & hasEnds]
/// ```
/// - `generation` names the collection's elements (`ElementLayout`). Every collection created gets a new one from a
///   store-wide counter, so a collection created under the name of a deleted one never sees its leftover elements,
///   and deleting or renaming a collection touches only its record.
/// - `count` is the number of elements, so HLEN and SCARD are O(1).
/// - `flags & promoted`: the collection has outgrown Redis's compact encoding (listpack, intset) and, as in Redis,
///   stays in the large one (hashtable) even if it shrinks; only OBJECT ENCODING reads it.
/// - `head`/`tail`: the ends of a list's positions (Kvrocks' `ListMetadata`), for types that need them.
public struct CollectionMetadata: Sendable, Equatable {
    public var generation: UInt64
    public var count: Int
    /// Whether Redis would have converted the value to its large encoding by now (sticky).
    public var isPromoted: Bool
    /// A list's first and one-past-last positions; nil for other types.
    public var ends: Ends?

    public struct Ends: Sendable, Equatable {
        public var head: UInt64
        public var tail: UInt64

        public init(head: UInt64, tail: UInt64) {
            self.head = head
            self.tail = tail
        }
    }

    static let promoted: UInt8 = 0x01
    static let hasEnds: UInt8 = 0x02
    static let fixedLength = 17

    public init(generation: UInt64, count: Int = 0, isPromoted: Bool = false, ends: Ends? = nil) {
        self.generation = generation
        self.count = count
        self.isPromoted = isPromoted
        self.ends = ends
    }

    /// Decodes a collection record's value; nil when it is too short.
    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.fixedLength else { return nil }
        generation = RecordFormat.bigEndian64(bytes, at: 0)
        count = Int(truncatingIfNeeded: RecordFormat.bigEndian64(bytes, at: 8))
        let flags = bytes[16]
        isPromoted = flags & Self.promoted != 0
        if flags & Self.hasEnds != 0 {
            guard bytes.count >= Self.fixedLength + 16 else { return nil }
            ends = Ends(head: RecordFormat.bigEndian64(bytes, at: 17), tail: RecordFormat.bigEndian64(bytes, at: 25))
        } else {
            ends = nil
        }
    }

    /// The record value.
    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(Self.fixedLength + (ends == nil ? 0 : 16))
        buffer.writeInteger(generation, endianness: .big)
        buffer.writeInteger(UInt64(count), endianness: .big)
        buffer.writeInteger((isPromoted ? Self.promoted : 0) | (ends == nil ? 0 : Self.hasEnds))
        if let ends {
            buffer.writeInteger(ends.head, endianness: .big)
            buffer.writeInteger(ends.tail, endianness: .big)
        }
        return buffer
    }
}

/// The LevelDB keys of collection elements:
/// ```
///   'c' + BE64 generation + kind + element  →  element value
/// ```
/// The user key is not part of it: generations are unique store-wide, so a collection's elements are one contiguous
/// range (`c` + generation) whatever its name, a RENAME moves only the record, and the collector deletes a dropped
/// collection by range. The kind byte lets one type keep several indexes (a sorted set: by member and by score);
/// each type's element encoding is below. Elements sort by their bytes, so range queries are range scans.
public enum ElementLayout {
    /// Hash: `'f' + field → value`.
    public static let hashField = UInt8(ascii: "f")
    /// Set: `'m' + member → empty`.
    public static let setMember = UInt8(ascii: "m")
    /// List: `'l' + BE64 position → item` (positions between `CollectionMetadata.ends`, see `ListLayout`).
    public static let listItem = UInt8(ascii: "l")
    /// Sorted set: `'m' + member → score text` and `'s' + BE64 order-preserving score + member → empty`
    /// (`SortedSetScore`).
    public static let sortedSetMember = UInt8(ascii: "m")
    public static let sortedSetScore = UInt8(ascii: "s")

    /// The first bytes of every element of one collection: `'c' + BE64 generation`.
    @inlinable
    public static func collectionPrefix(_ generation: UInt64) -> [UInt8] {
        var prefix = [StorageLayout.elementPrefix]
        withUnsafeBytes(of: generation.bigEndian) { prefix.append(contentsOf: $0) }
        return prefix
    }

    /// The first bytes of the elements of one kind: `'c' + BE64 generation + kind`.
    @inlinable
    public static func kindPrefix(_ generation: UInt64, _ kind: UInt8) -> [UInt8] {
        collectionPrefix(generation) + [kind]
    }

    /// Writes the LevelDB key of one element into `scratch`, replacing its contents.
    @inlinable
    public static func encode(
        generation: UInt64, kind: UInt8, element: UnsafeRawBufferPointer, into scratch: inout ByteBuffer
    ) {
        scratch.clear()
        scratch.writeInteger(StorageLayout.elementPrefix)
        scratch.writeInteger(generation, endianness: .big)
        scratch.writeInteger(kind)
        scratch.writeBytes(element)
    }

    /// Bytes before the element in every element key.
    public static let headerLength = 10
}
