import Foundation
import KVStore
import Testing
@testable import KVSnapshot

/// The RESP command stream written for `redis-cli --pipe`.
@Suite struct CommandExportTests {
    /// Runs `body` with a writer into a file and returns the file's bytes.
    private func output(bufferSize: Int = 4 << 20, _ body: (CommandStreamWriter) throws -> Void) throws -> [UInt8] {
        try withTemporaryDirectory { directory in
            let path = directory + "/out.resp"
            let fd = try FileSystem.createForWriting(path)
            let writer = CommandStreamWriter(fd: fd, name: path, bufferSize: bufferSize)
            try body(writer)
            try writer.flush()
            try FileSystem.closeFile(fd, path: path)
            return try readBytes(path)
        }
    }

    private func set(_ writer: CommandStreamWriter, _ key: [UInt8], _ value: [UInt8], _ expireAt: Int64 = 0) throws {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { try writer.writeSet(key: k, value: $0, expireAt: expireAt) } }
    }

    @Test func setCommandsAreExactRESP() throws {
        let bytes = try output { writer in
            try set(writer, Array("k".utf8), [0x0D, 0x0A, 0x00])
            try set(writer, [], [], 1_700_000_000_123)
            #expect(writer.commandCount == 2)
        }
        let expected = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n\r\n\0\r\n"
            + "*5\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n$4\r\nPXAT\r\n$13\r\n1700000000123\r\n"
        #expect(bytes == Array(expected.utf8))
    }

    @Test func valuesLargerThanTheBufferAreWrittenWhole() throws {
        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        var written = 0
        let bytes = try output(bufferSize: 4096) { writer in
            for index in 0..<50 { try set(writer, Array("key\(index)".utf8), Array("v".utf8)) }
            try set(writer, Array("big".utf8), big)
            try set(writer, Array("after".utf8), Array("x".utf8))
            written = writer.byteCount
        }
        #expect(bytes.count == written)
        let header = Array("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$100000\r\n".utf8)
        let start = try #require(bytes.firstRange(of: header)).upperBound
        #expect(Array(bytes[start..<(start + big.count)]) == big)
        #expect(bytes.suffix(31) == Array("*3\r\n$3\r\nSET\r\n$5\r\nafter\r\n$1\r\nx\r\n".utf8)[...])
    }

    @Test func exportSkipsExpiredKeysAndAppliesThePattern() throws {
        try withTemporaryDirectory { directory in
            try writeStateFile([
                Entry("user:1", "a"), Entry("user:2", "b", expireAt: 1000), Entry("user:3", "c", expireAt: 3000),
                Entry("other", "d"),
            ], to: directory + "/state.bin")
            let file = try SnapshotFile(path: directory)
            #expect(file.metadataPath == nil)
            var export = CommandExport(pattern: GlobPattern(Array("user:*".utf8)), now: 2000)
            var reported = 0
            export.progress = { keys, _ in reported = keys }
            let bytes = try output { try export.write(file, to: $0) }
            let expected = "*3\r\n$3\r\nSET\r\n$6\r\nuser:1\r\n$1\r\na\r\n"
                + "*5\r\n$3\r\nSET\r\n$6\r\nuser:3\r\n$1\r\nc\r\n$4\r\nPXAT\r\n$4\r\n3000\r\n"
            #expect(bytes == Array(expected.utf8))
            #expect(reported == 4)
        }
    }
}
