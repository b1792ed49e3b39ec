#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import KVStore
import Logging
import NIOCore
import RESP

/// INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT: counters stored as decimal strings. Each is one read and one write
/// under the store's lock, so concurrent increments from any event loop never lose an update. The key's expiry is
/// kept, as in Redis.
struct CounterCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.incr) { try add($0, 1) },
        CommandSpec(.decr) { try add($0, -1) },
        CommandSpec(.incrby) { ctx in try add(ctx, try ctx.integerArgument(2)) },
        CommandSpec(.decrby) { ctx in
            let decrement = try ctx.integerArgument(2)
            guard decrement != .min else { throw CommandError("ERR decrement would overflow") }
            try add(ctx, -decrement)
        },
        CommandSpec(.incrbyfloat, handler: incrbyfloat),
    ]

    /// Adds `increment` to the integer stored at the key (a missing key counts as 0) and replies the result.
    static func add(_ ctx: CommandContext, _ increment: Int) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let current = try keyspace.readForWrite(key) { value, expireAt in (RESPInteger.parse(value), expireAt) }
        let expireAt = current?.1
        guard let value = current == nil ? 0 : current!.0 else { throw CommandError.notInteger }
        let (result, overflow) = value.addingReportingOverflow(increment)
        guard !overflow else { throw CommandError.overflow }
        var digits = ByteBuffer()
        digits.writeDecimal(result)
        try keyspace.set(key, value: digits, expireAt: expireAt ?? 0, previousExpiry: expireAt)
        ctx.notify(.string, "incrby", key: key)
        ctx.reply.integer(result)
    }

    /// `INCRBYFLOAT key increment`: long double arithmetic and formatting, exactly as Redis (`%.17Lf`, trailing
    /// zeros removed), so `INCRBYFLOAT k 0.1` on 10.5 gives 10.6.
    static func incrbyfloat(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let current = try keyspace.readForWrite(key) { value, expireAt in (LongDouble.parse(value), expireAt) }
        let expireAt = current?.1
        guard let value = current == nil ? 0 : current!.0,
            let increment = ctx.request.withArgument(2, { LongDouble.parse($0) })
        else { throw CommandError.notFloat }
        let sum = value + increment
        guard sum.isFinite else { throw CommandError("ERR increment would produce NaN or Infinity") }
        let text = LongDouble.format(sum)
        try keyspace.set(key, value: ByteBuffer(string: text), expireAt: expireAt ?? 0, previousExpiry: expireAt)
        ctx.notify(.string, "incrbyfloat", key: key)
        ctx.reply.bulk(text)
    }
}

extension ByteBuffer {
    /// Appends the decimal digits of `value`.
    mutating func writeDecimal(_ value: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { scratch in
            let count = RESPInteger.format(value, into: scratch)
            writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[(20 - count)...]))
        }
    }
}

/// C's `long double`, which Redis uses for INCRBYFLOAT: 80-bit extended precision on x86; elsewhere Double, the
/// closest Swift has.
enum LongDouble {
    #if arch(x86_64) || arch(i386)
    typealias Value = Float80
    private static let formatString = "%.17Lf"
    private static func strto(_ text: UnsafePointer<CChar>, _ end: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Value {
        strtold(text, end)
    }
    #else
    typealias Value = Double
    private static let formatString = "%.17f"
    private static func strto(_ text: UnsafePointer<CChar>, _ end: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Value {
        strtod(text, end)
    }
    #endif

    /// Redis's buffer for a formatted long double (MAX_LONG_DOUBLE_CHARS): the largest one fits.
    private static let maximumLength = 5 * 1024

    /// Redis's `string2ld`: the whole string must parse, without leading space; NaN and out-of-range values fail. A
    /// NUL byte anywhere fails too: strtold stops there, so the parse must have consumed every byte (Redis checks
    /// `eptr - buf == slen`; "1\02" is not 1).
    static func parse(_ bytes: UnsafeRawBufferPointer) -> Value? {
        guard bytes.count > 0, bytes.count < maximumLength else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { text -> Value? in
            for index in 0..<bytes.count { text[index] = CChar(bitPattern: bytes[index]) }
            text[bytes.count] = 0
            guard isspace(Int32(UInt8(bitPattern: text[0]))) == 0 else { return nil }
            var end: UnsafeMutablePointer<CChar>?
            errno = 0
            let value = strto(text.baseAddress!, &end)
            guard let end, end == text.baseAddress! + bytes.count, !value.isNaN else { return nil }
            if errno == ERANGE && (value.isInfinite || value == 0) { return nil }
            return value
        }
    }

    /// Redis's `ld2string` in human mode: 17 decimals, trailing zeros and a trailing point removed, "-0" as "0".
    static func format(_ value: Value) -> String {
        var buffer = [CChar](repeating: 0, count: maximumLength)
        let length = withVaList([value]) { arguments in
            Int(vsnprintf(&buffer, buffer.count, formatString, arguments))
        }
        var bytes = buffer[0..<min(length, buffer.count - 1)].map { UInt8(bitPattern: $0) }
        if bytes.contains(UInt8(ascii: ".")) {
            while bytes.last == UInt8(ascii: "0") { bytes.removeLast() }
            if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        }
        if bytes == Array("-0".utf8) { bytes = [UInt8(ascii: "0")] }
        return String(decoding: bytes, as: UTF8.self)
    }
}
