import NIOCore

/// Where the keys of numbered databases (SELECT 0..databases-1) live in LevelDB (docs/storage-format.md, "Numbered
/// databases"); `Keyspace` selects one per command (Keyspace+Databases.swift).
///
/// Storage database 0 keeps the layout every data directory before numbered databases has (`'k' + key`,
/// `'e' + expireAt + key`, `m` + `keys`), so those directories open unchanged, without a migration, and the hot path
/// of database 0 costs nothing more. Every other storage database takes namespaces of its own, the database number
/// (BE32) right after the namespace byte:
/// ```
///   'd' + BE32 db + key                   user key → record (the record format is unchanged)
///   'f' + expireAt (BE64 ms) + BE32 db + key   expiry index, time first so the sweeper walks all databases in
///                                              time order by merging two ranges ('e' and 'f')
///   'm' + "keys" + BE32 db                key count of that database
///   'm' + "dbmap"                         the SWAPDB indirection table (`DatabaseMap`)
/// ```
/// Collection elements (`'c' + generation + ...`) do not contain the user key, so they need no database: MOVE and
/// SWAPDB never touch them.
public enum DatabaseLayout {
    /// Namespace of the user keys of storage databases 1 and up.
    public static let keyPrefix = UInt8(ascii: "d")
    /// Namespace of the expiry index of storage databases 1 and up.
    public static let expiryPrefix = UInt8(ascii: "f")
    /// `m` + `dbmap`: logical database → storage database, for the databases SWAPDB has exchanged.
    static let mapKey: [UInt8] = [StorageLayout.metadataPrefix] + Array("dbmap".utf8)

    /// Writes the LevelDB key of `key` in storage database `database` into `scratch`, replacing its contents.
    /// Database 0 is `StorageLayout.encodeUserKey`'s layout, byte for byte.
    @inlinable
    static func encodeUserKey(_ key: UnsafeRawBufferPointer, database: UInt32, into scratch: inout ByteBuffer) {
        guard database != 0 else { return StorageLayout.encodeUserKey(key, into: &scratch) }
        scratch.clear()
        scratch.writeInteger(keyPrefix)
        scratch.writeInteger(database, endianness: .big)
        scratch.writeBytes(key)
    }

    /// The first LevelDB key of storage database `database`'s user keys: KEYS, SCAN and FLUSHDB scan from here while
    /// the key starts with it.
    static func userKeyRangePrefix(database: UInt32) -> [UInt8] {
        guard database != 0 else { return [StorageLayout.keyPrefix] }
        return [keyPrefix] + bigEndian(database)
    }

    /// Splits a LevelDB key of either user-key namespace into its storage database and user key; nil for any other
    /// key.
    static func decodeUserKey(_ storageKey: UnsafeRawBufferPointer) -> (database: UInt32, key: UnsafeRawBufferPointer)? {
        switch storageKey.first {
        case StorageLayout.keyPrefix:
            return (0, UnsafeRawBufferPointer(rebasing: storageKey[1...]))
        case keyPrefix where storageKey.count >= 5:
            return (bigEndian32(storageKey, at: 1), UnsafeRawBufferPointer(rebasing: storageKey[5...]))
        default:
            return nil
        }
    }

    /// Writes the expiry-index key of `key` in storage database `database`, expiring at `expireAt`, into `scratch`.
    @inlinable
    static func encodeExpiryKey(
        _ key: UnsafeRawBufferPointer, database: UInt32, expireAt: Int64, into scratch: inout ByteBuffer
    ) {
        guard database != 0 else { return StorageLayout.encodeExpiryKey(key, expireAt: expireAt, into: &scratch) }
        scratch.clear()
        scratch.writeInteger(expiryPrefix)
        scratch.writeInteger(UInt64(bitPattern: expireAt), endianness: .big)
        scratch.writeInteger(database, endianness: .big)
        scratch.writeBytes(key)
    }

    /// Splits a key of either expiry index into its time, storage database and user key; nil for any other key.
    static func decodeExpiryKey(
        _ storageKey: UnsafeRawBufferPointer
    ) -> (expireAt: Int64, database: UInt32, key: UnsafeRawBufferPointer)? {
        if let legacy = StorageLayout.decodeExpiryKey(storageKey) { return (legacy.expireAt, 0, legacy.key) }
        guard storageKey.count >= 13, storageKey[0] == expiryPrefix else { return nil }
        let expireAt = Int64(bitPattern: RecordFormat.bigEndian64(storageKey, at: 1))
        return (expireAt, bigEndian32(storageKey, at: 9), UnsafeRawBufferPointer(rebasing: storageKey[13...]))
    }

    /// The metadata key holding storage database `database`'s key count (database 0: `m` + `keys`, as before).
    static func keyCountKey(database: UInt32) -> [UInt8] {
        database == 0 ? StorageLayout.keyCountKey : StorageLayout.keyCountKey + bigEndian(database)
    }

    /// The metadata key holding storage database `database`'s expiry statistics (database 0: `m` + `expires`).
    static func expiryStatisticsKey(database: UInt32) -> [UInt8] {
        database == 0 ? StorageLayout.expiryStatisticsKey : StorageLayout.expiryStatisticsKey + bigEndian(database)
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    static func bigEndian32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

/// SWAPDB without copying: the logical database a client selects names a storage database through this table,
/// identity until a SWAPDB exchanges two entries. Persisted under `m` + `dbmap` as the pairs that differ from the
/// identity (BE32 logical, BE32 storage), so an empty or absent record is the identity and data directories from
/// before numbered databases need nothing written.
public struct DatabaseMap: Equatable, Sendable {
    /// Storage database by logical database, for the entries that are not the identity.
    private var exchanged: [UInt32: UInt32] = [:]

    public init() {}

    /// The storage database holding logical database `logical`'s keys.
    public func storage(of logical: UInt32) -> UInt32 {
        exchanged.isEmpty ? logical : exchanged[logical, default: logical]
    }

    /// Whether every logical database is its own storage database (no SWAPDB in effect).
    public var isIdentity: Bool { exchanged.isEmpty }

    /// The logical database whose keys storage database `storage` holds.
    public func logical(of storage: UInt32) -> UInt32 {
        guard !exchanged.isEmpty else { return storage }
        return exchanged.first { $0.value == storage }?.key ?? storage
    }

    /// SWAPDB `first` `second`: afterwards each names the storage the other named. O(1); no key moves.
    public mutating func swap(_ first: UInt32, _ second: UInt32) {
        let (a, b) = (storage(of: first), storage(of: second))
        exchanged[first] = b
        exchanged[second] = a
        if exchanged[first] == first { exchanged[first] = nil }
        if exchanged[second] == second { exchanged[second] = nil }
    }

    /// The persisted form: the non-identity pairs in logical order.
    public var encoded: [UInt8] {
        exchanged.sorted { $0.key < $1.key }.flatMap { DatabaseLayout.bigEndian($0.key) + DatabaseLayout.bigEndian($0.value) }
    }

    /// Reads the persisted form; nil when it is not a whole number of pairs or is not a permutation.
    public init?(encoded bytes: [UInt8]) {
        guard bytes.count % 8 == 0 else { return nil }
        let number = { (at: Int) in bytes[at..<at + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) } }
        for offset in stride(from: 0, to: bytes.count, by: 8) {
            exchanged[number(offset)] = number(offset + 4)
        }
        guard Set(exchanged.keys) == Set(exchanged.values), exchanged.allSatisfy({ $0.key != $0.value }) else {
            return nil
        }
    }
}
