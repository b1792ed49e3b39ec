import ArgumentParser
import KVSnapshot
import KVStore
import LevelDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `kvnode-dump`: writes the RESP commands that rebuild a keyspace, from a snapshot or a stopped server's data
/// directory, for `redis-cli --pipe` into kvnode or Redis.
@main
struct KVNodeDump: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvnode-dump",
        abstract: "Write a kvnode snapshot (or a stopped server's data) as SET commands for `redis-cli --pipe`.",
        discussion: """
            A snapshot is checked against its meta.json (size and CRC-32) before anything is written; a damaged or \
            truncated snapshot is refused with exit status 1. Keys already expired are left out; keys with an \
            expiry get PXAT.
            """
    )

    @Argument(help: "A snapshot directory (DATA/snapshots/<id>) or its state.bin.")
    var snapshot: String?

    @Option(name: .customLong("data"), help: "Dump a stopped server's data directory directly instead of a snapshot.")
    var dataDirectory: String?

    @Option(help: "Only keys matching this glob pattern (Redis syntax: * ? [abc] \\x).")
    var match: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "Write to FILE instead of stdout.")
    var output: String?

    func validate() throws {
        guard (snapshot == nil) != (dataDirectory == nil) else {
            throw ValidationError("give either a snapshot path or --data DIR")
        }
    }

    func run() throws {
        let destination = try openOutput()
        var export = CommandExport(pattern: match.map { GlobPattern(Array($0.utf8)) })
        let progress = isatty(STDERR_FILENO) == 1 ? ProgressLine() : nil
        if let progress { export.progress = { keys, writer in progress.update(keys: keys, writer: writer) } }
        let writer = CommandStreamWriter(fd: destination.fd, name: destination.name)
        do {
            if let dataDirectory {
                let keyspace = try openStoppedServer(dataDirectory)
                try export.write(keyspace, to: writer)
            } else if let snapshot {
                try export.write(try SnapshotFile(path: snapshot), to: writer)
            }
            try destination.finish()
            progress?.finish(writer: writer)
        } catch {
            progress?.finish(writer: writer)
            destination.abandon()
            fail("\(error)")
        }
    }

    private func openStoppedServer(_ directory: String) throws -> KeyspaceSnapshot {
        guard FileSystem.isDirectory(directory) else { fail("\(directory) is not a directory") }
        var options = Options()
        options.createIfMissing = false
        options.blockCacheSize = 8 << 20
        let database: Database
        do {
            database = try Database(path: directory, options: options)
        } catch let error where error.message.contains("lock") || error.message.contains("LOCK") {
            fail("\(directory) is in use: a running kvnode-server holds its LevelDB LOCK (\(error.message)). "
                + "Stop the server first, or take a snapshot with SNAPSHOT and dump DATA/snapshots/<id>.")
        } catch {
            fail("cannot open \(directory) as a kvnode data directory: \(error.message)")
        }
        return try KeyspaceSnapshot(database: database, now: WallClock.milliseconds())
    }

    private func openOutput() throws -> Output {
        guard let output, output != "-" else { return Output(fd: STDOUT_FILENO, name: "stdout", path: nil) }
        do {
            return Output(fd: try FileSystem.createForWriting(output), name: output, path: output)
        } catch {
            fail("\(error)")
        }
    }
}

/// Where the commands go: stdout, or a file that is removed again when the dump fails.
private struct Output {
    let fd: Int32
    let name: String
    let path: String?

    func finish() throws {
        guard path != nil else { return }
        try FileSystem.closeFile(fd, path: name)
    }

    func abandon() {
        guard let path else { return }
        close(fd)
        unlink(path)
    }
}

/// Prints `kvnode-dump: MESSAGE` on stderr and exits with status 1.
func fail(_ message: String) -> Never {
    var line = "kvnode-dump: \(message)\n"
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    exit(1)
}
