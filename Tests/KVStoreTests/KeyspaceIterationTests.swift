import KVStore
import LevelDB
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

func keys(
    _ keyspace: Keyspace, in range: KeyRange = .all, order: IterationOrder = .ascending, limit: Int = .max
) throws -> [String] {
    var found: [String] = []
    try keyspace.forEachKey(in: range, order: order) { key, _, _ in
        found.append(String(decoding: key, as: UTF8.self))
        return found.count < limit
    }
    return found
}

func range(after: String? = nil, before: String? = nil, prefix: String = "") -> KeyRange {
    var range = KeyRange(prefix: Array(prefix.utf8))
    if let after { range.restrict(after: Array(after.utf8)) }
    if let before { range.restrict(before: Array(before.utf8)) }
    return range
}

@Suite struct KeyspaceIterationTests {
    /// Runs `body` twice over the same data: once with every write committed to LevelDB, once with every write still
    /// pending in the batch, so both iteration paths (LevelDB and the overlay) give the same answers.
    func withBothPaths(_ setUp: (Keyspace) throws -> Void, _ body: (Keyspace) throws -> Void) throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace(setUp)
            try store.withKeyspace(body)
        }
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                try setUp(ks)
                #expect(ks.pendingWrites > 0)
                try body(ks)
            }
        }
    }

    @Test func rangesPivotsAndOrder() throws {
        let setUp = { (ks: Keyspace) throws in
            for key in ["key1", "key2", "key3", "key4", "kez", "ke", "a", "\u{FF}"] {
                try ks.set(bytes(key), value: bytes("v"))
            }
        }
        try withBothPaths(setUp) { (ks: Keyspace) throws in
            #expect(try keys(ks, in: range(prefix: "key")) == ["key1", "key2", "key3", "key4"])
            #expect(try keys(ks, in: range(prefix: "key"), order: .descending) == ["key4", "key3", "key2", "key1"])
            #expect(try keys(ks, in: range(after: "key2", prefix: "key")) == ["key3", "key4"])
            #expect(try keys(ks, in: range(before: "key3", prefix: "key"), order: .descending) == ["key2", "key1"])
            // Pivots beyond either end of the prefix range leave it whole, or empty.
            #expect(try keys(ks, in: range(after: "a", prefix: "key")) == ["key1", "key2", "key3", "key4"])
            #expect(try keys(ks, in: range(after: "zzz", prefix: "key")) == [])
            #expect(try keys(ks, in: range(before: "a", prefix: "key"), order: .descending) == [])
            #expect(try keys(ks, in: range(before: "zzz", prefix: "key"), order: .descending).count == 4)
            // A key equal to the prefix is inside its range.
            #expect(try keys(ks, in: range(prefix: "ke")) == ["ke", "key1", "key2", "key3", "key4", "kez"])
            #expect(try keys(ks, order: .descending, limit: 2) == ["\u{FF}", "kez"])
            #expect(try keys(ks, in: range(prefix: "\u{FF}")) == ["\u{FF}"])
        }
    }

    @Test func theBatchsWritesWinOverLevelDB() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                for key in ["b", "c", "d"] { try ks.set(bytes(key), value: bytes("old")) }
            }
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.delete(bytes("c"))
                try ks.set(bytes("a"), value: bytes("new"))
                try ks.set(bytes("d"), value: bytes("new"))
                try ks.set(bytes("e"), value: bytes("new"))
                var seen: [String] = []
                try ks.forEachKey(in: .all) { key, value, _ in
                    seen.append(String(decoding: key, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self))
                    return true
                }
                #expect(seen == ["a=new", "b=old", "d=new", "e=new"])
                #expect(try keys(ks, order: .descending) == ["e", "d", "b", "a"])
            }
        }
    }

    @Test func expiredKeysAreSkippedAndNotCounted() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.set(bytes("gone"), value: bytes("x"), expireAt: ks.now + 20)
                try ks.set(bytes("kept"), value: bytes("y"))
            }
            usleep(50_000)
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(ks.count == 2)
                #expect(try ks.liveCount() == 1)
                #expect(try keys(ks) == ["kept"])
                #expect(try ks.randomKey() == Array("kept".utf8))
            }
        }
    }

    @Test func randomKeyReachesEveryKey() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try ks.randomKey() == nil)
                for key in ["a", "ab", "abc", "b", "user:1", "user:2", "user:10"] { try ks.set(bytes(key), value: bytes("v")) }
                var seen = Set<[UInt8]>()
                for _ in 0..<2000 { seen.insert(try ks.randomKey()!) }
                #expect(seen.count == 7)
            }
        }
    }
}
