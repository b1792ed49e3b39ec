/// Writes a state.bin: the header, one record per key and the trailer, through a staging buffer so that zlib sees
/// large chunks rather than one call per field. Not thread-safe.
public final class SnapshotStreamWriter {
    private let gzip: GzipFileWriter
    private let staging: UnsafeMutableRawBufferPointer
    private var staged = 0
    /// Records written so far.
    public private(set) var recordCount = 0

    /// Creates `path` and writes the header.
    /// - Parameter takenAt: the Unix milliseconds the keyspace view was taken at.
    public init(path: String, takenAt: Int64, compressionLevel: Int32 = 1, stagingSize: Int = 1 << 20) throws(SnapshotError) {
        gzip = try GzipFileWriter(path: path, level: compressionLevel)
        staging = .allocate(byteCount: stagingSize, alignment: 16)
        append(SnapshotFormat.magic)
        appendInteger(SnapshotFormat.version)
        appendInteger(UInt16(0))
        appendInteger(UInt64(bitPattern: takenAt))
    }

    deinit {
        staging.deallocate()
    }

    /// Size of the file written so far (complete after `finish()`).
    public var fileSize: Int { gzip.fileSize }
    /// CRC-32 of the file (complete after `finish()`).
    public var fileCRC: UInt32 { gzip.fileCRC }
    /// Uncompressed bytes of the record stream (complete after `finish()`).
    public var uncompressedSize: Int { gzip.uncompressedSize + staged }

    /// Appends one key.
    public func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expireAt: Int64) throws(SnapshotError) {
        if staging.count - staged < 22 + key.count { try flushStaging() }
        appendByte(SnapshotFormat.stringRecord)
        if expireAt > 0 {
            appendByte(SnapshotFormat.hasExpiry)
            appendInteger(UInt64(bitPattern: expireAt))
        } else {
            appendByte(0)
        }
        appendInteger(UInt32(key.count))
        try appendLarge(key)
        appendInteger(UInt64(value.count))
        try appendLarge(value)
        recordCount += 1
    }

    /// Writes the trailer, ends the gzip stream and flushes the file to disk.
    public func finish() throws(SnapshotError) {
        if staging.count - staged < SnapshotFormat.trailerLength { try flushStaging() }
        appendByte(SnapshotFormat.endOfRecords)
        appendInteger(UInt64(recordCount))
        try flushStaging()
        try gzip.finish()
    }

    // MARK: Staging

    private func flushStaging() throws(SnapshotError) {
        guard staged > 0 else { return }
        try gzip.write(UnsafeRawBufferPointer(rebasing: staging[..<staged]))
        staged = 0
    }

    /// Copies `bytes` into the staging buffer, or hands a large value straight to zlib.
    private func appendLarge(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) {
        if bytes.count <= staging.count - staged {
            append(bytes)
            return
        }
        try flushStaging()
        if bytes.count < staging.count / 2 {
            append(bytes)
        } else {
            try gzip.write(bytes)
        }
    }

    /// Copies bytes that fit in the staging buffer.
    private func append<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        let target = UnsafeMutableRawBufferPointer(rebasing: staging[staged...])
        target.copyBytes(from: bytes)
        staged += bytes.count
    }

    private func appendByte(_ byte: UInt8) {
        staging[staged] = byte
        staged += 1
    }

    private func appendInteger<I: FixedWidthInteger>(_ value: I) {
        staging.storeBytes(of: value.bigEndian, toByteOffset: staged, as: I.self)
        staged += MemoryLayout<I>.size
    }
}

@available(*, unavailable)
extension SnapshotStreamWriter: Sendable {}
