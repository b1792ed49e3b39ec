import CZlib

/// Compresses a byte stream into a gzip file (one member), writing large chunks, and keeps the CRC-32 and size of
/// the file as written, for meta.json. Not thread-safe.
final class GzipFileWriter {
    let path: String
    private var fd: Int32
    // On the heap: see makeZStream.
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    /// Bytes written to the file so far.
    private(set) var fileSize = 0
    /// CRC-32 of the bytes written to the file so far.
    private(set) var fileCRC: UInt32 = 0
    /// Bytes given to `write` so far.
    private(set) var uncompressedSize = 0

    /// Creates `path` and starts a gzip stream at zlib `level` (1 = fastest, 9 = smallest).
    init(path: String, level: Int32 = 1, outputChunkSize: Int = 256 << 10) throws(SnapshotError) {
        // Everything that can fail happens before the last stored property is set: a class whose initializer
        // throws after full initialization runs its deinit, which would free these twice.
        let fd = try FileSystem.createForWriting(path, followSymlink: false)
        let stream = try makeZStream({ czlib_deflate_init_gzip($0, level) }, closingOnFailure: fd, what: "gzip compression for \(path)")
        self.path = path
        self.fd = fd
        self.stream = stream
        output = .allocate(byteCount: outputChunkSize, alignment: 16)
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        output.deallocate()
        if fd >= 0 { close(fd) }
    }

    /// Compresses `bytes`, writing whatever compressed output is ready.
    func write(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) {
        guard !bytes.isEmpty else { return }
        uncompressedSize += bytes.count
        stream.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(bytes.count)
        try deflateAll(flush: Z_NO_FLUSH)
    }

    /// Ends the gzip stream, flushes the file to disk and closes it.
    func finish() throws(SnapshotError) {
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        try deflateAll(flush: Z_FINISH)
        try FileSystem.sync(fd, path: path)
        let closing = fd
        fd = -1
        try FileSystem.closeFile(closing, path: path)
    }

    private func deflateAll(flush: Int32) throws(SnapshotError) {
        while true {
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(output.count)
            let status = deflate(stream, flush)
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw SnapshotError(.io, "gzip compression failed for \(path) (zlib status \(status))")
            }
            let produced = output.count - Int(stream.pointee.avail_out)
            if produced > 0 {
                let chunk = UnsafeRawBufferPointer(rebasing: output[..<produced])
                try FileSystem.writeAll(fd, chunk, path: path)
                fileCRC = UInt32(crc32(uLong(fileCRC), chunk.baseAddress!.assumingMemoryBound(to: Bytef.self), uInt(produced)))
                fileSize += produced
            }
            // Done when zlib consumed all input and had room to spare (or, when finishing, wrote the trailer).
            if flush == Z_FINISH ? status == Z_STREAM_END : stream.pointee.avail_out != 0 { return }
        }
    }
}

@available(*, unavailable)
extension GzipFileWriter: Sendable {}
