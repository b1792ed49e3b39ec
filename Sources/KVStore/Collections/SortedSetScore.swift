#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// How a sorted set's scores are stored (docs/storage-format.md, "Sorted sets"):
/// - in the member record (`'m' + member → score text`), as the text Redis 7.0's `addReplyDouble` prints (`%.17g`,
///   `inf`, `-inf`): it round-trips exactly, ZSCORE replies it without formatting, and COPY, KV.WATCH INITIAL and
///   the change log's `zadd` events carry it as the ZADD argument that recreates the member;
/// - in the score index (`'s' + sortable score + member → empty`), as 8 bytes whose byte order is numeric order, so
///   ranges by score are range scans.
public enum SortedSetScore {
    /// The order-preserving encoding of `score` (Kvrocks' `EncodeDoubleToUInt64`): the IEEE-754 bits with every bit
    /// flipped for a negative number and the sign bit set for a positive one; written big-endian, byte order is
    /// numeric order, −inf and +inf included. −0 is encoded as +0, as Redis compares them equal. NaN never gets here.
    @inlinable
    public static func sortable(_ score: Double) -> UInt64 {
        let bits = (score == 0 ? 0.0 : score).bitPattern
        return bits & signBit != 0 ? ~bits : bits | signBit
    }

    /// The score `sortable(_:)` encoded.
    @inlinable
    public static func score(sortable: UInt64) -> Double {
        Double(bitPattern: sortable & signBit != 0 ? sortable & ~signBit : ~sortable)
    }

    /// The score in the first 8 bytes of a score-index element.
    @inlinable
    public static func score(indexElement element: UnsafeRawBufferPointer) -> Double {
        score(sortable: UInt64(bigEndian: element.loadUnaligned(fromByteOffset: 0, as: UInt64.self)))
    }

    public static let signBit: UInt64 = 1 << 63

    /// The score-index element of `member` at `score`: `BE64 sortable(score) + member`.
    public static func indexElement(_ score: Double, member: UnsafeRawBufferPointer) -> ByteBuffer {
        var element = ByteBuffer()
        element.reserveCapacity(8 + member.count)
        element.writeInteger(sortable(score), endianness: .big)
        element.writeBytes(member)
        return element
    }

    /// Calls `body` with Redis 7.0's reply text for a score (`addReplyDouble`): `%.17g`, with `inf` and `-inf`.
    public static func withText<R>(_ score: Double, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if score.isInfinite {
            let text: StaticString = score < 0 ? "-inf" : "inf"
            return try body(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }
        return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { scratch in
            let length = withVaList([score]) { vsnprintf(scratch.baseAddress!, 32, "%.17g", $0) }
            return try body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(scratch)[..<Int(length)]))
        }
    }

    /// Appends `withText(_:_:)`'s text.
    public static func write(_ score: Double, into buffer: inout ByteBuffer) {
        withText(score) { _ = buffer.writeBytes($0) }
    }

    /// `write(_:into:)` into a new buffer.
    public static func text(_ score: Double) -> ByteBuffer {
        var buffer = ByteBuffer()
        write(score, into: &buffer)
        return buffer
    }

    /// Parses a score: the whole text must be a number `strtod` reads, and not NaN (`inf`, `-inf` are fine).
    /// - Parameter strict: as Redis reads a score argument (`getDoubleFromObject`): no leading space, and a value
    ///   too large for a double (`1e400`) or too small (`1e-400`) is refused rather than rounded.
    public static func parse(_ bytes: UnsafeRawBufferPointer, strict: Bool = false) -> Double? {
        guard bytes.count > 0, bytes.count < 400 else { return nil }
        if strict && isspace(Int32(bytes[0])) != 0 { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { text -> Double? in
            for index in 0..<bytes.count { text[index] = CChar(bitPattern: bytes[index]) }
            text[bytes.count] = 0
            var end: UnsafeMutablePointer<CChar>?
            errno = 0
            let value = strtod(text.baseAddress!, &end)
            guard let end, end == text.baseAddress! + bytes.count, !value.isNaN else { return nil }
            if strict && errno == ERANGE && (value.isInfinite || value == 0) { return nil }
            return value
        }
    }
}
