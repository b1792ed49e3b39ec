import NIOCore
import Testing

@testable import KVStore

/// The LevelDB encoding of numbered databases: database 0 is the layout existing data directories have, the others
/// are disjoint ranges that never interleave with it, and SWAPDB's table is a persisted permutation.
@Suite struct DatabaseLayoutTests {
    func userKey(_ key: String, database: UInt32) -> [UInt8] {
        var scratch = ByteBuffer()
        Array(key.utf8).withUnsafeBytes { DatabaseLayout.encodeUserKey($0, database: database, into: &scratch) }
        return Array(scratch.readableBytesView)
    }

    func expiryKey(_ key: String, database: UInt32, at expireAt: Int64) -> [UInt8] {
        var scratch = ByteBuffer()
        Array(key.utf8).withUnsafeBytes {
            DatabaseLayout.encodeExpiryKey($0, database: database, expireAt: expireAt, into: &scratch)
        }
        return Array(scratch.readableBytesView)
    }

    @Test func databaseZeroIsTheExistingLayoutByteForByte() {
        var legacy = ByteBuffer()
        Array("user:1".utf8).withUnsafeBytes { StorageLayout.encodeUserKey($0, into: &legacy) }
        #expect(userKey("user:1", database: 0) == Array(legacy.readableBytesView))
        #expect(userKey("user:1", database: 0) == Array("kuser:1".utf8))
        var legacyExpiry = ByteBuffer()
        Array("a".utf8).withUnsafeBytes { StorageLayout.encodeExpiryKey($0, expireAt: 1_700_000_000_000, into: &legacyExpiry) }
        #expect(expiryKey("a", database: 0, at: 1_700_000_000_000) == Array(legacyExpiry.readableBytesView))
        #expect(DatabaseLayout.keyCountKey(database: 0) == StorageLayout.keyCountKey)
        #expect(DatabaseLayout.userKeyRangePrefix(database: 0) == [StorageLayout.keyPrefix])
    }

    @Test func otherDatabasesHaveTheirNumberAfterTheirOwnNamespace() {
        #expect(userKey("x", database: 1) == [UInt8(ascii: "d"), 0, 0, 0, 1, UInt8(ascii: "x")])
        #expect(userKey("", database: 15) == [UInt8(ascii: "d"), 0, 0, 0, 15])
        #expect(DatabaseLayout.keyCountKey(database: 2) == Array("mkeys".utf8) + [0, 0, 0, 2])
        #expect(expiryKey("k", database: 3, at: 258) == [UInt8(ascii: "f"), 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 3, UInt8(ascii: "k")])
    }

    /// Each database's keys are one contiguous range: a key of database n starts with its range prefix, and no key of
    /// another database (any bytes, the empty key, 0xFF runs) sorts inside it.
    @Test func databasesAreDisjointContiguousRanges() {
        let keys = ["", "a", "\u{0}", "\u{FF}\u{FF}", "d\u{0}\u{0}\u{0}\u{1}x", "zzz"]
        let databases: [UInt32] = [0, 1, 2, 255, 256, 65_536, UInt32.max]
        for database in databases {
            let prefix = DatabaseLayout.userKeyRangePrefix(database: database)
            for other in databases {
                for key in keys {
                    let encoded = userKey(key, database: other)
                    #expect(encoded.starts(with: prefix) == (other == database), "db \(other) key \(key.debugDescription) vs db \(database)")
                }
            }
        }
        // Databases 1 and up are ordered by database, then by key (database 0 is the `k` range of its own): SCAN of
        // a database is one range scan in key order.
        let ordered = databases.dropFirst().flatMap { database in keys.sorted().map { userKey($0, database: database) } }
        #expect(ordered == ordered.sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test func decodingReturnsTheDatabaseAndKey() {
        for database: UInt32 in [0, 1, 9, 70_000] {
            let encoded = userKey("key:1", database: database)
            let decoded = encoded.withUnsafeBytes { bytes in
                DatabaseLayout.decodeUserKey(bytes).map { ($0.database, Array($0.key)) }
            }
            #expect(decoded?.0 == database)
            #expect(decoded?.1 == Array("key:1".utf8))
            let expiry = expiryKey("key:1", database: database, at: 42)
            let decodedExpiry = expiry.withUnsafeBytes { bytes in
                DatabaseLayout.decodeExpiryKey(bytes).map { ($0.expireAt, $0.database, Array($0.key)) }
            }
            #expect(decodedExpiry?.0 == 42)
            #expect(decodedExpiry?.1 == database)
            #expect(decodedExpiry?.2 == Array("key:1".utf8))
        }
        #expect([UInt8(ascii: "d"), 0, 0].withUnsafeBytes { DatabaseLayout.decodeUserKey($0) } == nil)
        #expect(Array("mkeys".utf8).withUnsafeBytes { DatabaseLayout.decodeUserKey($0) } == nil)
    }

    /// The sweeper reads both expiry indexes in time order: within `f`, time comes before the database.
    @Test func theExpiryIndexOfOtherDatabasesIsOrderedByTimeFirst() {
        let entries = [expiryKey("z", database: 9, at: 100), expiryKey("a", database: 1, at: 200), expiryKey("a", database: 2, at: 200)]
        #expect(entries == entries.sorted { $0.lexicographicallyPrecedes($1) })
    }

    @Test func swapdbIsAPersistedPermutation() {
        var map = DatabaseMap()
        #expect(map.storage(of: 0) == 0 && map.storage(of: 7) == 7)
        #expect(map.encoded.isEmpty)
        map.swap(0, 1)
        #expect(map.storage(of: 0) == 1 && map.storage(of: 1) == 0)
        map.swap(1, 2)
        #expect(map.storage(of: 0) == 1 && map.storage(of: 1) == 2 && map.storage(of: 2) == 0)
        #expect(DatabaseMap(encoded: map.encoded) == map)
        map.swap(1, 2)
        map.swap(0, 1)
        #expect(map == DatabaseMap())
        #expect(map.encoded.isEmpty)
        map.swap(3, 3)
        #expect(map == DatabaseMap())
        #expect(DatabaseMap(encoded: [0, 0, 0, 1]) == nil)
        #expect(DatabaseMap(encoded: [0, 0, 0, 1, 0, 0, 0, 2]) == nil, "not a permutation")
        #expect(DatabaseMap(encoded: []) == DatabaseMap())
    }
}
