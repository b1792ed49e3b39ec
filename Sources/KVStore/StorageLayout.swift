import NIOCore

/// How the keyspace maps onto LevelDB keys (documented in docs/storage-format.md).
///
/// Every LevelDB key starts with a one-byte namespace, so that each kind of data is a contiguous, ordered range:
/// ```
///   'k' + key                        user key → record (flags, optional expiry, value)
///   'e' + expireAt (BE u64 ms) + key  expiry index, ordered by time, for the background sweeper
///   'm' + name                       internal metadata (format version, key count, revision)
///   'r', 'h', 'x'                    the change log, its per-key index and flush markers (`ChangeLogLayout`)
///   'c' + generation (BE u64) + kind + element     the elements of collections (`ElementLayout`)
///   'g' + first generation (BE u64)  → end generation, elements    collections waiting to be collected
/// ```
/// Bytes other than these are reserved for later keyspaces (indexes).
public enum StorageLayout {
    /// Namespace of user keys.
    public static let keyPrefix = UInt8(ascii: "k")
    /// Namespace of the expiry index.
    public static let expiryPrefix = UInt8(ascii: "e")
    /// Namespace of internal metadata.
    public static let metadataPrefix = UInt8(ascii: "m")

    /// Namespace of collection elements: `'c' + BE64 generation + kind + element`.
    public static let elementPrefix = UInt8(ascii: "c")
    /// Namespace of dropped collections whose elements the collector still has to delete.
    public static let garbagePrefix = UInt8(ascii: "g")

    /// Version of this layout, stored under `m` + `format`; bumped on incompatible changes. Version 2 added
    /// revisions to records and the change log; version 3 added value types (a type tag in the record's flags,
    /// collections and their elements) and one history entry per event. Records and log entries of versions 1 and 2
    /// read as they are: a string without revisions, a string, one history entry per key and revision.
    public static let formatVersion: UInt8 = 3

    static let formatKey: [UInt8] = [metadataPrefix] + Array("format".utf8)
    static let keyCountKey: [UInt8] = [metadataPrefix] + Array("keys".utf8)
    /// `m` + `gen`: the last collection generation handed out (BE64).
    static let generationKey: [UInt8] = [metadataPrefix] + Array("gen".utf8)

    /// Writes the LevelDB key of user key `key` into `scratch`, replacing its contents.
    @inlinable
    static func encodeUserKey(_ key: UnsafeRawBufferPointer, into scratch: inout ByteBuffer) {
        scratch.clear()
        scratch.writeInteger(keyPrefix)
        scratch.writeBytes(key)
    }

    /// Writes the expiry-index key for `key` expiring at `expireAt` into `scratch`, replacing its contents.
    @inlinable
    static func encodeExpiryKey(_ key: UnsafeRawBufferPointer, expireAt: Int64, into scratch: inout ByteBuffer) {
        scratch.clear()
        scratch.writeInteger(expiryPrefix)
        scratch.writeInteger(UInt64(bitPattern: expireAt), endianness: .big)
        scratch.writeBytes(key)
    }

    /// Splits an expiry-index key into its time and user key; nil for a key outside the index.
    @inlinable
    static func decodeExpiryKey(_ storageKey: UnsafeRawBufferPointer) -> (expireAt: Int64, key: UnsafeRawBufferPointer)? {
        guard storageKey.count >= 9, storageKey[0] == expiryPrefix else { return nil }
        var expireAt: UInt64 = 0
        for index in 1..<9 { expireAt = expireAt << 8 | UInt64(storageKey[index]) }
        return (Int64(bitPattern: expireAt), UnsafeRawBufferPointer(rebasing: storageKey[9...]))
    }
}

