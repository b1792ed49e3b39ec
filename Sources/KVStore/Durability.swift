/// When writes reach the disk, as in kvnode.
public enum Durability: String, Sendable, CaseIterable {
    /// The operating system decides when to write to disk.
    case low
    /// The write-ahead log is fsynced at least once a second.
    case medium
    /// A write is fsynced before it is acknowledged; the writes of one read share one fsync.
    case high
}
