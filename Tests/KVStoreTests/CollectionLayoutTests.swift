import LevelDB
import NIOCore
import Testing

@testable import KVStore

/// Collections on LevelDB: a record per key, a record per element under `'c' + generation`, drops collected in the
/// background, and everything a command writes in one batch.
@Suite struct CollectionLayoutTests {
    static let field = ElementLayout.hashField

    /// Sets `fields` in the hash at `key`, as HSET does.
    func put(_ ks: Keyspace, _ key: String, _ fields: [String: String]) throws {
        var hash = try ks.collectionForWrite(bytes(key), .hash) ?? ks.createCollection(bytes(key), .hash)
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            let existed = try ks.hasElement(of: hash, kind: Self.field, bytes(name))
            ks.putElement(&hash, kind: Self.field, bytes(name), value: bytes(value), event: .hashSet)
            if !existed { hash.count += 1 }
        }
        try ks.save(&hash)
    }

    func fields(_ ks: Keyspace, _ key: String, order: IterationOrder = .ascending) throws -> [String] {
        guard let hash = try ks.collection(bytes(key), .hash) else { return [] }
        var seen: [String] = []
        try ks.forEachElement(of: hash, kind: Self.field, order: order) { name, value in
            seen.append(String(decoding: name, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self))
            return true
        }
        return seen
    }

    func many(_ count: Int, prefix: String = "f") -> [String: String] {
        Dictionary(uniqueKeysWithValues: (0..<count).map { ("\(prefix)\($0)", "v\($0)") })
    }

    /// LevelDB entries whose key starts with `prefix`, committed data only.
    func stored(_ store: Store, _ prefix: UInt8) -> Int {
        let iterator = store.database.makeIterator()
        iterator.seek([prefix])
        var count = 0
        while iterator.isValid, iterator.key.first == prefix {
            count += 1
            iterator.next()
        }
        return count
    }

    @Test func aNewCollectionNeverSeesTheOldOnesElements() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { ks in try put(ks, "h", many(500)) }
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try ks.delete(bytes("h")))
                try put(ks, "h", ["new": "1"])
                #expect(try fields(ks, "h") == ["new=1"])
                #expect(try ks.collection(bytes("h"), .hash)?.count == 1)
            }
            // Deleted and re-created in the same batch, too.
            try store.withKeyspace { (ks: Keyspace) throws in
                try put(ks, "h", ["other": "2"])
                #expect(try ks.delete(bytes("h")))
                try put(ks, "h", ["third": "3"])
                #expect(try fields(ks, "h") == ["third=3"])
            }
            // The dropped elements are still on disk, unreachable, until the collector runs.
            #expect(stored(store, StorageLayout.elementPrefix) == 500 + 1 + 1 + 1)
            #expect(stored(store, StorageLayout.garbagePrefix) == 2)
            #expect(try store.collectGarbage() == 502)
            #expect(stored(store, StorageLayout.elementPrefix) == 1)
            #expect(stored(store, StorageLayout.garbagePrefix) == 0)
            try store.withKeyspace { (ks: Keyspace) throws in #expect(try fields(ks, "h") == ["third=3"]) }
        }
    }

    @Test func dropsOfEveryKindAreO1AndCollected() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { (ks: Keyspace) throws in
                for name in ["del", "overwritten", "expired", "flushed"] { try put(ks, name, many(100)) }
            }
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try ks.delete(bytes("del")))
                try ks.set(bytes("overwritten"), value: bytes("a string now"))
                #expect(try ks.updateExpiry(of: bytes("expired"), to: ks.now - 1))
            }
            #expect(store.garbageBacklog == (3, 300))
            try store.withKeyspace { ks in try ks.removeAll() }
            #expect(store.garbageBacklog == (4, 400))
            #expect(stored(store, StorageLayout.elementPrefix) == 400)
            try store.collectGarbage()
            #expect(stored(store, StorageLayout.elementPrefix) == 0)
            #expect(store.garbageBacklog == (0, 0))
        }
    }

    @Test func theCollectorWorksInShortChunksAndResumesAfterARestart() throws {
        try withTemporaryStore { store, path in
            try store.withKeyspace { ks in try put(ks, "big", many(5000)) }
            try store.withKeyspace { (ks: Keyspace) throws in #expect(try ks.delete(bytes("big"))) }
            for expected in [4000, 3000] {
                let (deleted, finished) = try store.withKeyspace { ks in try ks.collectGarbage(limit: 1000) }
                #expect(deleted == 1000 && finished == nil)
                #expect(stored(store, StorageLayout.elementPrefix) == expected)
            }
            try store.close()
            let reopened = try Store(directory: path, durability: .low)
            #expect(reopened.garbageBacklog.collections == 1)
            #expect(try reopened.collectGarbage(chunkSize: 700) == 3000)
            #expect(stored(reopened, StorageLayout.elementPrefix) == 0)
            #expect(stored(reopened, StorageLayout.garbagePrefix) == 0)
            try reopened.close()
        }
    }

    @Test func theBackgroundCollectorRunsByItself() async throws {
        let path = makeTemporaryDirectory()
        defer { removeDirectory(path) }
        let store = try Store(directory: path, durability: .low)
        try store.withKeyspace { ks in try put(ks, "big", many(3000)) }
        try store.withKeyspace { (ks: Keyspace) throws in #expect(try ks.delete(bytes("big"))) }
        let collector = GarbageCollector(store: store, interval: .milliseconds(10), chunkSize: 256)
        let task = Task { await collector.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while store.garbageBacklog.collections > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        task.cancel()
        await task.value
        #expect(store.garbageBacklog == (0, 0))
        #expect(stored(store, StorageLayout.elementPrefix) == 0)
        try store.close()
    }

    @Test func countsAndGenerationsSurviveARestart() throws {
        try withTemporaryStore { store, path in
            var generations: [UInt64] = []
            try store.withKeyspace { (ks: Keyspace) throws in
                try put(ks, "h", many(300))
                var set = ks.createCollection(bytes("s"), .set)
                for member in ["a", "b", "c"] {
                    ks.putElement(&set, kind: ElementLayout.setMember, bytes(member), value: ByteBuffer(), event: .setAdd)
                    set.count += 1
                }
                try ks.save(&set)
                generations = [try ks.collection(bytes("h"), .hash)!.metadata.generation, set.metadata.generation]
            }
            try store.close()
            let reopened = try Store(directory: path, durability: .low)
            try reopened.withKeyspace { (ks: Keyspace) throws in
                #expect(ks.count == 2)
                #expect(try ks.collection(bytes("h"), .hash)?.count == 300)
                #expect(try ks.collection(bytes("s"), .set)?.count == 3)
                #expect(try ks.type(of: bytes("s")) == .set)
                #expect(throws: WrongTypeError(found: .set)) { try ks.collection(bytes("s"), .hash) }
                #expect(throws: WrongTypeError(found: .hash)) { try value(ks, "h") }
                // A collection created after the restart gets a generation no earlier one had.
                #expect(ks.createCollection(bytes("new"), .hash).metadata.generation > generations.max()!)
            }
            try reopened.close()
        }
    }

    @Test func aFailedCommitWritesNeitherElementsNorTheRecord() throws {
        try withTemporaryStore { store, _ in
            store.database.failNextWrites(1)
            #expect(throws: (any Error).self) { try store.withKeyspace { ks in try put(ks, "h", many(100)) } }
            #expect(store.recover())
            #expect(stored(store, StorageLayout.elementPrefix) == 0)
            #expect(stored(store, StorageLayout.keyPrefix) == 0)
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(ks.count == 0)
                #expect(try ks.collection(bytes("h"), .hash) == nil)
                try put(ks, "h", ["a": "1"])
            }
            // Nothing of the failed batch reappears: elements, record and events went, or came, together.
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try fields(ks, "h") == ["a=1"])
                #expect(try ks.history(of: bytes("h"), from: nil, limit: 1000, descending: false).count == 1)
            }
            #expect(stored(store, StorageLayout.elementPrefix) == 1)
        }
    }

    @Test func renamingMovesOnlyTheRecord() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { ks in try put(ks, "h", many(1000)) }
            try store.withKeyspace { (ks: Keyspace) throws in
                try ks.set(bytes("target"), value: bytes("replaced"))
                #expect(try ks.rename(bytes("h"), to: bytes("target")))
            }
            #expect(stored(store, StorageLayout.elementPrefix) == 1000)
            #expect(stored(store, StorageLayout.garbagePrefix) == 0)
            try store.withKeyspace { (ks: Keyspace) throws in
                #expect(try ks.collection(bytes("h"), .hash) == nil)
                #expect(try ks.collection(bytes("target"), .hash)?.count == 1000)
                #expect(try fields(ks, "target").count == 1000)
                let events = try ks.history(of: bytes("target"), from: nil, limit: 10, descending: false)
                #expect(events.map(\.operation) == [.set, .rename])
                #expect(events.last?.value.map { String(buffer: $0) } == "h")
            }
        }
    }

    @Test func pendingElementsMergeWithCommittedOnes() throws {
        try withTemporaryStore { store, _ in
            try store.withKeyspace { ks in try put(ks, "h", ["a": "1", "c": "3", "e": "5"]) }
            try store.withKeyspace { (ks: Keyspace) throws in
                var hash = try ks.collectionForWrite(bytes("h"), .hash)!
                ks.putElement(&hash, kind: Self.field, bytes("b"), value: bytes("2"), event: .hashSet)
                ks.putElement(&hash, kind: Self.field, bytes("e"), value: bytes("five"), event: .hashSet)
                ks.removeElement(&hash, kind: Self.field, bytes("c"), event: .hashDelete)
                try ks.save(&hash)
                #expect(try fields(ks, "h") == ["a=1", "b=2", "e=five"])
                #expect(try fields(ks, "h", order: .descending) == ["e=five", "b=2", "a=1"])
                #expect(try ks.element(of: hash, kind: Self.field, bytes("c")) { _ in true } == nil)
                var range = KeyRange.all
                range.restrict(after: Array("a".utf8))
                #expect(try ks.firstElement(of: hash, kind: Self.field, in: range) == Array("b".utf8))
            }
        }
    }

    @Test func recordsAndEventsOfLayoutTwoReadAsStrings() throws {
        try withTemporaryStore { store, path in
            try store.close()
            // A layout 2 string record (no type tag), its event, and its history entry with the index in the value.
            let database = try Database(path: path)
            var record: [UInt8] = [RecordFormat.hasRevision]
            for number: UInt64 in [7, 7, 1] { withUnsafeBytes(of: number.bigEndian) { record += $0 } }
            record += Array("old".utf8)
            try database.put([StorageLayout.keyPrefix] + Array("k".utf8), record)
            var event: [UInt8] = [ChangeOperation.set.rawValue, 0]
            for number: UInt64 in [1_000, 0] { withUnsafeBytes(of: number.bigEndian) { event += $0 } }
            event += [1] + Array("k".utf8)
            for number: UInt64 in [7, 1] { withUnsafeBytes(of: number.bigEndian) { event += $0 } }
            event += Array("old".utf8)
            var eventKey: [UInt8] = [ChangeLogLayout.eventPrefix]
            withUnsafeBytes(of: UInt64(7).bigEndian) { eventKey += $0 }
            eventKey += [0, 0, 0, 0]
            try database.put(eventKey, event)
            var historyKey: [UInt8] = [ChangeLogLayout.historyPrefix, 0, 0, 0, 1] + Array("k".utf8)
            withUnsafeBytes(of: UInt64(7).bigEndian) { historyKey += $0 }
            try database.put(historyKey, [0, 0, 0, 0])
            for (key, number) in [(ChangeLogLayout.revisionKey, UInt64(7)), (StorageLayout.keyCountKey, 1)] {
                try database.put(key, withUnsafeBytes(of: number.bigEndian) { Array($0) })
            }
            try database.put(StorageLayout.formatKey, [2])
            database.close()

            let reopened = try Store(directory: path, durability: .low)
            try reopened.withKeyspace { (ks: Keyspace) throws in
                #expect(try value(ks, "k") == "old")
                #expect(try ks.type(of: bytes("k")) == .string)
                let history = try ks.history(of: bytes("k"), from: nil, limit: 10, descending: false)
                #expect(history.map { String(buffer: $0.value!) } == ["old"])
                try ks.set(bytes("k"), value: bytes("new"))
                #expect(try ks.history(of: bytes("k"), from: nil, limit: 10, descending: false).count == 2)
            }
            // Trimming removes both forms of history entry.
            var retention = ChangeLogRetention()
            retention.maxRevisions = 1
            #expect(try reopened.trimChangeLog(retention) == 1)
            try reopened.withKeyspace { (ks: Keyspace) throws in
                #expect(try ks.history(of: bytes("k"), from: nil, limit: 10, descending: false).map(\.revision) == [8])
            }
            #expect(stored(reopened, ChangeLogLayout.historyPrefix) == 1)
            #expect(try reopened.database.get(StorageLayout.formatKey) == [StorageLayout.formatVersion])
            try reopened.close()
        }
    }
}
