import ArgumentParser
import KVServer
import KVStore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// `kvnode-server`: a Redis-protocol key/value server over LevelDB.
@main
struct KVNodeServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvnode-server",
        abstract: "A Redis-protocol (RESP2/RESP3) key/value server with an ordered keyspace stored in LevelDB."
    )

    @Option(help: "Address to listen on, as HOST:PORT.")
    var addr = "127.0.0.1:6379"

    @Option(help: "Directory of the data (LevelDB database).")
    var data = "./data"

    @Option(help: "When writes reach the disk: low (the OS decides), medium (fsync every second), high (fsync before each reply).")
    var durability: Durability = .medium

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Keyspace events to publish, in Redis's notify-keyspace-events letters (e.g. KEA); empty = off.")
    var notifyKeyspaceEvents = ""

    @Option(help: "LevelDB write buffer size in MiB.")
    var writeBufferMB = 64

    @Option(help: "LevelDB block cache size in MiB.")
    var blockCacheMB = 64

    func validate() throws {
        guard ListenAddress(addr) != nil else {
            throw ValidationError("--addr must be HOST:PORT, e.g. 127.0.0.1:6379")
        }
        guard KeyspaceEventFlags(letters: notifyKeyspaceEvents) != nil else {
            throw ValidationError("--notify-keyspace-events takes Redis's letters: Ag$lshzxeKEtmdn")
        }
    }

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "kvnode")

        var configuration = ServerConfiguration()
        let listen = ListenAddress(addr)!
        configuration.host = listen.host
        configuration.port = listen.port
        configuration.dataDirectory = data
        configuration.durability = durability
        configuration.writeBufferSize = writeBufferMB << 20
        configuration.blockCacheSize = blockCacheMB << 20
        configuration.notifyKeyspaceEvents = KeyspaceEventFlags(letters: notifyKeyspaceEvents)!

        let store: Store
        do {
            store = try Store.open(configuration: configuration)
        } catch {
            logger.critical("cannot open the data directory", metadata: ["data": "\(data)", "error": "\(error)"])
            throw ExitCode(1)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopCount)
        let state = ServerState(configuration: configuration, store: store, logger: logger)
        let server = KVNodeServer(state: state, group: group)
        let serviceGroup = ServiceGroup(
            services: [StoreMaintenance(store: store, logger: logger), server],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        state.onShutdownRequest {
            Task { await serviceGroup.triggerGracefulShutdown() }
        }
        logger.info("kvnode starting", metadata: ["data": "\(data)", "durability": "\(durability)"])
        do {
            try await serviceGroup.run()
        } catch {
            logger.critical("server stopped with an error", metadata: ["error": "\(error)"])
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        try await group.shutdownGracefully()
        try store.close()
        logger.info("kvnode stopped")
    }
}

/// `HOST:PORT`, with IPv6 hosts in brackets (`[::1]:6379`).
struct ListenAddress {
    let host: String
    let port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.host = host
        self.port = port
    }
}

extension Durability: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
