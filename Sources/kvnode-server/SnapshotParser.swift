import ArgumentParser
import KVSnapshot

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `kvnode-server --parse-snapshot PATH`: the snapshot as `SET key value [PXAT ms]` commands on stdout, nothing else,
/// for `kvnode-server --parse-snapshot DIR | redis-cli --pipe`.
enum SnapshotParser {
    /// Writes the commands; on a damaged snapshot prints why on stderr and exits with status 1.
    static func writeCommands(of path: String) throws {
        let writer = CommandStreamWriter(fd: STDOUT_FILENO, name: "stdout")
        do {
            try CommandExport().write(try SnapshotFile(path: path), to: writer)
        } catch {
            var line = "kvnode-server: --parse-snapshot: \(error)\n"
            line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
            throw ExitCode(1)
        }
    }
}
