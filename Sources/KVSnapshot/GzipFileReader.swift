import CZlib

/// Decompresses a gzip file (one member) in large chunks. Truncation and damage are errors, never a silent short
/// read: zlib checks the member's own CRC-32 and length at its end. Not thread-safe.
final class GzipFileReader {
    let path: String
    private let fd: Int32
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var inputEnded = false
    private var streamEnded = false
    /// Compressed bytes read from the file so far.
    private(set) var compressedBytesRead = 0

    init(path: String, inputChunkSize: Int = 256 << 10) throws(SnapshotError) {
        // Everything that can fail happens before the last stored property is set (see GzipFileWriter.init).
        let fd = try FileSystem.openForReading(path)
        let stream = try makeZStream(czlib_inflate_init_gzip, closingOnFailure: fd, what: "gzip decompression for \(path)")
        self.path = path
        self.fd = fd
        self.stream = stream
        input = .allocate(byteCount: inputChunkSize, alignment: 16)
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
        close(fd)
    }

    /// Fills `buffer` with decompressed bytes.
    /// - Returns: the number of bytes written to `buffer`; 0 only at the verified end of the gzip stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SnapshotError) -> Int {
        guard !streamEnded, !buffer.isEmpty else { return 0 }
        stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(buffer.count)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 && !inputEnded { try refill() }
            let status = inflate(stream, Z_NO_FLUSH)
            switch status {
            case Z_STREAM_END:
                streamEnded = true
                try checkNothingFollows()
                return buffer.count - Int(stream.pointee.avail_out)
            case Z_OK:
                continue
            case Z_BUF_ERROR where inputEnded && stream.pointee.avail_in == 0:
                throw SnapshotError(.truncated, "\(path) is truncated: the gzip stream ends early")
            case Z_BUF_ERROR:
                continue
            default:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw SnapshotError(.corrupt, "\(path) is corrupt: \(detail)")
            }
        }
        return buffer.count
    }

    private func refill() throws(SnapshotError) {
        let count = try FileSystem.readChunk(fd, into: input, path: path)
        compressedBytesRead += count
        if count == 0 { inputEnded = true }
        stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_in = uInt(count)
    }

    /// kvnode writes a single gzip member; bytes after it mean the file is not what meta.json describes.
    private func checkNothingFollows() throws(SnapshotError) {
        if stream.pointee.avail_in == 0 && !inputEnded { try refill() }
        guard stream.pointee.avail_in == 0 else {
            throw SnapshotError(.corrupt, "\(path) is corrupt: unexpected data after the end of the gzip stream")
        }
    }
}

@available(*, unavailable)
extension GzipFileReader: Sendable {}
