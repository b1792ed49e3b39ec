import KVStore

/// Writes a state.bin: the header, one record per key and the trailer, through a staging buffer so that zlib sees
/// large chunks rather than one call per field. Not thread-safe.
public final class SnapshotStreamWriter {
    private let gzip: GzipFileWriter
    private let staging: UnsafeMutableRawBufferPointer
    private var staged = 0
    /// Records written so far.
    public private(set) var recordCount = 0

    /// The format version written (`SnapshotFormat.version`, or `singleDatabaseVersion` when the header said so).
    public let version: UInt16
    /// The database of the records written from now on.
    private var database: UInt32 = 0

    /// Creates `path` and writes the header.
    /// - Parameter takenAt: the Unix milliseconds the keyspace view was taken at.
    /// - Parameter version: `SnapshotFormat.version`, or `singleDatabaseVersion` for a keyspace whose keys are all in
    ///   database 0 (`selectDatabase` then refuses any other).
    public init(
        path: String, takenAt: Int64, version: UInt16 = SnapshotFormat.version, compressionLevel: Int32 = 1,
        stagingSize: Int = 1 << 20
    ) throws(SnapshotError) {
        precondition(version == SnapshotFormat.version || version == SnapshotFormat.singleDatabaseVersion)
        self.version = version
        gzip = try GzipFileWriter(path: path, level: compressionLevel)
        staging = .allocate(byteCount: stagingSize, alignment: 16)
        append(SnapshotFormat.magic)
        appendInteger(version)
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

    /// Elements still to come for the collection being written.
    private var pendingElements = 0
    private var collectionType = ValueType.string

    /// Makes the records that follow `database`'s: writes a select record unless it is the current database (every
    /// stream starts in database 0).
    public func selectDatabase(_ database: UInt32) throws(SnapshotError) {
        precondition(pendingElements == 0, "a collection's elements are incomplete")
        guard database != self.database else { return }
        precondition(version >= 3, "a version \(version) snapshot holds database 0 only")
        if staging.count - staged < 5 { try flushStaging() }
        appendByte(SnapshotFormat.selectRecord)
        appendInteger(database)
        self.database = database
    }

    /// Appends one string key.
    public func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expireAt: Int64) throws(SnapshotError) {
        try appendKey(SnapshotFormat.stringRecord, key: key, expireAt: expireAt)
        appendInteger(UInt64(value.count))
        try appendLarge(value)
    }

    /// Starts a collection key; exactly `count` calls of `appendElement` must follow.
    public func beginCollection(
        _ type: ValueType, key: UnsafeRawBufferPointer, expireAt: Int64, count: Int
    ) throws(SnapshotError) {
        precondition(type.isCollection)
        try appendKey(SnapshotFormat.recordKind(of: type), key: key, expireAt: expireAt)
        appendInteger(UInt64(count))
        pendingElements = count
        collectionType = type
    }

    /// Appends one element of the collection begun last: a hash field and its value, a set member, a list item, a
    /// sorted set member and its score.
    public func appendElement(
        _ element: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        score: Double = 0
    ) throws(SnapshotError) {
        guard pendingElements > 0 else {
            throw SnapshotError(.corrupt, "the keyspace changed under the snapshot: a collection has more elements than its count")
        }
        pendingElements -= 1
        if staging.count - staged < 24 { try flushStaging() }
        switch collectionType {
        case .hash:
            appendInteger(UInt32(element.count))
            try appendLarge(element)
            if staging.count - staged < 8 { try flushStaging() }
            appendInteger(UInt64(value.count))
            try appendLarge(value)
        case .set:
            appendInteger(UInt32(element.count))
            try appendLarge(element)
        case .list:
            appendInteger(UInt64(element.count))
            try appendLarge(element)
        case .sortedSet:
            appendInteger(UInt32(element.count))
            try appendLarge(element)
            if staging.count - staged < 8 { try flushStaging() }
            appendInteger(score.bitPattern)
        case .string:
            preconditionFailure("a string has no elements")
        }
    }

    /// Ends the collection begun last, checking that it got as many elements as its count said.
    public func endCollection() throws(SnapshotError) {
        guard pendingElements == 0 else {
            throw SnapshotError(.corrupt, "the keyspace changed under the snapshot: a collection has fewer elements than its count")
        }
    }

    private func appendKey(_ kind: UInt8, key: UnsafeRawBufferPointer, expireAt: Int64) throws(SnapshotError) {
        precondition(pendingElements == 0, "a collection's elements are incomplete")
        if staging.count - staged < 22 + key.count { try flushStaging() }
        appendByte(kind)
        if expireAt > 0 {
            appendByte(SnapshotFormat.hasExpiry)
            appendInteger(UInt64(bitPattern: expireAt))
        } else {
            appendByte(0)
        }
        appendInteger(UInt32(key.count))
        try appendLarge(key)
        if staging.count - staged < 8 { try flushStaging() }
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
