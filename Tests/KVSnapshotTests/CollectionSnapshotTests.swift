import Foundation
import KVStore
import NIOCore
import Testing
@testable import KVSnapshot

/// Snapshot format 2: collection records, their elements, and the commands that replay them.
@Suite struct CollectionSnapshotTests {
    /// What a reader hands out, as plain values.
    enum Item: Equatable {
        case string(String, String, Int64)
        case collection(String, ValueType, Int, Int64)
        case element(String, String, Double)
    }

    func read(_ path: String) throws -> [Item] {
        let reader = try SnapshotStreamReader(path: path, chunkSize: 4096)
        var items: [Item] = []
        try reader.forEach { entry in
            let key = String(decoding: entry.key, as: UTF8.self)
            switch entry.kind {
            case .string: items.append(.string(key, String(decoding: entry.value, as: UTF8.self), entry.expireAt))
            case .collection(let type, let count): items.append(.collection(key, type, count, entry.expireAt))
            case .element: items.append(.element(key, String(decoding: entry.value, as: UTF8.self), entry.score))
            }
        }
        return items
    }

    func withBytes<R>(_ text: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Array(text.utf8).withUnsafeBytes(body)
    }

    @Test func everyRecordKindRoundTrips() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            let writer = try SnapshotStreamWriter(
                path: path, takenAt: 5, version: SnapshotFormat.singleDatabaseVersion, stagingSize: 64)
            try withBytes("a") { key in try withBytes("1") { try writer.append(key: key, value: $0, expireAt: 0) } }
            try withBytes("h") { try writer.beginCollection(.hash, key: $0, expireAt: 99, count: 2) }
            try withBytes("f") { field in try withBytes(String(repeating: "v", count: 200)) { try writer.appendElement(field, value: $0) } }
            try withBytes("g") { field in try withBytes("") { try writer.appendElement(field, value: $0) } }
            try writer.endCollection()
            try withBytes("l") { try writer.beginCollection(.list, key: $0, expireAt: 0, count: 1) }
            try withBytes("item") { try writer.appendElement($0) }
            try writer.endCollection()
            try withBytes("s") { try writer.beginCollection(.set, key: $0, expireAt: 0, count: 2) }
            try withBytes("m1") { try writer.appendElement($0) }
            try withBytes("m2") { try writer.appendElement($0) }
            try writer.endCollection()
            try withBytes("z") { try writer.beginCollection(.sortedSet, key: $0, expireAt: 0, count: 2) }
            try withBytes("low") { try writer.appendElement($0, score: -.infinity) }
            try withBytes("mid") { try writer.appendElement($0, score: 1.5) }
            try writer.endCollection()
            try writer.finish()
            #expect(writer.recordCount == 5)
            #expect(try read(path) == [
                .string("a", "1", 0),
                .collection("h", .hash, 2, 99), .element("f", String(repeating: "v", count: 200), 0), .element("g", "", 0),
                .collection("l", .list, 1, 0), .element("item", "", 0),
                .collection("s", .set, 2, 0), .element("m1", "", 0), .element("m2", "", 0),
                .collection("z", .sortedSet, 2, 0), .element("low", "", -.infinity), .element("mid", "", 1.5),
            ])
            #expect(try SnapshotStreamReader(path: path).version == 2)
        }
    }

    @Test func theWriterChecksTheElementCount() throws {
        try withTemporaryDirectory { directory in
            let writer = try SnapshotStreamWriter(path: directory + "/state.bin", takenAt: 0)
            try withBytes("s") { try writer.beginCollection(.set, key: $0, expireAt: 0, count: 1) }
            #expect(snapshotError { try writer.endCollection() }?.kind == .corrupt)
            try withBytes("m") { try writer.appendElement($0) }
            #expect(snapshotError { try withBytes("n") { try writer.appendElement($0) } }?.kind == .corrupt)
        }
    }

    @Test func aCutInsideTheElementsIsTruncationAndVersionOneHasNoCollections() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            let writer = try SnapshotStreamWriter(path: path, takenAt: 0)
            try withBytes("h") { try writer.beginCollection(.hash, key: $0, expireAt: 0, count: 3) }
            for field in ["a", "b", "c"] {
                try withBytes(field) { f in try withBytes("value") { try writer.appendElement(f, value: $0) } }
            }
            try writer.endCollection()
            try writer.finish()
            // Decompressed: header 20, record header 1+1+4+1+8 = 15, then 18 bytes an element, then the trailer.
            let stream = try { () throws -> [UInt8] in
                let reader = try GzipFileReader(path: path)
                var bytes: [UInt8] = []
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
                defer { buffer.deallocate() }
                while case let count = try reader.read(into: buffer), count > 0 { bytes += buffer.prefix(count) }
                return bytes
            }()
            #expect(stream.count == 20 + 15 + 3 * 18 + 9)
            let cut = directory + "/cut.bin"
            try writeGzip(Array(stream.prefix(20 + 15 + 18 + 5)), to: cut)
            #expect(snapshotError { _ = try read(cut) }?.kind == .truncated)
            var versionOne = stream
            versionOne[9] = 1
            try writeGzip(versionOne, to: cut)
            let refused = snapshotError { _ = try read(cut) }
            #expect(refused?.kind == .corrupt && refused?.description.contains("unknown record kind 0x2") == true)
        }
    }

    /// A store holding a string, a hash (with an expiry), a set and a sorted set.
    func withMixedStore(_ body: (Store, String) throws -> Void) throws {
        try withTemporaryDirectory { directory in
            let store = try Store(directory: directory + "/data", durability: .low)
            try store.withKeyspace { ks in
                try ks.set(ByteBuffer(string: "str"), value: ByteBuffer(string: "v"))
                var hash = ks.createCollection(ByteBuffer(string: "hash"), .hash)
                for (field, value) in [("a", "1"), ("b", "2"), ("c", "3")] {
                    ks.putElement(&hash, kind: ElementLayout.hashField, ByteBuffer(string: field), value: ByteBuffer(string: value), event: .hashSet)
                    hash.count += 1
                }
                hash.expireAt = 4_102_444_800_000
                try ks.save(&hash)
                var set = ks.createCollection(ByteBuffer(string: "set"), .set)
                for member in ["x", "y"] {
                    ks.putElement(&set, kind: ElementLayout.setMember, ByteBuffer(string: member), value: ByteBuffer(), event: .setAdd)
                    set.count += 1
                }
                try ks.save(&set)
                var zset = ks.createCollection(ByteBuffer(string: "zset"), .sortedSet)
                for (member, score) in [("low", -Double.infinity), ("tenth", 0.1), ("big", 1e308)] {
                    ks.setScore(&zset, ByteBuffer(string: member), score, previous: nil)
                }
                try ks.save(&zset)
            }
            try body(store, directory + "/data")
            try store.close()
        }
    }

    @Test func aSnapshotOfAMixedKeyspaceReplaysAsHsetSaddZaddAndPexpireat() throws {
        try withMixedStore { store, data in
            let (path, metadata) = try SnapshotStore(dataDirectory: data).write(try store.withKeyspace { try $0.snapshot() })
            #expect(metadata.keyCount == 4 && metadata.formatVersion == 2)
            #expect(try read(path + "/state.bin") == [
                .collection("hash", .hash, 3, 4_102_444_800_000), .element("a", "1", 0), .element("b", "2", 0),
                .element("c", "3", 0), .collection("set", .set, 2, 0), .element("x", "", 0), .element("y", "", 0),
                .string("str", "v", 0),
                .collection("zset", .sortedSet, 3, 0), .element("big", "", 1e308), .element("low", "", -.infinity),
                .element("tenth", "", 0.1),
            ])
            var export = CommandExport()
            export.elementsPerCommand = 2
            let commands = try output { try export.write(try SnapshotFile(path: path), to: $0) }
            #expect(commands == [
                ["HSET", "hash", "a", "1", "b", "2"], ["HSET", "hash", "c", "3"], ["PEXPIREAT", "hash", "4102444800000"],
                ["SADD", "set", "x", "y"], ["SET", "str", "v"],
                ["ZADD", "zset", "1e+308", "big", "-inf", "low"], ["ZADD", "zset", "0.10000000000000001", "tenth"],
            ])
            // A pattern, or an expiry already passed, leaves a collection out with its elements.
            export.pattern = GlobPattern(Array("s*".utf8))
            #expect(try output { try export.write(try SnapshotFile(path: path), to: $0) } == [
                ["SADD", "set", "x", "y"], ["SET", "str", "v"],
            ])
            export = CommandExport(now: 4_102_444_800_001)
            #expect(try output { try export.write(try SnapshotFile(path: path), to: $0) } == [
                ["SADD", "set", "x", "y"], ["SET", "str", "v"],
                ["ZADD", "zset", "1e+308", "big", "-inf", "low", "0.10000000000000001", "tenth"],
            ])
            // The stopped server's data directory gives the same commands (kvnode-dump --data).
            let view = try store.withKeyspace { try $0.snapshot() }
            #expect(try output { try CommandExport().write(view, to: $0) } == [
                ["HSET", "hash", "a", "1", "b", "2", "c", "3"], ["PEXPIREAT", "hash", "4102444800000"],
                ["SADD", "set", "x", "y"], ["SET", "str", "v"],
                ["ZADD", "zset", "1e+308", "big", "-inf", "low", "0.10000000000000001", "tenth"],
            ])
        }
    }

    /// The commands a command stream holds, parsed back.
    func output(_ body: (CommandStreamWriter) throws -> Void) throws -> [[String]] {
        let bytes = try withTemporaryDirectory { directory -> [UInt8] in
            let path = directory + "/out.resp"
            let fd = try FileSystem.createForWriting(path)
            let writer = CommandStreamWriter(fd: fd, name: path)
            try body(writer)
            try writer.flush()
            try FileSystem.closeFile(fd, path: path)
            return try readBytes(path)
        }
        var commands: [[String]] = []
        var index = 0
        func line() -> String {
            let start = index
            while !(bytes[index] == 0x0D && bytes[index + 1] == 0x0A) { index += 1 }
            defer { index += 2 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        while index < bytes.count {
            let header = line()
            #expect(header.first == "*")
            commands.append((0..<Int(header.dropFirst())!).map { _ in
                let length = Int(line().dropFirst())!
                defer { index += length + 2 }
                return String(decoding: bytes[index..<(index + length)], as: UTF8.self)
            })
        }
        return commands
    }
}
