import Testing
@testable import KVSnapshot

/// The record writer and reader: round trips, and every way a damaged file must be refused.
@Suite struct SnapshotStreamTests {
    @Test func roundTripKeepsKeysValuesAndExpiries() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            try writeStateFile(sampleEntries, to: path, takenAt: 1_234_567)
            #expect(try readStateFile(path) == sampleEntries)
            let reader = try SnapshotStreamReader(path: path)
            #expect(reader.version == SnapshotFormat.version)
            #expect(reader.takenAt == 1_234_567)
        }
    }

    @Test func emptyKeyspaceIsAValidSnapshot() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            try writeStateFile([], to: path)
            #expect(try readStateFile(path) == [])
        }
    }

    @Test func manySmallRecordsCrossEveryBufferBoundary() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            let entries = (0..<20_000).map { Entry("key:\($0)", String(repeating: "v", count: $0 % 300), expireAt: Int64($0 % 3)) }
            try writeStateFile(entries, to: path)
            #expect(try readStateFile(path) == entries)
        }
    }

    /// Writes a state.bin of the small sample entries and hands its directory and bytes to `body`.
    private func withSmallStateFile(_ body: (_ directory: String, _ whole: [UInt8]) throws -> Void) throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            try writeStateFile(Array(sampleEntries.prefix(4)), to: path)
            try body(directory, try readBytes(path))
        }
    }

    @Test func everyTruncationIsRefused() throws {
        try withSmallStateFile { directory, whole in
            let cut = directory + "/cut.bin"
            for length in 0..<whole.count {
                try writeBytes(Array(whole.prefix(length)), to: cut)
                let error = snapshotError { _ = try readStateFile(cut) }
                #expect(error?.kind == .truncated, "cut at \(length) of \(whole.count): \(String(describing: error))")
            }
        }
    }

    @Test func flippedBytesAreRefused() throws {
        try withSmallStateFile { directory, whole in
            let damaged = directory + "/damaged.bin"
            // Byte 0-9 is the gzip header (of which some bytes are not checked); everything after must be covered.
            for position in 10..<whole.count {
                var bytes = whole
                bytes[position] ^= 0x5A
                try writeBytes(bytes, to: damaged)
                let error = snapshotError { _ = try readStateFile(damaged) }
                #expect(error != nil, "flipping byte \(position) of \(whole.count) went unnoticed")
            }
        }
    }

    @Test func dataAfterTheGzipStreamIsRefused() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            try writeStateFile(sampleEntries.prefix(2).map { $0 }, to: path)
            try writeBytes(try readBytes(path) + [0x1F, 0x8B, 0x08], to: path)
            #expect(snapshotError { _ = try readStateFile(path) }?.kind == .corrupt)
        }
    }

    @Test func trailerCountMustMatchTheRecords() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            var stream = header(version: 1)
            stream += [SnapshotFormat.stringRecord, 0, 0, 0, 0, 1, UInt8(ascii: "k"), 0, 0, 0, 0, 0, 0, 0, 1, UInt8(ascii: "v")]
            stream += [SnapshotFormat.endOfRecords, 0, 0, 0, 0, 0, 0, 0, 2]
            try writeGzip(stream, to: path)
            let error = snapshotError { _ = try readStateFile(path) }
            #expect(error?.kind == .corrupt)
            #expect(error?.description.contains("trailer counts 2 records but 1 were read") == true)
        }
    }

    @Test func aStreamWithoutTrailerIsTruncated() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            // A complete gzip stream that stops at a record boundary: only the trailer tells it from a full one.
            var stream = header(version: 1)
            stream += [SnapshotFormat.stringRecord, 0, 0, 0, 0, 1, UInt8(ascii: "k"), 0, 0, 0, 0, 0, 0, 0, 1, UInt8(ascii: "v")]
            try writeGzip(stream, to: path)
            #expect(snapshotError { _ = try readStateFile(path) }?.kind == .truncated)
        }
    }

    @Test func newerVersionsAndForeignFilesAreRefused() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            try writeGzip(header(version: SnapshotFormat.version + 1) + [SnapshotFormat.endOfRecords] + [UInt8](repeating: 0, count: 8), to: path)
            #expect(snapshotError { _ = try readStateFile(path) }?.kind == .unsupportedVersion)

            try writeGzip(Array("KEY value\r\n and other text that is no snapshot".utf8), to: path)
            #expect(snapshotError { _ = try readStateFile(path) }?.kind == .corrupt)

            try writeBytes(Array("not even gzip".utf8), to: path)
            #expect(snapshotError { _ = try readStateFile(path) }?.kind == .corrupt)
        }
    }

    @Test func unknownRecordKindIsRefused() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            try writeGzip(header(version: 1) + [0x07, 0, 0, 0, 0, 0], to: path)
            let error = snapshotError { _ = try readStateFile(path) }
            #expect(error?.kind == .corrupt)
            #expect(error?.description.contains("unknown record kind 0x7") == true)
        }
    }

    @Test func writeErrorsSurfaceWithThePath() throws {
        // /dev/full accepts the open and fails every write with ENOSPC, as a full disk does.
        let error = snapshotError {
            let writer = try SnapshotStreamWriter(path: "/dev/full", takenAt: 0, stagingSize: 4096)
            let value = [UInt8](repeating: 7, count: 1 << 20)
            try value.withUnsafeBytes { try writer.append(key: $0, value: $0, expireAt: 0) }
            try writer.finish()
        }
        #expect(error?.kind == .io)
        #expect(error?.description.contains("No space left on device") == true)
    }

    private func header(version: UInt16) -> [UInt8] {
        SnapshotFormat.magic + [UInt8(version >> 8), UInt8(version & 0xFF), 0, 0] + [UInt8](repeating: 0, count: 8)
    }
}

/// Version 3's select records: the records after one are of its database, and only version 3 has them.
@Suite struct SnapshotDatabaseTests {
    @Test func selectRecordsNameTheDatabaseOfTheRecordsAfterThem() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            let writer = try SnapshotStreamWriter(path: path, takenAt: 1)
            for (database, key) in [(UInt32(0), "a"), (0, "b"), (2, "a"), (70_000, "z")] {
                try writer.selectDatabase(database)
                try Array(key.utf8).withUnsafeBytes { keyBytes in
                    try Array("v".utf8).withUnsafeBytes { try writer.append(key: keyBytes, value: $0, expireAt: 0) }
                }
            }
            try writer.finish()
            #expect(writer.recordCount == 4)
            let reader = try SnapshotStreamReader(path: path)
            #expect(reader.version == 3)
            var read: [String] = []
            try reader.forEach { entry in read.append("\(entry.database):\(String(decoding: entry.key, as: UTF8.self))") }
            #expect(read == ["0:a", "0:b", "2:a", "70000:z"])
        }
    }

    @Test func aKeyspaceOfDatabaseZeroIsWrittenAsVersion2() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/state.bin"
            let writer = try SnapshotStreamWriter(path: path, takenAt: 1, version: SnapshotFormat.singleDatabaseVersion)
            try writer.selectDatabase(0)
            try writer.finish()
            #expect(try SnapshotStreamReader(path: path).version == 2)
        }
    }
}
