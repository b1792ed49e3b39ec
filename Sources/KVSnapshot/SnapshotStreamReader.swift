import KVStore

/// Reads a state.bin record by record. The whole stream is validated: header, record kinds, the trailer's count,
/// nothing after the trailer, and gzip's CRC-32; a stream cut short anywhere is reported as truncated. Not
/// thread-safe.
public final class SnapshotStreamReader {
    private let gzip: GzipFileReader
    /// Decompressed bytes not consumed yet live in `buffer[start..<end]`. The buffer grows only as data arrives, so
    /// a damaged length cannot make it allocate more than the stream really holds.
    private var buffer: UnsafeMutableRawBufferPointer
    private var start: Int
    private var end: Int
    private var finished = false
    private let path: String

    /// The snapshot format version of the stream.
    public let version: UInt16
    /// Unix milliseconds the keyspace view was taken at.
    public let takenAt: Int64
    /// Records read so far.
    public private(set) var recordCount = 0
    /// The database of the records being read (the last select record's; 0 before any).
    public private(set) var database: UInt32 = 0

    /// Opens `path` and reads the header.
    public init(path: String, chunkSize: Int = 1 << 20) throws(SnapshotError) {
        // Read and check the header into locals first: once every stored property is set, a throw runs deinit.
        let gzip = try GzipFileReader(path: path)
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        var start = 0
        var end = 0
        let version: UInt16
        let takenAt: Int64
        do throws(SnapshotError) {
            try Self.fill(gzip, &buffer, start: &start, end: &end, atLeast: SnapshotFormat.headerLength, path: path)
            let header = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + SnapshotFormat.headerLength)])
            guard header.starts(with: SnapshotFormat.magic) else {
                throw SnapshotError(.corrupt, "\(path) is not a kvnode snapshot (bad magic bytes)")
            }
            version = Self.integer(header, at: 8, as: UInt16.self)
            takenAt = Int64(bitPattern: Self.integer(header, at: 12, as: UInt64.self))
            guard version >= 1 && version <= SnapshotFormat.version else {
                throw SnapshotError(
                    .unsupportedVersion,
                    "\(path) has snapshot format version \(version); this kvnode reads up to \(SnapshotFormat.version)")
            }
        } catch {
            buffer.deallocate()
            throw error
        }
        self.path = path
        self.gzip = gzip
        self.buffer = buffer
        self.start = start + SnapshotFormat.headerLength
        self.end = end
        self.version = version
        self.takenAt = takenAt
    }

    deinit {
        buffer.deallocate()
    }

    /// Compressed bytes read from the file so far, for progress reports.
    public var compressedBytesRead: Int { gzip.compressedBytesRead }

    /// Elements still to come for the collection read last, and its type.
    private var remainingElements = 0
    private var collectionType = ValueType.string

    /// Calls `body` with the next entry (a key, or an element of the collection before it) and returns true, or
    /// returns false after validating the trailer.
    public func next(_ body: (SnapshotEntry) throws -> Void) throws -> Bool {
        guard !finished else { return false }
        if remainingElements > 0 {
            try readElement(body)
            return true
        }
        try require(1)
        var kind = buffer[start]
        while kind == SnapshotFormat.selectRecord && version >= 3 {
            try require(5)
            database = integer(at: 1, as: UInt32.self)
            start += 5
            try require(1)
            kind = buffer[start]
        }
        if kind == SnapshotFormat.endOfRecords {
            try readTrailer()
            return false
        }
        guard let type = SnapshotFormat.valueType(ofRecordKind: kind, version: version) else {
            throw SnapshotError(.corrupt, "\(path) is corrupt: unknown record kind 0x\(String(kind, radix: 16)) after record \(recordCount)")
        }
        try require(2)
        let flags = buffer[start + 1]
        let expiryLength = flags & SnapshotFormat.hasExpiry != 0 ? 8 : 0
        guard flags & ~SnapshotFormat.hasExpiry == 0 else {
            throw SnapshotError(.corrupt, "\(path) is corrupt: unknown record flags 0x\(String(flags, radix: 16)) after record \(recordCount)")
        }
        let keyLengthAt = 2 + expiryLength
        try require(keyLengthAt + 4)
        let keyLength = Int(integer(at: keyLengthAt, as: UInt32.self))
        guard keyLength <= SnapshotFormat.maximumKeyLength else {
            throw SnapshotError(.corrupt, "\(path) is corrupt: key length \(keyLength) in record \(recordCount + 1)")
        }
        let lengthAt = keyLengthAt + 4 + keyLength
        try require(lengthAt + 8)
        let length = integer(at: lengthAt, as: UInt64.self)
        guard length <= UInt64(Int.max - lengthAt - 8) else {
            throw SnapshotError(.corrupt, "\(path) is corrupt: value length \(length) in record \(recordCount + 1)")
        }
        // A string's value follows its length; a collection's count is all of its header.
        let total = lengthAt + 8 + (type == .string ? Int(length) : 0)
        try require(total)
        let record = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + total)])
        let expireAt = expiryLength > 0 ? Int64(bitPattern: Self.integer(record, at: 2, as: UInt64.self)) : 0
        let key = UnsafeRawBufferPointer(rebasing: record[(keyLengthAt + 4)..<lengthAt])
        start += total
        recordCount += 1
        if type == .string {
            try body(SnapshotEntry(
                key: key, value: UnsafeRawBufferPointer(rebasing: record[(lengthAt + 8)...]), expireAt: expireAt,
                database: database))
        } else {
            remainingElements = Int(length)
            collectionType = type
            try body(SnapshotEntry(
                kind: .collection(type, count: Int(length)), key: key, expireAt: expireAt, database: database))
        }
        return true
    }

    /// Reads one element of the current collection.
    private func readElement(_ body: (SnapshotEntry) throws -> Void) throws {
        let corrupt = { (what: String) in
            SnapshotError(.corrupt, "\(self.path) is corrupt: \(what) in an element of record \(self.recordCount)")
        }
        // The element's own length field: u32 for names (fields, members), u64 for list items.
        let nameLengthSize = collectionType == .list ? 8 : 4
        try require(nameLengthSize)
        let nameLength = nameLengthSize == 4
            ? UInt64(integer(at: 0, as: UInt32.self)) : integer(at: 0, as: UInt64.self)
        guard nameLength <= UInt64(Int.max / 2) else { throw corrupt("length \(nameLength)") }
        let nameEnd = nameLengthSize + Int(nameLength)
        var total = nameEnd
        var valueLength = 0
        switch collectionType {
        case .hash:
            try require(nameEnd + 8)
            let length = integer(at: nameEnd, as: UInt64.self)
            guard length <= UInt64(Int.max / 2) else { throw corrupt("value length \(length)") }
            valueLength = Int(length)
            total = nameEnd + 8 + valueLength
        case .sortedSet:
            total = nameEnd + 8
        default:
            break
        }
        try require(total)
        let bytes = UnsafeRawBufferPointer(rebasing: buffer[start..<(start + total)])
        let element = UnsafeRawBufferPointer(rebasing: bytes[nameLengthSize..<nameEnd])
        start += total
        remainingElements -= 1
        switch collectionType {
        case .hash:
            try body(SnapshotEntry(
                kind: .element, key: element, value: UnsafeRawBufferPointer(rebasing: bytes[(nameEnd + 8)...]),
                database: database))
        case .sortedSet:
            let score = Double(bitPattern: Self.integer(bytes, at: nameEnd, as: UInt64.self))
            try body(SnapshotEntry(kind: .element, key: element, score: score, database: database))
        default:
            try body(SnapshotEntry(kind: .element, key: element, database: database))
        }
    }

    /// Reads every remaining record, then validates the trailer.
    public func forEach(_ body: (SnapshotEntry) throws -> Void) throws {
        while try next(body) {}
    }

    private func readTrailer() throws(SnapshotError) {
        try require(SnapshotFormat.trailerLength)
        let count = integer(at: 1, as: UInt64.self)
        start += SnapshotFormat.trailerLength
        guard count == UInt64(recordCount) else {
            throw SnapshotError(.corrupt, "\(path) is corrupt: the trailer counts \(count) records but \(recordCount) were read")
        }
        // Anything after the trailer, and gzip's own checks, come from draining the stream.
        let more = start < end ? true : try Self.fill(gzip, &buffer, start: &start, end: &end, atLeast: 1, path: path, endIsFine: true)
        if more {
            throw SnapshotError(.corrupt, "\(path) is corrupt: data after the trailer")
        }
        finished = true
    }

    // MARK: Buffer

    /// Makes at least `count` unconsumed bytes available, or throws `truncated`.
    @inline(__always)
    private func require(_ count: Int) throws(SnapshotError) {
        if end - start >= count { return }
        do {
            try Self.fill(gzip, &buffer, start: &start, end: &end, atLeast: count, path: path)
        } catch where error.kind == .truncated {
            throw SnapshotError(.truncated, "\(path) is truncated: it ends inside record \(recordCount + 1), before the trailer")
        }
    }

    /// Reads until `buffer[start..<end]` holds `count` bytes, moving the unread bytes to the front and growing the
    /// buffer (at most doubling per step) when needed.
    /// - Returns: whether `count` bytes are available; false only when `endIsFine` and the stream ended.
    @discardableResult
    private static func fill(
        _ gzip: GzipFileReader, _ buffer: inout UnsafeMutableRawBufferPointer, start: inout Int, end: inout Int,
        atLeast count: Int, path: String, endIsFine: Bool = false
    ) throws(SnapshotError) -> Bool {
        while end - start < count {
            if start > 0 && (end == start || buffer.count - end < count - (end - start)) {
                let unread = end - start
                if unread > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: unread) }
                start = 0
                end = unread
            }
            if end == buffer.count {
                let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 16)
                grown.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: end)
                buffer.deallocate()
                buffer = grown
            }
            let read = try gzip.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if read == 0 {
                if endIsFine { return false }
                throw SnapshotError(.truncated, "\(path) is truncated")
            }
            end += read
        }
        return true
    }

    @inline(__always)
    private func integer<I: FixedWidthInteger>(at offset: Int, as type: I.Type) -> I {
        Self.integer(UnsafeRawBufferPointer(rebasing: buffer[start...]), at: offset, as: type)
    }

    @inline(__always)
    private static func integer<I: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, at offset: Int, as type: I.Type) -> I {
        I(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: I.self))
    }
}

@available(*, unavailable)
extension SnapshotStreamReader: Sendable {}
