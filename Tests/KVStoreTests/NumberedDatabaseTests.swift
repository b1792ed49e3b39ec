#if canImport(Glibc)
import Glibc
#endif
import LevelDB
import NIOCore
import Testing

@testable import KVStore

/// The keyspace's numbered databases: `select` scopes every call, database 0 keeps the layout of data directories
/// from before, and MOVE, SWAPDB, FLUSHDB, FLUSHALL and the sweeper act on the right database.
@Suite struct NumberedDatabaseTests {
    func keys(_ ks: Keyspace) throws -> [String] {
        var found: [String] = []
        try ks.forEachKey(in: .all) { key, _, _, _ in
            found.append(String(decoding: key, as: UTF8.self))
            return true
        }
        return found
    }

    func storageKeys(_ store: Store, namespace: Character) -> [[UInt8]] {
        let prefix = UInt8(ascii: namespace.unicodeScalars.first!)
        let iterator = store.database.makeIterator()
        iterator.seek([prefix])
        var found: [[UInt8]] = []
        while iterator.isValid, iterator.key.first == prefix {
            found.append(Array(iterator.key))
            iterator.next()
        }
        return found
    }

    @Test func databasesHoldSeparateKeysEvenInOneBatch() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.set(bytes("k"), value: bytes("zero"))
                ks.select(3)
                // The batch's pending write of database 0 is not database 3's.
                #expect(try value(ks, "k") == nil)
                try ks.set(bytes("k"), value: bytes("three"))
                try ks.set(bytes("only3"), value: bytes("x"))
                #expect(try keys(ks) == ["k", "only3"])
                #expect(try ks.liveCount() == 2)
                ks.select(0)
                #expect(try value(ks, "k") == "zero")
                #expect(try keys(ks) == ["k"])
                #expect(try ks.liveCount() == 1)
            }
            try store.withKeyspace { (ks: Keyspace) throws in
                ks.select(3)
                #expect(try value(ks, "k") == "three")
                #expect(ks.databasesWithKeys == [0, 3])
                #expect(ks.statistics(ofDatabase: 3).keys == 2)
                #expect(ks.count == 1)
            }
            // Database 0 is `k` + key exactly as before; database 3 is `d` + BE32 3 + key.
            #expect(storageKeys(store, namespace: "k") == [Array("kk".utf8)])
            #expect(storageKeys(store, namespace: "d") == [[0x64, 0, 0, 0, 3] + Array("k".utf8), [0x64, 0, 0, 0, 3] + Array("only3".utf8)])
        }
    }

    @Test func countersAndTheSwapTableSurviveAReopen() throws {
        let path = makeTemporaryDirectory()
        defer { _ = system("rm -rf '\(path)'") }
        do {
            let store = try Store(directory: path, durability: .high)
            try store.withKeyspace { (ks: Keyspace) throws in
                ks.select(1)
                try ks.set(bytes("a"), value: bytes("1"), expireAt: ks.now + 3_600_000)
                try ks.set(bytes("b"), value: bytes("2"))
                ks.swapDatabases(0, 1)
            }
            try store.close()
        }
        let store = try Store(directory: path, durability: .high)
        try store.withKeyspace { (ks: Keyspace) throws in
            // After SWAPDB 0 1 database 0 holds what database 1 held.
            #expect(try keys(ks) == ["a", "b"])
            #expect(ks.statistics(ofDatabase: 0).keys == 2 && ks.statistics(ofDatabase: 0).expires == 1)
            #expect(ks.statistics(ofDatabase: 1).keys == 0)
            ks.select(1)
            #expect(try keys(ks) == [])
            ks.swapDatabases(1, 0)
        }
        try store.withKeyspace { (ks: Keyspace) throws in
            ks.select(1)
            #expect(try keys(ks) == ["a", "b"])
        }
        // Swapped back: the table is the identity again, so nothing is stored for it.
        #expect(try store.database.get(DatabaseLayout.mapKey) == nil)
    }

    @Test func moveTakesTheRecordAndLeavesTheElementsInPlace() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                var hash = ks.createCollection(bytes("h"), .hash)
                ks.putElement(&hash, kind: ElementLayout.hashField, bytes("f"), value: bytes("v"), event: .hashSet)
                hash.count += 1
                hash.expireAt = ks.now + 3_600_000
                try ks.save(&hash)
                #expect(try ks.move(bytes("h"), toDatabase: 2))
                #expect(try ks.type(of: bytes("h")) == nil)
                ks.select(2)
                let moved = try #require(try ks.collection(bytes("h"), .hash))
                #expect(moved.count == 1 && moved.expireAt > ks.now)
                #expect(try ks.element(of: moved, kind: ElementLayout.hashField, bytes("f")) { String(decoding: $0, as: UTF8.self) } == "v")
                #expect(ks.statistics(ofDatabase: 2).expires == 1)
                #expect(ks.statistics(ofDatabase: 0).keys == 0)
            }
        }
    }

    @Test func flushdbClearsOneDatabaseAndFlushallEvery() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                for database: UInt32 in [0, 1, 2] {
                    ks.select(database)
                    try ks.set(bytes("k"), value: bytes("v"), expireAt: ks.now + 3_600_000)
                }
                ks.select(1)
                try ks.removeAll()
                #expect(ks.databasesWithKeys == [0, 2])
            }
            #expect(storageKeys(store, namespace: "f").count == 1)
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.removeAllDatabases()
                #expect(ks.databasesWithKeys == [])
            }
            #expect(storageKeys(store, namespace: "d").isEmpty && storageKeys(store, namespace: "k").isEmpty)
            #expect(storageKeys(store, namespace: "e").isEmpty && storageKeys(store, namespace: "f").isEmpty)
        }
    }

    @Test func theSweeperRemovesDueKeysOfEveryDatabaseAndNamesTheirDatabase() throws {
        final class Recorder: KeyspaceObserver, @unchecked Sendable {
            var expired: [String] = []
            func keyModified(_ key: ByteBuffer, database: UInt32) {}
            func keyExpired(_ key: ByteBuffer, database: UInt32) { expired.append("\(database):\(String(buffer: key))") }
            func keyspaceCleared(removedKeys: Int, database: UInt32) {}
        }
        try withTemporaryStore { store, _ in
            let recorder = Recorder()
            let due = try store.withKeyspace { (ks: Keyspace) throws in
                ks.observer = recorder
                try ks.set(bytes("a"), value: bytes("v"), expireAt: ks.now + 10)
                ks.select(3)
                try ks.set(bytes("b"), value: bytes("v"), expireAt: ks.now + 10)
                try ks.set(bytes("stays"), value: bytes("v"), expireAt: ks.now + 3_600_000)
                return ks.now + 10
            }
            waitPast(due)
            #expect(try store.removeExpiredKeys() == 2)
            #expect(recorder.expired.sorted() == ["0:a", "3:b"])
            try store.withKeyspace { (ks: Keyspace) throws in
                ks.select(3)
                #expect(try ks.liveCount() == 1)
                #expect(ks.statistics(ofDatabase: 3).expires == 1)
            }
            #expect(storageKeys(store, namespace: "f").count == 1)
        }
    }

    @Test func eventsOfOtherDatabasesCarryTheirDatabaseAndDatabaseZerosDoNot() throws {
        var zero = ByteBuffer()
        var three = ByteBuffer()
        let key = Array("k".utf8)
        key.withUnsafeBytes { keyBytes in
            ChangeLogLayout.encodeEvent(
                .set, key: keyBytes, value: keyBytes, expireAt: 0, keyRevision: nil, previousRevision: 0, time: 7,
                into: &zero)
            ChangeLogLayout.encodeEvent(
                .set, key: keyBytes, value: keyBytes, expireAt: 0, keyRevision: nil, previousRevision: 0, time: 7,
                database: 3, into: &three)
        }
        #expect(three.readableBytes == zero.readableBytes + 4)
        #expect(zero.getInteger(at: 1, as: UInt8.self)! & ChangeLogLayout.otherDatabase == 0)
        var eventKey = ByteBuffer()
        ChangeLogLayout.eventKey(revision: 1, index: 0, into: &eventKey)
        let decoded = eventKey.withUnsafeReadableBytes { k in
            three.withUnsafeReadableBytes { ChangeLogLayout.decodeEvent(key: k, value: $0) }
        }
        #expect(decoded?.database == 3 && decoded?.key == ByteBuffer(string: "k") && decoded?.value == ByteBuffer(string: "k"))
    }
}
