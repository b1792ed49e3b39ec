/// The record format inside state.bin's gzip stream (docs/snapshot-format.md). All integers are big-endian.
/// ```
///   header   magic "KVNSNAP\0" (8) | version u16 | reserved u16 (0) | takenAt i64 (Unix ms)
///   record   kind u8 (0x01 string) | flags u8 (bit 0: has expiry) | [expireAt i64] |
///            keyLength u32 | key | valueLength u64 | value                        (repeated, in key order)
///   trailer  kind u8 (0xFF end) | recordCount u64
/// ```
/// The trailer's count lets a reader tell a complete stream from one cut at a record boundary; gzip's own CRC-32
/// and length catch damage inside the stream.
public enum SnapshotFormat {
    /// The version this code writes and the newest it reads.
    public static let version: UInt16 = 1
    static let magic: [UInt8] = Array("KVNSNAP".utf8) + [0]
    static let headerLength = 8 + 2 + 2 + 8
    static let trailerLength = 1 + 8

    static let stringRecord: UInt8 = 0x01
    static let endOfRecords: UInt8 = 0xFF
    static let hasExpiry: UInt8 = 0x01

    /// Longest key a record may claim; guards the reader against a damaged length.
    static let maximumKeyLength = 512 << 20
}

/// One key of a snapshot, as handed to readers. The buffers are valid only during the callback.
public struct SnapshotEntry {
    public let key: UnsafeRawBufferPointer
    public let value: UnsafeRawBufferPointer
    /// Unix milliseconds, 0 for none.
    public let expireAt: Int64
}

@available(*, unavailable)
extension SnapshotEntry: Sendable {}
