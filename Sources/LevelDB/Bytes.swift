/// LevelDB's C API forbids NULL pointers even for zero-length keys and values (c.h, rule 5), while Redis allows
/// `SET "" ""`. Every empty buffer is therefore passed as this one static byte with a length of zero.
nonisolated(unsafe) private let emptyByte = UnsafeMutablePointer<CChar>.allocate(capacity: 1)

extension UnsafeRawBufferPointer {
    /// The buffer as the `(const char*, size_t)` pair the C API takes, never NULL.
    @inline(__always)
    var levelDBPointer: UnsafePointer<CChar> {
        guard let base = baseAddress else { return UnsafePointer(emptyByte) }
        return base.assumingMemoryBound(to: CChar.self)
    }
}

/// Calls `body` with the bytes of `bytes` as a raw buffer, without copying when the collection is contiguous.
@inline(__always)
func withBytes<Bytes: Sequence<UInt8>, R>(
    _ bytes: Bytes, _ body: (UnsafeRawBufferPointer) throws -> R
) rethrows -> R {
    if let result = try bytes.withContiguousStorageIfAvailable({ try body(UnsafeRawBufferPointer($0)) }) {
        return result
    }
    return try Array(bytes).withUnsafeBytes(body)
}
