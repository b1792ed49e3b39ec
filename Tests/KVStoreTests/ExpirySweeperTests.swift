import KVStore
import LevelDB
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Counts the LevelDB entries of one namespace ('k' records, 'e' expiry index), bypassing the keyspace entirely.
func storedEntries(_ store: Store, namespace: Character) -> Int {
    let prefix = UInt8(ascii: namespace.unicodeScalars.first!)
    let iterator = store.database.makeIterator()
    iterator.seek([prefix])
    var count = 0
    while iterator.isValid, iterator.key.first == prefix {
        count += 1
        iterator.next()
    }
    return count
}

/// Polls `condition` until it holds or `seconds` pass; the deadline bounds the test, it does not measure speed.
func eventually(within seconds: Double = 20, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try condition()
}

/// Waits until the wall clock is past `time` (Unix ms), when a key expiring at `time` is due: the condition itself, not
/// a guessed sleep.
func waitPast(_ time: Int64) {
    while WallClock.milliseconds() <= time { usleep(1_000) }
}

@Suite struct ExpirySweeperTests {
    @Test func sweeperEmptiesLevelDBWithoutAnyRead() async throws {
        let path = makeTemporaryDirectory()
        defer { _ = system("rm -rf '\(path)'") }
        let store = try Store(directory: path, durability: .low)
        try store.withKeyspace { (ks: Keyspace) throws in
            for index in 0..<10_000 { try ks.set(bytes("temp:\(index)"), value: bytes("v"), expireAt: ks.now + 200) }
            try ks.set(bytes("kept"), value: bytes("v"))
            try ks.set(bytes("later"), value: bytes("v"), expireAt: ks.now + 3_600_000)
        }
        #expect(storedEntries(store, namespace: "k") == 10_002)
        #expect(storedEntries(store, namespace: "e") == 10_001)

        let sweeper = ExpirySweeper(store: store, interval: .milliseconds(50), chunkSize: 300)
        let task = Task { await sweeper.run() }
        defer { task.cancel() }
        let swept = await eventually { storedEntries(store, namespace: "k") == 2 }
        #expect(swept)
        #expect(storedEntries(store, namespace: "e") == 1)
        try store.withKeyspace { (ks: Keyspace) throws in
            #expect(ks.count == 2)
            #expect(try ks.liveCount() == 2)
            #expect(try ks.expiry(of: bytes("later"))! > ks.now)
        }
        task.cancel()
        await task.value
    }

    @Test func eachExpiredKeyIsReportedOnce() throws {
        final class Recorder: KeyspaceObserver, @unchecked Sendable {
            var expired: [String] = []
            func keyModified(_ key: ByteBuffer, database: UInt32) {}
            func keyExpired(_ key: ByteBuffer, database: UInt32) { expired.append(String(buffer: key)) }
            func keyspaceCleared(removedKeys: Int, database: UInt32) {}
        }
        try withTemporaryStore { store, _ in
            let recorder = Recorder()
            let due = try store.withKeyspace { (ks: Keyspace) throws in
                ks.observer = recorder
                try ks.set(bytes("b"), value: bytes("v"), expireAt: ks.now + 10)
                try ks.set(bytes("a"), value: bytes("v"), expireAt: ks.now + 20)
                try ks.set(bytes("c"), value: bytes("v"), expireAt: ks.now + 100_000)
                return ks.now + 20
            }
            waitPast(due)
            #expect(try store.removeExpiredKeys(chunkSize: 1) == 2)
            #expect(recorder.expired == ["b", "a"])
            #expect(try store.removeExpiredKeys() == 0)
            #expect(recorder.expired == ["b", "a"])
            #expect(storedEntries(store, namespace: "e") == 1)
        }
    }

    /// The store's part; that the server runs this pass at start-up is checked through kvnode-server by
    /// Tests/python/test_expiry.py (`test_keys_that_expired_while_down_go_in_the_start_up_pass`).
    @Test func keysThatExpiredWhileClosedGoOnTheFirstPass() throws {
        let path = makeTemporaryDirectory()
        defer { _ = system("rm -rf '\(path)'") }
        let due: Int64
        do {
            let store = try Store(directory: path, durability: .high)
            due = try store.withKeyspace { (ks: Keyspace) throws in
                let expireAt = ks.now + 30
                for index in 0..<100 { try ks.set(bytes("k\(index)"), value: bytes("v"), expireAt: expireAt) }
                try ks.set(bytes("stays"), value: bytes("v"), expireAt: ks.now + 3_600_000)
                return expireAt
            }
            try store.close()
        }
        waitPast(due)
        let reopened = try Store(directory: path, durability: .high)
        try reopened.withKeyspace { (ks: Keyspace) throws in
            #expect(try ks.liveCount() == 1)
        }
        #expect(try reopened.removeExpiredKeys() == 100)
        #expect(storedEntries(reopened, namespace: "k") == 1)
        try reopened.withKeyspace { (ks: Keyspace) throws in
            #expect(ks.count == 1)
        }
    }
}
