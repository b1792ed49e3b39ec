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

/// What a change-log event did to its key.
public enum ChangeOperation: UInt8, Sendable {
    /// The key was written (created or overwritten; a TTL change rewrites it too).
    case set = 1
    /// The key was deleted by a command.
    case delete = 2
    /// The key was deleted because its expiry passed.
    case expire = 3
    /// Every key was deleted (FLUSHDB, FLUSHALL); the event has no key.
    case flush = 4

    /// The name watchers and KV.HISTORY show.
    public var name: StaticString {
        switch self {
        case .set: "set"
        case .delete: "del"
        case .expire: "expired"
        case .flush: "flush"
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
    /// The new value (`set` only).
    public let value: ByteBuffer?
    /// The key's expiry after a `set` (0 for none).
    public let expireAt: Int64
    /// The key's revisions after a `set` (its creation revision and version); `modified` is this event's revision.
    public let keyRevision: KeyRevision?
    /// The key's revision before this event (its `modified`), 0 when it did not exist.
    public let previousRevision: UInt64
    /// Unix milliseconds of the command that made the event.
    public let time: Int64
}

/// The change log's layout in LevelDB (docs/storage-format.md):
/// ```
///   'r' + BE64 revision + BE32 index  →  [op u8][flags u8][time BE64][previous revision BE64]
///                                        [key length varint][key][expireAt BE64, if flags & hasExpiry]
///                                        [created BE64][version BE64], for a set][value...]
///   'h' + BE32 key length + key + BE64 revision + BE32 index  →  empty   the key's events, for history and AT reads
///                                                                          (one per event: a command can change a key
///                                                                          twice, e.g. a lazy expiry then a SET)
///   'x' + BE64 revision  →  empty                                      revisions that flushed every key
/// ```
/// The flags byte keeps its upper bits for a value type tag (0 = string) when other types join.
enum ChangeLogLayout {
    static let eventPrefix = UInt8(ascii: "r")
    static let historyPrefix = UInt8(ascii: "h")
    static let flushPrefix = UInt8(ascii: "x")
    static let hasExpiry: UInt8 = 0x01

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

    static func historyKey(
        _ key: UnsafeRawBufferPointer, revision: UInt64, index: UInt32, into scratch: inout ByteBuffer
    ) {
        historyKeyPrefix(key, into: &scratch)
        scratch.writeInteger(revision, endianness: .big)
        scratch.writeInteger(index, endianness: .big)
    }

    /// The part of a key's `h` entries before the revision: every entry of the key starts with it.
    static func historyKeyPrefix(_ key: UnsafeRawBufferPointer, into scratch: inout ByteBuffer) {
        scratch.clear()
        scratch.writeInteger(historyPrefix)
        scratch.writeInteger(UInt32(truncatingIfNeeded: key.count), endianness: .big)
        scratch.writeBytes(key)
    }

    /// Bytes of an `h` key after its prefix: the revision and the index.
    static let historySuffixLength = 12

    /// The revision and index at the end of an `h` key of `prefixLength` bytes of prefix; nil when it is not one.
    static func historyEntry(_ storageKey: UnsafeRawBufferPointer, prefixLength: Int) -> (revision: UInt64, index: UInt32)? {
        guard storageKey.count == prefixLength + historySuffixLength,
            let revision = bigEndian64(UnsafeRawBufferPointer(rebasing: storageKey[prefixLength...]))
        else { return nil }
        var index: UInt32 = 0
        for offset in (prefixLength + 8)..<storageKey.count { index = index << 8 | UInt32(storageKey[offset]) }
        return (revision, index)
    }

    static func flushKey(revision: UInt64) -> [UInt8] {
        var key = [flushPrefix]
        withUnsafeBytes(of: revision.bigEndian) { key.append(contentsOf: $0) }
        return key
    }

    static func encodeEvent(
        _ operation: ChangeOperation, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer?, expireAt: Int64,
        keyRevision: KeyRevision?, previousRevision: UInt64, time: Int64, into scratch: inout ByteBuffer
    ) {
        scratch.clear()
        scratch.writeInteger(operation.rawValue)
        scratch.writeInteger(expireAt > 0 ? hasExpiry : 0)
        scratch.writeInteger(UInt64(bitPattern: time), endianness: .big)
        scratch.writeInteger(previousRevision, endianness: .big)
        writeVarint(UInt64(key.count), into: &scratch)
        scratch.writeBytes(key)
        if expireAt > 0 { scratch.writeInteger(UInt64(bitPattern: expireAt), endianness: .big) }
        if operation == .set {
            scratch.writeInteger(keyRevision?.created ?? 0, endianness: .big)
            scratch.writeInteger(keyRevision?.version ?? 0, endianness: .big)
        }
        if let value { scratch.writeBytes(value) }
    }

    /// Decodes an `r` entry; nil when it is damaged.
    static func decodeEvent(key storageKey: UnsafeRawBufferPointer, value record: UnsafeRawBufferPointer) -> ChangeEvent? {
        guard storageKey.count == 13, storageKey[0] == eventPrefix else { return nil }
        var buffer = ByteBuffer(bytes: record)
        guard let rawOperation = buffer.readInteger(as: UInt8.self), let operation = ChangeOperation(rawValue: rawOperation),
            let flags = buffer.readInteger(as: UInt8.self),
            let time = buffer.readInteger(endianness: .big, as: UInt64.self),
            let previous = buffer.readInteger(endianness: .big, as: UInt64.self),
            let keyLength = readVarint(from: &buffer), keyLength <= buffer.readableBytes,
            let key = buffer.readSlice(length: Int(keyLength))
        else { return nil }
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
        if operation == .set {
            guard let created = buffer.readInteger(endianness: .big, as: UInt64.self),
                let version = buffer.readInteger(endianness: .big, as: UInt64.self)
            else { return nil }
            keyRevision = KeyRevision(created: created, modified: revision, version: version)
        }
        return ChangeEvent(
            revision: revision, index: index, operation: operation, key: key,
            value: operation == .set ? buffer : nil, expireAt: expireAt, keyRevision: keyRevision,
            previousRevision: previous, time: Int64(bitPattern: time))
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
