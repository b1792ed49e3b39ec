import NIOCore

/// Appends replies to one outbound buffer, in the encoding of the connection's protocol version.
///
/// RESP3-only types degrade as Redis degrades them for RESP2 clients: null → `$-1` (or `*-1` for arrays),
/// map → flat array of 2n elements, set and push → array, double → bulk string, boolean → integer 1/0.
public struct ReplyWriter: Sendable {
    /// The encoded replies, ready to be written to the socket.
    public var buffer: ByteBuffer
    /// The encoding used for replies written from now on.
    public var version: ProtocolVersion

    public init(buffer: ByteBuffer, version: ProtocolVersion = .resp2) {
        self.buffer = buffer
        self.version = version
    }

    // MARK: Simple replies

    /// `+OK`
    @inlinable public mutating func ok() { buffer.writeStaticString("+OK\r\n") }

    /// A status reply such as `+PONG` or `+QUEUED`.
    @inlinable public mutating func simpleString(_ text: StaticString) {
        buffer.writeInteger(UInt8(ascii: "+"))
        buffer.writeStaticString(text)
        buffer.writeStaticString("\r\n")
    }

    /// A status reply from runtime text; CR and LF are replaced by spaces so the reply cannot be broken.
    public mutating func simpleString(_ text: String) {
        buffer.writeInteger(UInt8(ascii: "+"))
        writeLine(text)
    }

    /// An error reply. `text` starts with the error code, e.g. `ERR syntax error` or `WRONGTYPE ...`.
    public mutating func error(_ text: String) {
        buffer.writeInteger(UInt8(ascii: "-"))
        writeLine(text)
    }

    private mutating func writeLine(_ text: String) {
        for byte in text.utf8 {
            buffer.writeInteger(byte == 0x0D || byte == 0x0A ? 0x20 : byte)
        }
        buffer.writeStaticString("\r\n")
    }

    /// `:<n>`
    @inlinable public mutating func integer(_ value: Int) {
        buffer.writeInteger(UInt8(ascii: ":"))
        writeDecimal(value)
        buffer.writeStaticString("\r\n")
    }

    // MARK: Bulk strings

