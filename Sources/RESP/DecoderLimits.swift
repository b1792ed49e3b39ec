/// Size limits applied while decoding requests, so that no declared size makes the server allocate up front.
/// Defaults are Redis 7's.
public struct DecoderLimits: Sendable {
    /// Largest bulk string accepted (`proto-max-bulk-len`, 512 MB).
    public var maxBulkLength: Int = 512 * 1024 * 1024
    /// Largest multibulk element count accepted (Redis 7 allows up to INT_MAX).
    public var maxMultibulkLength: Int = Int(Int32.max)
    /// Longest inline command line, and longest `*`/`$` header line (PROTO_INLINE_MAX_SIZE).
    public var maxInlineLength: Int = 64 * 1024

    public init() {}
}
