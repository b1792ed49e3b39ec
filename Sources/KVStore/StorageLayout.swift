import NIOCore

/// How the keyspace maps onto LevelDB keys (documented in docs/storage-format.md).
///
/// Every LevelDB key starts with a one-byte namespace, so that each kind of data is a contiguous, ordered range:
/// ```
///   'k' + key                        user key → record (flags, optional expiry, value)
///   'e' + expireAt (BE u64 ms) + key  expiry index, ordered by time, for the background sweeper
///   'm' + name                       internal metadata (format version, key count, revision)
///   'r', 'h', 'x'                    the change log, its per-key index and flush markers (`ChangeLogLayout`)
/// ```
/// Bytes other than these are reserved for later keyspaces (indexes, other value types).
public enum StorageLayout {
    /// Namespace of user keys.
    public static let keyPrefix = UInt8(ascii: "k")
    /// Namespace of the expiry index.
    public static let expiryPrefix = UInt8(ascii: "e")
    /// Namespace of internal metadata.
    public static let metadataPrefix = UInt8(ascii: "m")

    /// Version of this layout, stored under `m` + `format`; bumped on incompatible changes. Version 2 added
    /// revisions to records and the change log; version 1 records read as having no revisions.
    public static let formatVersion: UInt8 = 2

    static let formatKey: [UInt8] = [metadataPrefix] + Array("format".utf8)
    static let keyCountKey: [UInt8] = [metadataPrefix] + Array("keys".utf8)

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
/// Records written before revisions were kept have no revisions (`KeyRevision.unknown`). The high bits of `flags` are
/// reserved for a type tag (0 = string) when more types arrive.
public enum RecordFormat {
    @usableFromInline static let hasExpiry: UInt8 = 0x01
    @usableFromInline static let hasRevision: UInt8 = 0x02

    /// Whether a key with expiry `expireAt` (0 for none) is gone at `now`. As Redis's `keyIsExpired` (`now > when`), a
    /// key lives through its expiry millisecond; a write that sets a time already reached deletes it (`<=`, as Redis's
    /// `checkAlreadyExpired`).
    @inlinable public static func hasExpired(_ expireAt: Int64, at now: Int64) -> Bool {
        expireAt > 0 && expireAt < now
    }

    /// Splits a stored record into its expiry (0 for none) and value. Returns nil for a record too short to be valid.
    @inlinable
    static func decode(_ record: UnsafeRawBufferPointer) -> (expireAt: Int64, value: UnsafeRawBufferPointer)? {
        decodeWithRevision(record).map { ($0.expireAt, $0.value) }
    }

    /// Splits a stored record into its expiry, revisions and value. Returns nil for a record too short to be valid.
    @inlinable
    static func decodeWithRevision(
        _ record: UnsafeRawBufferPointer
    ) -> (expireAt: Int64, revision: KeyRevision, value: UnsafeRawBufferPointer)? {
        guard let flags = record.first else { return nil }
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
        return (expireAt, revision, UnsafeRawBufferPointer(rebasing: record[offset...]))
    }

    @inlinable
    static func bigEndian64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Writes a whole record into `scratch`, replacing its contents.
    @inlinable
    static func encode(
        value: UnsafeRawBufferPointer, expireAt: Int64, revision: KeyRevision, into scratch: inout ByteBuffer
    ) {
        scratch.clear()
        scratch.writeInteger((expireAt > 0 ? hasExpiry : 0) | hasRevision)
        if expireAt > 0 { scratch.writeInteger(UInt64(bitPattern: expireAt), endianness: .big) }
        scratch.writeInteger(revision.created, endianness: .big)
        scratch.writeInteger(revision.modified, endianness: .big)
        scratch.writeInteger(revision.version, endianness: .big)
        scratch.writeBytes(value)
    }
}
