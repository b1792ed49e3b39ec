/// Writes the RESP commands that rebuild a keyspace, ready for `redis-cli --pipe` into kvnode or Redis:
/// `SET key value`, plus `PXAT ms` for a key with an expiry. Output goes through a large buffer, so a million keys
/// cost a few hundred `write` calls, not millions; a value larger than the buffer is written straight from its
/// bytes. Not thread-safe.
public final class CommandStreamWriter {
    private let fd: Int32
    private let name: String
    private let buffer: UnsafeMutableRawBufferPointer
    private var used = 0
    /// Commands written.
    public private(set) var commandCount = 0
    /// Bytes written (or buffered).
    public private(set) var byteCount = 0

    /// - Parameters:
    ///   - fd: where to write; not closed by the writer.
    ///   - name: how errors name the destination, e.g. `stdout`.
    public init(fd: Int32, name: String, bufferSize: Int = 4 << 20) {
        self.fd = fd
        self.name = name
        buffer = .allocate(byteCount: max(bufferSize, 64), alignment: 16)
    }

    deinit {
        buffer.deallocate()
    }

    /// Writes `SET key value [PXAT expireAt]`.
    public func writeSet(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, expireAt: Int64) throws(SnapshotError) {
        if expireAt > 0 {
            try append(StaticString("*5\r\n$3\r\nSET\r\n"))
        } else {
            try append(StaticString("*3\r\n$3\r\nSET\r\n"))
        }
        try writeBulk(key)
        try writeBulk(value)
        if expireAt > 0 {
            try append(StaticString("$4\r\nPXAT\r\n"))
            try argument(decimal: UInt64(expireAt))
        }
        commandCount += 1
    }

    /// Starts a command of `count` arguments, the name included; write the other `count - 1` with `argument`.
    public func beginCommand(_ name: StaticString, argumentCount count: Int) throws(SnapshotError) {
        try reserve(24)
        try append(StaticString("*"))
        try argument(decimal: UInt64(count), bulk: false)
        try writeBulk(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        commandCount += 1
    }

    /// Writes one argument of the command begun last.
    public func argument(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) {
        try writeBulk(bytes)
    }

    /// Writes one argument of the command begun last as decimal digits (a bulk string), or, with `bulk` false, the
    /// bare digits and CRLF (an array header's count).
    public func argument(decimal value: UInt64, bulk: Bool = true) throws(SnapshotError) {
        var digits = (0 as UInt64, 0 as UInt64, 0 as UInt64)  // 24 bytes of scratch
        try withUnsafeMutableBytes(of: &digits) { scratch throws(SnapshotError) in
            let count = Self.formatDecimal(value, into: scratch)
            let text = UnsafeRawBufferPointer(rebasing: scratch[(scratch.count - count)...])
            if bulk {
                try writeBulk(text)
            } else {
                try append(text)
                try append(StaticString("\r\n"))
            }
        }
    }

    /// Writes whatever is buffered.
    public func flush() throws(SnapshotError) {
        guard used > 0 else { return }
        try FileSystem.writeAll(fd, UnsafeRawBufferPointer(rebasing: buffer[..<used]), path: name)
        used = 0
    }

    // MARK: Encoding

    private func writeBulk(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) {
        try reserve(24)
        buffer[used] = UInt8(ascii: "$")
        used += 1
        let count = Self.formatDecimal(UInt64(bytes.count), into: UnsafeMutableRawBufferPointer(rebasing: buffer[used..<(used + 20)]))
        // formatDecimal right-aligns; move the digits to the front of the reserved space.
        let digits = buffer.baseAddress! + used + 20 - count
        (buffer.baseAddress! + used).copyMemory(from: digits, byteCount: count)
        used += count
        buffer[used] = 0x0D
        buffer[used + 1] = 0x0A
        used += 2
        byteCount += 3 + count
        try append(bytes)
        try append(StaticString("\r\n"))
    }

    private func append(_ text: StaticString) throws(SnapshotError) {
        try append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private func append(_ bytes: UnsafeRawBufferPointer) throws(SnapshotError) {
        byteCount += bytes.count
        if bytes.count > buffer.count - used {
            try flush()
            if bytes.count >= buffer.count / 2 {
                try FileSystem.writeAll(fd, bytes, path: name)
                return
            }
        }
        guard !bytes.isEmpty else { return }
        (buffer.baseAddress! + used).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        used += bytes.count
    }

    private func reserve(_ count: Int) throws(SnapshotError) {
        if buffer.count - used < count { try flush() }
    }

    /// Writes the decimal digits of `value` right-aligned at the end of `scratch` (at least 20 bytes) and returns
    /// how many it wrote.
    static func formatDecimal(_ value: UInt64, into scratch: UnsafeMutableRawBufferPointer) -> Int {
        var value = value
        var position = scratch.count
        repeat {
            position -= 1
            scratch[position] = UInt8(truncatingIfNeeded: value % 10) &+ 0x30
            value /= 10
        } while value > 0
        return scratch.count - position
    }
}

@available(*, unavailable)
extension CommandStreamWriter: Sendable {}
