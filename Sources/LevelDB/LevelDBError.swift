import CLevelDB

/// An error reported by LevelDB, carrying its message (for example an IO error or the LOCK held by another process).
public struct LevelDBError: Error, CustomStringConvertible, Sendable {
    /// LevelDB's own message, first line only.
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    /// Runs `body` with a fresh `errptr`, and throws (freeing the C string) if LevelDB filled it in.
    @inline(__always)
    static func check<T>(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T) throws(LevelDBError) -> T {
        var errorPointer: UnsafeMutablePointer<CChar>? = nil
        let result = body(&errorPointer)
        if let errorPointer {
            defer { leveldb_free(errorPointer) }
            let text = String(cString: errorPointer)
            throw LevelDBError(String(text.prefix { $0 != "\n" }))
        }
        return result
    }
}
