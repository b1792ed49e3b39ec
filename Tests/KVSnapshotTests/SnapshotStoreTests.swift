import Foundation
import KVStore
import NIOCore
import Testing
@testable import KVSnapshot

/// Snapshot directories from a real keyspace: meta.json, verification, rotation, and what a view contains.
@Suite struct SnapshotStoreTests {
    /// A store with `entries` written, in a fresh data directory.
    private func withStore(
        _ entries: [Entry], clock: StoreClock = .system, _ body: (Store, String) throws -> Void
    ) throws {
        try withTemporaryDirectory { directory in
            let store = try Store(directory: directory + "/data", durability: .low, clock: clock)
            try store.withKeyspace { keyspace in
                for entry in entries {
                    try keyspace.set(ByteBuffer(bytes: entry.key), value: ByteBuffer(bytes: entry.value), expireAt: entry.expireAt)
                }
            }
            try body(store, directory + "/data")
            try store.close()
        }
    }

    @Test func snapshotDirectoryHoldsStateAndMatchingMetadata() throws {
        try withStore(sampleEntries) { store, data in
            let snapshots = SnapshotStore(dataDirectory: data)
            let view = try store.withKeyspace { try $0.snapshot() }
            let (path, metadata) = try snapshots.write(view)
            #expect(path == data + "/snapshots/" + metadata.id)
            #expect(metadata.keyCount == sampleEntries.count)
            #expect(metadata.createdAt == view.takenAt)
            let file = try SnapshotFile(path: path + "/")
            #expect(try file.verify() == metadata)
            #expect(metadata.size == (try FileSystem.size(of: file.statePath)))
            // Records come back in key byte order.
            #expect(try readStateFile(file.statePath) == sampleEntries.sorted { $0.key.lexicographicallyPrecedes($1.key) })
            #expect(try FileSystem.contents(ofDirectory: data + "/snapshots") == [metadata.id])
        }
    }

    @Test func verifyRefusesDamageAndTruncation() throws {
        try withStore(sampleEntries) { store, data in
            let (path, _) = try SnapshotStore(dataDirectory: data).write(try store.withKeyspace { try $0.snapshot() })
            let statePath = path + "/state.bin"
            let whole = try readBytes(statePath)

            var damaged = whole
            damaged[whole.count / 2] ^= 1
            try writeBytes(damaged, to: statePath)
            let mismatch = snapshotError { try SnapshotFile(path: path).verify() }
            #expect(mismatch?.kind == .corrupt)
            #expect(mismatch?.description.contains("checksum mismatch") == true)

            try writeBytes(Array(whole.dropLast(100)), to: statePath)
            #expect(snapshotError { try SnapshotFile(path: path).verify() }?.kind == .truncated)

            try writeBytes(whole, to: statePath)
            #expect(snapshotError { try SnapshotFile(path: statePath).verify() } == nil)
        }
    }

    @Test func viewIgnoresLaterWritesAndExpiredKeys() throws {
        let clock = StoreClock.manual(at: 1_700_000_000_000)
        try withStore([Entry("keep", "1"), Entry("change", "old"), Entry("drop", "x")], clock: clock) { store, _ in
            try store.withKeyspace { keyspace in
                try keyspace.set(ByteBuffer(string: "expired"), value: ByteBuffer(string: "x"), expireAt: keyspace.now + 1)
            }
            clock.advance(byMilliseconds: 5)  // the expiry passes before the view is taken
            let view = try store.withKeyspace { keyspace in
                try keyspace.set(ByteBuffer(string: "pending"), value: ByteBuffer(string: "in batch"))
                return try keyspace.snapshot()
            }
            try store.withKeyspace { keyspace in
                try keyspace.set(ByteBuffer(string: "change"), value: ByteBuffer(string: "new"))
                try keyspace.delete(ByteBuffer(string: "drop"))
                try keyspace.set(ByteBuffer(string: "later"), value: ByteBuffer(string: "x"))
            }
            var seen: [Entry] = []
            try view.forEachKey { seen.append(Entry(Array($0), Array($1), expireAt: $2)); _ = $3 }
            #expect(seen == [Entry("change", "old"), Entry("drop", "x"), Entry("keep", "1"), Entry("pending", "in batch")])
        }
    }

    @Test func rotationKeepsTheNewest() throws {
        try withStore([Entry("a", "1")]) { store, data in
            let snapshots = SnapshotStore(dataDirectory: data)
            var paths: [String] = []
            for _ in 0..<4 { paths.append(try snapshots.write(try store.withKeyspace { try $0.snapshot() }).path) }
            try FileManager.default.createDirectory(atPath: data + "/snapshots/.tmp-1-1", withIntermediateDirectories: false)
            #expect(try snapshots.removeOld(keeping: 2) == Array(paths.prefix(2)))
            #expect(try snapshots.list().map { snapshots.path(of: $0) } == Array(paths.suffix(2)))
            snapshots.removeTemporaryDirectories()
            #expect(try FileSystem.contents(ofDirectory: data + "/snapshots").sorted() == paths.suffix(2).map { String($0.split(separator: "/").last!) }.sorted())
        }
    }

    @Test func cancelledSnapshotLeavesNothingBehind() throws {
        try withStore((0..<5000).map { Entry("k\($0)", "v") }) { store, data in
            let snapshots = SnapshotStore(dataDirectory: data)
            let view = try store.withKeyspace { try $0.snapshot() }
            var polls = 0
            let error = snapshotError {
                _ = try snapshots.write(view) {
                    polls += 1
                    return polls > 2
                }
            }
            #expect(error?.kind == .cancelled)
            #expect(try FileSystem.contents(ofDirectory: data + "/snapshots") == [])
        }
    }

    @Test func unwritableDirectoryFailsCleanly() throws {
        let error = snapshotError {
            try withStore([Entry("a", "1")]) { store, _ in
                _ = try SnapshotStore(directory: "/proc/kvnode-no-such/snapshots").write(try store.withKeyspace { try $0.snapshot() })
            }
        }
        #expect(error?.kind == .io)
        #expect(error?.description.contains("cannot create directory /proc/kvnode-no-such/snapshots") == true)
    }

    @Test func metadataJSONRoundTrips() throws {
        let metadata = SnapshotMetadata(
            id: "1700000000000-2", createdAt: 1_700_000_000_000, formatVersion: 1, keyCount: 3, size: 99,
            uncompressedSize: 120, crc32: 0x0A1B_2C3D)
        #expect(metadata.checksumText == "crc32:0a1b2c3d")
        #expect(try SnapshotMetadata(json: metadata.json, path: "meta.json") == metadata)
        #expect(snapshotError { _ = try SnapshotMetadata(json: "{\"id\": \"x\"}", path: "meta.json") }?.kind == .corrupt)
        #expect(snapshotError { _ = try SnapshotMetadata(json: "[1, 2]", path: "meta.json") }?.kind == .corrupt)
        #expect(JSONText.parseFlatObject(#"{"a": "q\"\\\u0041", "b": -5}"#) == ["a": .string("q\"\\A"), "b": .integer(-5)])
    }

    @Test func snapshotIDsOrderByTimeThenSequence() {
        #expect(SnapshotStore.ID("1700000000000-2")! < SnapshotStore.ID("1700000000000-10")!)
        #expect(SnapshotStore.ID("999-9")! < SnapshotStore.ID("1000-1")!)
        #expect(SnapshotStore.ID(".tmp-1-1") == nil)
        #expect(SnapshotStore.ID("1-2-3") == nil)
        #expect(SnapshotStore.ID("+1-2") == nil)
    }
}