    /// A bulk string of raw bytes: the one copy of a value on its way out.
    @inlinable public mutating func bulk(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        var digits = 1
        var rest = count
        while rest >= 10 {
            rest /= 10
            digits &+= 1
        }
        // One capacity check and one copy: `$`, the length, CRLF, the bytes and CRLF written in place (each separate
        // ByteBuffer write re-checks capacity and uniqueness, which showed in LRANGE's profile).
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count &+ digits &+ 5) { out in
            let base = out.baseAddress!
            let crlf = UInt16(0x0A0D).littleEndian  // "\r\n" in memory order
            base.storeBytes(of: UInt8(ascii: "$"), as: UInt8.self)
            var value = count
            var index = digits
            while index > 0 {
                base.storeBytes(of: UInt8(truncatingIfNeeded: value % 10) &+ 0x30, toByteOffset: index, as: UInt8.self)
                value /= 10
                index &-= 1
            }
            var position = 1 &+ digits
            base.storeBytes(of: crlf, toByteOffset: position, as: UInt16.self)
            position &+= 2
            if count > 0 { (base + position).copyMemory(from: bytes.baseAddress!, byteCount: count) }
            position &+= count
            base.storeBytes(of: crlf, toByteOffset: position, as: UInt16.self)
            return position &+ 2
        }
    }

    /// A bulk string of a buffer's readable bytes.
    @inlinable public mutating func bulk(_ bytes: ByteBuffer) {
        writeBulkHeader(bytes.readableBytes)
        buffer.writeImmutableBuffer(bytes)
        buffer.writeStaticString("\r\n")
    }

    /// A bulk string of text.
    public mutating func bulk(_ text: String) {
        writeBulkHeader(text.utf8.count)
        buffer.writeString(text)
        buffer.writeStaticString("\r\n")
    }

    /// A bulk string of an integer's decimal digits.
    public mutating func bulk(decimal value: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { scratch in
            let count = RESPInteger.format(value, into: scratch)
            writeBulkHeader(count)
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[(20 - count)...]))
        }
        buffer.writeStaticString("\r\n")
    }

    @inlinable mutating func writeBulkHeader(_ count: Int) {
        buffer.writeInteger(UInt8(ascii: "$"))
        writeDecimal(count)
        buffer.writeStaticString("\r\n")
    }

    // MARK: Nulls

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    @inlinable public mutating func null() {
        if version == .resp3 { buffer.writeStaticString("_\r\n") } else { buffer.writeStaticString("$-1\r\n") }
    }

    /// The null array reply: `*-1` in RESP2, `_` in RESP3 (EXEC after a failed WATCH, for example).
    @inlinable public mutating func nullArray() {
        if version == .resp3 { buffer.writeStaticString("_\r\n") } else { buffer.writeStaticString("*-1\r\n") }
    }

    // MARK: Aggregates

    /// `*<n>`; write the n elements next.
    @inlinable public mutating func arrayHeader(_ count: Int) {
        buffer.writeInteger(UInt8(ascii: "*"))
        writeDecimal(count)
        buffer.writeStaticString("\r\n")
    }

    /// `%<n>` in RESP3, `*<2n>` in RESP2; write n key/value pairs next.
    @inlinable public mutating func mapHeader(_ count: Int) {
        if version == .resp3 {
            buffer.writeInteger(UInt8(ascii: "%"))
            writeDecimal(count)
        } else {
            buffer.writeInteger(UInt8(ascii: "*"))
            writeDecimal(count * 2)
        }
        buffer.writeStaticString("\r\n")
    }

    /// `~<n>` in RESP3, `*<n>` in RESP2.
    @inlinable public mutating func setHeader(_ count: Int) {
        buffer.writeInteger(version == .resp3 ? UInt8(ascii: "~") : UInt8(ascii: "*"))
        writeDecimal(count)
        buffer.writeStaticString("\r\n")
    }

    /// `><n>` in RESP3, `*<n>` in RESP2: an out-of-band message such as a Pub/Sub delivery.
    @inlinable public mutating func pushHeader(_ count: Int) {
        buffer.writeInteger(version == .resp3 ? UInt8(ascii: ">") : UInt8(ascii: "*"))
        writeDecimal(count)
        buffer.writeStaticString("\r\n")
    }

    // MARK: Other RESP3 types

    /// `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    public mutating func boolean(_ value: Bool) {
        if version == .resp3 {
            buffer.writeStaticString(value ? "#t\r\n" : "#f\r\n")
        } else {
            buffer.writeStaticString(value ? ":1\r\n" : ":0\r\n")
        }
    }

    /// `,<text>` in RESP3, a bulk string in RESP2. `text` is the already formatted number (Redis formats doubles
    /// differently per command, so formatting is the caller's).
    public mutating func double(formatted text: String) {
        var text = text
        text.withUTF8 { double(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// `,<text>` in RESP3, a bulk string in RESP2, for a number already formatted as bytes.
    public mutating func double(bytes text: UnsafeRawBufferPointer) {
        if version == .resp3 {
            buffer.writeInteger(UInt8(ascii: ","))
            buffer.writeBytes(text)
            buffer.writeStaticString("\r\n")
        } else {
            bulk(text)
        }
    }

    /// `=<len>\r\ntxt:<text>` in RESP3, a bulk string in RESP2 (INFO, CLIENT LIST and CLIENT INFO use it).
    public mutating func verbatim(_ text: String) {
        if version == .resp3 {
            buffer.writeInteger(UInt8(ascii: "="))
            writeDecimal(text.utf8.count + 4)
            buffer.writeStaticString("\r\ntxt:")
            buffer.writeString(text)
            buffer.writeStaticString("\r\n")
        } else {
            bulk(text)
        }
    }

    // MARK: Digits

    @inlinable mutating func writeDecimal(_ value: Int) {
        if value >= 0 && value < 10 {
            buffer.writeInteger(UInt8(truncatingIfNeeded: value) &+ 0x30)
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { scratch in
            let count = RESPInteger.format(value, into: scratch)
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[(20 - count)...]))
        }
    }
}

extension RESPInteger {
    /// Writes the decimal digits of `value` right-aligned into `scratch` (capacity 20) and returns how many it wrote.
    @inlinable
    public static func format(_ value: Int, into scratch: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var magnitude = value.magnitude
        var position = 20
        repeat {
            position -= 1
            scratch[position] = UInt8(truncatingIfNeeded: magnitude % 10) &+ 0x30
            magnitude /= 10
        } while magnitude > 0
        if value < 0 {
            position -= 1
            scratch[position] = UInt8(ascii: "-")
        }
        return 20 - position
    }
}
