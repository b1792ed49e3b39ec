import Foundation
import KVStore
@testable import KVSnapshot

/// A fresh directory under the temporary directory, removed when `body` returns.
func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("kvsnapshot-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// A key, value and expiry as plain arrays, for comparing what was written with what was read.
struct Entry: Equatable, CustomStringConvertible {
    var key: [UInt8]
    var value: [UInt8]
    var expireAt: Int64 = 0

    init(_ key: [UInt8], _ value: [UInt8], expireAt: Int64 = 0) {
        self.key = key
        self.value = value
        self.expireAt = expireAt
    }

    init(_ key: String, _ value: String, expireAt: Int64 = 0) {
        self.init(Array(key.utf8), Array(value.utf8), expireAt: expireAt)
    }

    var description: String { "\(String(decoding: key.prefix(40), as: UTF8.self)) (\(value.count) bytes, expireAt \(expireAt))" }
}

/// Entries that exercise the format: binary bytes, an empty key and value, an expiry, a value larger than every
/// internal buffer.
let sampleEntries: [Entry] = [
    Entry([], Array("empty key".utf8)),
    Entry("a", ""),
    Entry([0x00, 0x0D, 0x0A, 0xFF], [0x0D, 0x0A, 0x00, 0x0D, 0x0A]),
    Entry("ttl", "soon", expireAt: 4_102_444_800_000),
    Entry(Array("big".utf8), (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }),
    Entry("z", "last"),
]

/// Writes `entries` as a state.bin at `path`.
func writeStateFile(_ entries: [Entry], to path: String, takenAt: Int64 = 1_700_000_000_000) throws {
    let writer = try SnapshotStreamWriter(path: path, takenAt: takenAt, stagingSize: 64 << 10)
    for entry in entries {
        try entry.key.withUnsafeBytes { key in
            try entry.value.withUnsafeBytes { value in
                try writer.append(key: key, value: value, expireAt: entry.expireAt)
            }
        }
    }
    try writer.finish()
}

/// Reads every record of the state.bin at `path`.
func readStateFile(_ path: String) throws -> [Entry] {
    let reader = try SnapshotStreamReader(path: path, chunkSize: 4096)
    var entries: [Entry] = []
    try reader.forEach { entries.append(Entry(Array($0.key), Array($0.value), expireAt: $0.expireAt)) }
    return entries
}

func readBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Gzips raw bytes with kvnode's own writer, to build record streams the snapshot writer would never produce.
func writeGzip(_ bytes: [UInt8], to path: String) throws {
    let gzip = try GzipFileWriter(path: path)
    try bytes.withUnsafeBytes { try gzip.write($0) }
    try gzip.finish()
}

/// The error `body` throws as a `SnapshotError`, or nil when it succeeds.
func snapshotError(_ body: () throws -> Void) -> SnapshotError? {
    do {
        try body()
        return nil
    } catch let error as SnapshotError {
        return error
    } catch {
        return SnapshotError(.io, "unexpected error type: \(error)")
    }
}
