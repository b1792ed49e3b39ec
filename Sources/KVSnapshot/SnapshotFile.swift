import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A snapshot on disk, found from a path that names either a snapshot directory or a state.bin.
public struct SnapshotFile: Sendable {
    /// The state.bin.
    public let statePath: String
    /// The meta.json beside it, when there is one.
    public let metadataPath: String?

    /// Resolves `path`: a directory must hold state.bin; a file is taken as state.bin, with the meta.json of its
    /// directory when present.
    public init(path: String) throws(SnapshotError) {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        let state: String
        if FileSystem.isDirectory(path) {
            state = path + "/" + SnapshotStore.stateFileName
            guard FileSystem.exists(state) else {
                throw SnapshotError(
                    .io,
                    "\(path) is not a snapshot directory: it has no \(SnapshotStore.stateFileName) "
                        + "(give DATA/snapshots/<id> or its state.bin; a data directory is dumped with --data)")
            }
        } else {
            guard FileSystem.exists(path) else { throw SnapshotError.system("cannot open", path: path, errno: ENOENT) }
            state = path
        }
        statePath = state
        let directory = state.lastIndex(of: "/").map { String(state[..<$0]) } ?? "."
        let metadata = directory + "/" + SnapshotStore.metadataFileName
        metadataPath = FileSystem.exists(metadata) ? metadata : nil
    }

    /// Reads meta.json.
    public func readMetadata() throws(SnapshotError) -> SnapshotMetadata? {
        guard let metadataPath else { return nil }
        let bytes = try FileSystem.readSmallFile(metadataPath)
        return try SnapshotMetadata(json: String(decoding: bytes, as: UTF8.self), path: metadataPath)
    }

    /// Checks state.bin against meta.json: format version, size, then CRC-32 of the whole file.
    /// - Returns: the metadata, or nil when there is no meta.json to check against.
    /// - Throws: `truncated` when the file is shorter than meta.json says, `corrupt` on any other mismatch.
    @discardableResult
    public func verify() throws(SnapshotError) -> SnapshotMetadata? {
        guard let metadata = try readMetadata() else { return nil }
        guard metadata.formatVersion >= 1 && metadata.formatVersion <= Int(SnapshotFormat.version) else {
            throw SnapshotError(
                .unsupportedVersion,
                "\(metadataPath!) says format version \(metadata.formatVersion); this kvnode reads up to \(SnapshotFormat.version)")
        }
        let size = try FileSystem.size(of: statePath)
        if size < metadata.size {
            throw SnapshotError(.truncated, "\(statePath) is truncated: \(size) bytes, meta.json says \(metadata.size)")
        }
        if size > metadata.size {
            throw SnapshotError(.corrupt, "\(statePath) does not match meta.json: \(size) bytes, meta.json says \(metadata.size)")
        }
        let crc = try Self.crc32(ofFile: statePath)
        guard crc == metadata.crc32 else {
            var actual = metadata
            actual.crc32 = crc
            throw SnapshotError(
                .corrupt,
                "\(statePath) is corrupt: checksum mismatch (meta.json says \(metadata.checksumText), the file has \(actual.checksumText))")
        }
        return metadata
    }

    /// CRC-32 of a whole file, read in large chunks.
    public static func crc32(ofFile path: String) throws(SnapshotError) -> UInt32 {
        let fd = try FileSystem.openForReading(path)
        defer { _ = try? FileSystem.closeFile(fd, path: path) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var crc: uLong = 0
        while true {
            let count = try FileSystem.readChunk(fd, into: buffer, path: path)
            if count == 0 { return UInt32(crc) }
            crc = CZlib.crc32(crc, buffer.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(count))
        }
    }

    /// Opens state.bin for reading records.
    public func openReader() throws(SnapshotError) -> SnapshotStreamReader {
        try SnapshotStreamReader(path: statePath)
    }
}
