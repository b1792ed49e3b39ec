#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers

/// Makes LevelDB's write-ahead log durable without going through LevelDB.
///
/// A `sync=true` LevelDB write (even an empty one) queues behind every writer and makes every later writer wait for
/// its fsync. Instead this flushes the log files themselves: LevelDB writes each log record to the file before its
/// `Write` returns, so `fdatasync` on our own descriptor of that file makes every write committed before the call
/// durable, and no writer or reader waits meanwhile. All `*.log` files are flushed (during a memtable switch the
/// previous log still holds data not yet in a table), and the directory too when a new log file appeared, so its
/// entry survives a crash.
final class LogSyncer: Sendable {
    private let directory: String
    /// Open descriptors of the log files seen so far, by file name; one caller at a time.
    private let descriptors = NIOLockedValueBox<[String: Int32]>([:])

    init(directory: String) {
        self.directory = directory
    }

    deinit {
        descriptors.withLockedValue { table in
            for descriptor in table.values { _ = close(descriptor) }
        }
    }

    /// Flushes every log file to disk. Callers serialise on the descriptor table, so a call returns only after a flush
    /// that started after it was made.
    func sync() throws {
        try descriptors.withLockedValue { table in
            let names = try logFileNames()
            var appeared = false
            for name in table.keys where !names.contains(name) {
                _ = close(table.removeValue(forKey: name)!)
            }
            for name in names where table[name] == nil {
                let descriptor = open(directory + "/" + name, O_RDONLY | O_CLOEXEC)
                // A log deleted since the listing (compacted into a table) needs no flush.
                if descriptor < 0 {
                    if errno == ENOENT { continue }
                    throw LogSyncError(operation: "open \(name)", code: errno)
                }
                table[name] = descriptor
                appeared = true
            }
            for (name, descriptor) in table where fdatasync(descriptor) != 0 {
                throw LogSyncError(operation: "fdatasync \(name)", code: errno)
            }
            if appeared { try syncDirectory() }
        }
    }

    private func logFileNames() throws(LogSyncError) -> Set<String> {
        guard let listing = opendir(directory) else { throw LogSyncError(operation: "opendir", code: errno) }
        defer { closedir(listing) }
        var names = Set<String>()
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".log") { names.insert(name) }
        }
        return names
    }

    private func syncDirectory() throws(LogSyncError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LogSyncError(operation: "open directory", code: errno) }
        defer { _ = close(descriptor) }
        guard fsync(descriptor) == 0 else { throw LogSyncError(operation: "fsync directory", code: errno) }
    }
}

/// A failed flush of the write-ahead log.
public struct LogSyncError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let code: Int32

    public var description: String {
        "IO error: \(operation): \(String(cString: strerror(code)))"
    }
}
