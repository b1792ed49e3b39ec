#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why reading or writing a snapshot failed. `description` is a sentence for an error reply or a command-line tool.
public struct SnapshotError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, broadly; tests and tools branch on it.
    public enum Kind: Sendable, Equatable {
        /// A system call failed (disk full, permission, missing file).
        case io
        /// The file is not a snapshot, or its content is damaged (checksum, record or gzip error).
        case corrupt
        /// The file ends before the snapshot's trailer: it was cut short.
        case truncated
        /// The snapshot was written by a newer kvnode.
        case unsupportedVersion
        /// The work was stopped (server shutdown).
        case cancelled
    }

    public let kind: Kind
    public let description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// An `io` error for a failed system call, with the C library's text for `errno`.
    static func system(_ action: String, path: String, errno code: Int32 = errno) -> SnapshotError {
        SnapshotError(.io, "\(action) \(path): \(String(cString: strerror(code)))")
    }

    public static let cancelled = SnapshotError(.cancelled, "snapshot cancelled: the server is shutting down")
}