/// The value stored under a user key: a flags byte, the expiry time and the key's revisions when the flags say so,
/// then the value.
/// ```
///   [flags u8][expireAt BE i64, if flags & hasExpiry][created BE u64, modified BE u64, version BE u64, if flags &
///   hasRevision][value bytes ...]
/// ```
/// Records written before revisions were kept have no revisions (`KeyRevision.unknown`). The high four bits of
/// `flags` are the value type (`ValueType`, 0 = string, so every record of layout versions 1 and 2 is a string); a
/// string's value bytes are its value, a collection's are its metadata (`CollectionMetadata`). `rawString` marks a
/// string Redis would hold as `raw` whatever its content (OBJECT ENCODING only).
public enum RecordFormat {
    @usableFromInline static let hasExpiry: UInt8 = 0x01
    @usableFromInline static let hasRevision: UInt8 = 0x02
    /// A string changed in place (APPEND, SETRANGE, SETBIT, BITFIELD) or built by BITOP: Redis holds such a value as a
    /// `raw` string even when it reads as an integer or is short enough for `embstr`.
    @usableFromInline static let rawString: UInt8 = 0x04
    @usableFromInline static let typeShift: UInt8 = 4

    /// Whether a key with expiry `expireAt` (0 for none) is gone at `now`. As Redis's `keyIsExpired` (`now > when`), a
    /// key lives through its expiry millisecond; a write that sets a time already reached deletes it (`<=`, as Redis's
    /// `checkAlreadyExpired`).
    @inlinable public static func hasExpired(_ expireAt: Int64, at now: Int64) -> Bool {
        expireAt > 0 && expireAt < now
    }

    /// Splits a stored record into its expiry (0 for none), value type and value (a collection's metadata). Returns
    /// nil for a record too short to be valid, or of a type this version does not know.
    @inlinable
    static func decode(_ record: UnsafeRawBufferPointer) -> (expireAt: Int64, type: ValueType, value: UnsafeRawBufferPointer)? {
        decodeWithRevision(record).map { ($0.expireAt, $0.type, $0.value) }
    }

    /// The value type of a stored record, from its first byte.
    @inlinable
    static func type(ofFlags flags: UInt8) -> ValueType? {
        ValueType(rawValue: flags >> typeShift)
    }

    /// Splits a stored record into its expiry, revisions, type and value. Returns nil for a record too short to be
    /// valid, or of a type this version does not know.
    @inlinable
    static func decodeWithRevision(
        _ record: UnsafeRawBufferPointer
    ) -> (expireAt: Int64, revision: KeyRevision, type: ValueType, value: UnsafeRawBufferPointer)? {
        guard let flags = record.first, let type = type(ofFlags: flags) else { return nil }
        var offset = 1
        var expireAt: Int64 = 0
        if flags & hasExpiry != 0 {
            guard record.count >= offset + 8 else { return nil }
            expireAt = Int64(bitPattern: bigEndian64(record, at: offset))
            offset += 8
        }
        var revision = KeyRevision.unknown
        if flags & hasRevision != 0 {
            guard record.count >= offset + 24 else { return nil }
            revision = KeyRevision(
                created: bigEndian64(record, at: offset), modified: bigEndian64(record, at: offset + 8),
                version: bigEndian64(record, at: offset + 16))
            offset += 24
        }
        return (expireAt, revision, type, UnsafeRawBufferPointer(rebasing: record[offset...]))
    }

    @inlinable
    static func bigEndian64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Whether a stored record is a string marked `rawString`.
    @inlinable
    static func isRawString(_ record: UnsafeRawBufferPointer) -> Bool {
        guard let flags = record.first else { return false }
        return type(ofFlags: flags) == .string && flags & rawString != 0
    }

    /// Writes a whole record into `scratch`, replacing its contents.
    @inlinable
    static func encode(
        value: UnsafeRawBufferPointer, expireAt: Int64, revision: KeyRevision, type: ValueType = .string,
        rawEncoding: Bool = false, into scratch: inout ByteBuffer
    ) {
        scratch.clear()
        scratch.writeInteger(
            (expireAt > 0 ? hasExpiry : 0) | hasRevision | (rawEncoding && type == .string ? rawString : 0)
                | type.rawValue << typeShift)
        if expireAt > 0 { scratch.writeInteger(UInt64(bitPattern: expireAt), endianness: .big) }
        scratch.writeInteger(revision.created, endianness: .big)
        scratch.writeInteger(revision.modified, endianness: .big)
        scratch.writeInteger(revision.version, endianness: .big)
        scratch.writeBytes(value)
    }
}
