import NIOCore

/// Decodes requests from a connection's inbound bytes, incrementally.
///
/// Both request forms Redis accepts are understood, chosen by the first byte of each request:
/// ```
///   *2\r\n$3\r\nGET\r\n$1\r\nk\r\n      multibulk: '*' count, then '$' length + bytes + CRLF per argument
///   GET k\r\n                            inline: one line, split on spaces, with "..." and '...' quoting
/// ```
/// A multibulk request split across reads is resumed where it stopped: the headers already parsed are not scanned
/// again, so a 1M-argument request or a 512 MB bulk costs one pass over its bytes. Empty inline lines, `*0` and `*-1`
/// are skipped silently, as Redis does, which `redis-cli --pipe` relies on.
public struct RequestDecoder: Sendable {
    public var limits: DecoderLimits

    // State of a multibulk request whose bytes have not all arrived; offsets are relative to its first byte,
    // which stays at the buffer's reader index until the request completes.
    private var remainingArguments = 0
    private var pendingBulkLength = -1
    private var scanOffset = 0
    private var spans: [ArgumentSpan] = []

    public init(limits: DecoderLimits = DecoderLimits()) {
        self.limits = limits
    }

    /// Decodes the next complete request from `buffer`, consuming its bytes.
    /// - Returns: the request, or nil when `buffer` holds only part of one (call again when more bytes arrive).
    /// - Throws: `ProtocolError` for malformed input; the connection should then be closed.
    public mutating func next(from buffer: inout ByteBuffer) throws(ProtocolError) -> Request? {
        while buffer.readableBytes > 0 {
            if remainingArguments == 0 && spans.isEmpty {
                // At a request boundary: the first byte picks the protocol.
                if buffer.readableBytesView.first == UInt8(ascii: "*") {
                    guard let started = try startMultibulk(&buffer) else { return nil }
                    if !started {
                        continue  // *0 or *-1: nothing to run
                    }
                } else {
                    guard let line = try inlineRequest(&buffer) else { return nil }
                    if let line { return line }
                    continue  // an empty line
                }
            }
            guard try readArguments(buffer) else { return nil }
            let frame = buffer.readSlice(length: scanOffset)!
            // The span array moves into the request; `recycle(_:)` hands it back so its storage is reused.
            let request = Request(frame: frame, spans: spans)
            spans = []
            scanOffset = 0
            return request
        }
        return nil
    }

    /// Takes back a finished request's span array (and drops its frame), so decoding the next request allocates
    /// nothing. Call when the request will not be used again.
    public mutating func recycle(_ request: inout Request) {
        if spans.capacity == 0 {
            swap(&spans, &request.spans)
            spans.removeAll(keepingCapacity: true)
        }
        request.frame = ByteBuffer()
    }

    // MARK: Multibulk

    /// Parses `*<count>\r\n`. Returns nil when the line is incomplete, false for an empty request, true otherwise.
    private mutating func startMultibulk(_ buffer: inout ByteBuffer) throws(ProtocolError) -> Bool? {
        guard let lineEnd = buffer.firstIndex(of: UInt8(ascii: "\r"), from: 0) else {
            if buffer.readableBytes > limits.maxInlineLength { throw .tooBigMultibulkCount }
            return nil
        }
        // Redis reads the CR and skips one more byte, whatever it is; wait until that byte is here too.
        guard lineEnd + 1 < buffer.readableBytes else { return nil }
        guard let count = buffer.parseInteger(from: 1, to: lineEnd), count <= limits.maxMultibulkLength else {
            throw .invalidMultibulkLength
        }
        if count <= 0 {
            // Redis ignores *0 and *-1; consume the header and move on.
            buffer.moveReaderIndex(forwardBy: lineEnd + 2)
            return false
        }
        scanOffset = lineEnd + 2
        remainingArguments = count
        pendingBulkLength = -1
        spans.reserveCapacity(Swift.min(count, 1024))
        return true
    }

    /// Parses as many `$<len>\r\n<bytes>\r\n` arguments as have arrived. Returns true when the request is complete.
    private mutating func readArguments(_ buffer: ByteBuffer) throws(ProtocolError) -> Bool {
        let available = buffer.readableBytes
        while remainingArguments > 0 {
            if pendingBulkLength < 0 {
                guard scanOffset < available else { return false }
                guard let lineEnd = buffer.firstIndex(of: UInt8(ascii: "\r"), from: scanOffset) else {
                    if available - scanOffset > limits.maxInlineLength { throw .tooBigBulkCount }
                    return false
                }
                let marker = buffer.getInteger(at: buffer.readerIndex + scanOffset, as: UInt8.self)!
                guard marker == UInt8(ascii: "$") else { throw .expectedDollar(got: marker) }
                guard lineEnd + 1 < available else { return false }
                guard let length = buffer.parseInteger(from: scanOffset + 1, to: lineEnd),
                    length >= 0, length <= limits.maxBulkLength
                else { throw .invalidBulkLength }
                pendingBulkLength = length
                scanOffset = lineEnd + 2
            }
            // The bulk and the two bytes after it (Redis does not check that they are CRLF).
            guard available - scanOffset >= pendingBulkLength + 2 else { return false }
            spans.append(ArgumentSpan(offset: scanOffset, length: pendingBulkLength))
            scanOffset += pendingBulkLength + 2
            pendingBulkLength = -1
            remainingArguments -= 1
        }
        return true
    }

    // MARK: Inline

    /// Decodes one inline line. Returns nil when the line is incomplete, `.some(nil)` for an empty line.
    private mutating func inlineRequest(_ buffer: inout ByteBuffer) throws(ProtocolError) -> Request?? {
        guard let newline = buffer.firstIndex(of: UInt8(ascii: "\n"), from: 0) else {
            if buffer.readableBytes > limits.maxInlineLength { throw .tooBigInlineRequest }
            return nil
        }
        var lineLength = newline
        if lineLength > 0 && buffer.getInteger(at: buffer.readerIndex + lineLength - 1, as: UInt8.self) == UInt8(ascii: "\r") {
            lineLength -= 1
        }
        let arguments = try buffer.withUnsafeReadableBytes { bytes throws(ProtocolError) in
            try InlineSplitter.split(UnsafeRawBufferPointer(rebasing: bytes[0..<lineLength]))
        }
        buffer.moveReaderIndex(forwardBy: newline + 1)
        guard let arguments else { return .some(nil) }
        return .some(arguments)
    }
}

extension ByteBuffer {
    /// Index, relative to the reader index, of the first `byte` at or after relative index `start`.
    @inlinable
    func firstIndex(of byte: UInt8, from start: Int) -> Int? {
        withUnsafeReadableBytes { bytes in
            guard start < bytes.count else { return nil }
            return UnsafeRawBufferPointer(rebasing: bytes[start...]).firstIndex(of: byte).map { $0 + start }
        }
    }

    /// Parses the decimal integer between relative indices `start` and `end` with Redis's `string2ll` rules:
    /// an optional '-', no '+', no leading zeros, no spaces, no overflow.
    @inlinable
    func parseInteger(from start: Int, to end: Int) -> Int? {
        withUnsafeReadableBytes { bytes in
            RESPInteger.parse(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        }
    }
}
