import KVStore
import LevelDB
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// INFO's keyspace figures: hits and misses, and the count and average TTL of keys with an expiry.
@Suite struct KeyspaceStatisticsTests {
    @Test func readsCountHitsAndMissesButWritesDoNot() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.set(bytes("a"), value: bytes("1"))
                try ks.set(bytes("a"), value: bytes("2"))
                _ = try ks.delete(bytes("missing"))
                #expect(ks.hits == 0 && ks.misses == 0)
                _ = try value(ks, "a")
                _ = try value(ks, "b")
                #expect(try ks.exists(bytes("a")))
                #expect(ks.hits == 2 && ks.misses == 1)
                ks.resetStatistics()
                #expect(ks.hits == 0 && ks.misses == 0)
            }
        }
    }

    @Test func expiringKeysFollowEveryWritePath() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.set(bytes("a"), value: bytes("v"), expireAt: ks.now + 10_000)
                try ks.set(bytes("b"), value: bytes("v"), expireAt: ks.now + 30_000)
                try ks.set(bytes("c"), value: bytes("v"))
                #expect(ks.expiringKeys == 2)
                #expect((19_000...20_000).contains(ks.averageTTL))
                try ks.set(bytes("a"), value: bytes("w"))  // overwritten without an expiry
                #expect(ks.expiringKeys == 1)
                try ks.set(bytes("c"), value: bytes("w"), expireAt: ks.now + 1_000)  // gains one
                #expect(ks.expiringKeys == 2)
                _ = try ks.delete(bytes("b"))
                #expect(ks.expiringKeys == 1)
                try ks.set(bytes("c"), value: bytes("x"), expireAt: ks.now - 1)  // an expiry in the past deletes
                #expect(ks.expiringKeys == 0 && ks.averageTTL == 0)
                try ks.set(bytes("d"), value: bytes("v"), expireAt: ks.now + 5_000)
                try ks.removeAll()
                #expect(ks.expiringKeys == 0)
            }
        }
    }

    @Test func expiryByReadIsAccounted() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.set(bytes("soon"), value: bytes("v"), expireAt: ks.now + 30)
            }
            usleep(80_000)
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try value(ks, "soon") == nil)
                #expect(ks.expiringKeys == 0)
            }
        }
    }

    @Test func statisticsSurviveReopenAndAreRebuiltWhenMissing() throws {
        var template = Array("/tmp/kvnode-store-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        defer { _ = system("rm -rf '\(path)'") }
        var expireAt: Int64 = 0
        do {
            let store = try Store(directory: path, durability: .high)
            try store.withKeyspace { (ks: Keyspace) throws in
                expireAt = ks.now + 100_000
                for index in 0..<10 {
                    try ks.set(bytes("k\(index)"), value: bytes("v"), expireAt: index < 4 ? expireAt : 0)
                }
            }
            try store.close()
        }
        do {
            let store = try Store(directory: path, durability: .high)
            try store.withKeyspace { (ks: Keyspace) throws in #expect(ks.expiringKeys == 4) }
            // A database written before the statistics were kept: they are rebuilt from the expiry index.
            try store.database.delete([StorageLayout.metadataPrefix] + Array("expires".utf8))
            try store.close()
        }
        let store = try Store(directory: path, durability: .high)
        try store.withKeyspace { (ks: Keyspace) throws in
            #expect(ks.expiringKeys == 4)
            #expect(ks.averageTTL > 90_000 && ks.averageTTL <= 100_000)
        }
    }
}
