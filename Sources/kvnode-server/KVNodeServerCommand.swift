import ArgumentParser
import KVEngine
import KVServer
import KVSnapshot
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

    @Option(help: ArgumentHelp(
        "Addresses to listen on instead of --addr's host, as Redis's bind: several separated by spaces, or the "
            + "option repeated.",
        valueName: "addresses"))
    var bind: [String] = []

    @Option(help: "Port to listen on instead of --addr's port; 0 listens on no TCP port (Redis's port 0).")
    var port: Int?

    @Option(help: ArgumentHelp(
        "A Unix socket to listen on besides TCP (Redis's unixsocket); a stale socket file there is replaced.",
        valueName: "path"))
    var unixsocket: String?

    @Option(help: ArgumentHelp(
        "Permissions of the Unix socket file, in octal as Redis's unixsocketperm (e.g. 700).", valueName: "octal"))
    var unixsocketperm: String?

    @Option(help: "TLS port, on the same addresses as TCP (Redis's tls-port); 0 = no TLS.")
    var tlsPort = 0

    @Option(help: ArgumentHelp("The TLS port's certificate chain, PEM (tls-cert-file).", valueName: "path"))
    var tlsCertFile: String?

    @Option(help: ArgumentHelp("The certificate's private key, PEM (tls-key-file).", valueName: "path"))
    var tlsKeyFile: String?

    @Option(help: ArgumentHelp(
        "CA certificates (PEM) client certificates must chain to (tls-ca-cert-file).", valueName: "path"))
    var tlsCaCertFile: String?

    @Option(help: ArgumentHelp(
        "Client certificates: required (yes, Redis's default), checked when presented (optional), or not asked "
            + "for (no).",
        valueName: "yes|no|optional"))
    var tlsAuthClients: TLSSettings.ClientAuthentication = .yes

    @Option(help: ArgumentHelp(
        "Whether CONFIG SET may change protected settings (dir, and protected-mode from a remote connection): no, "
            + "yes, or local (from loopback and Unix socket connections), as Redis's enable-protected-configs.",
        valueName: "no|yes|local"))
    var enableProtectedConfigs: ProtectedAction = .no

    @Option(help: ArgumentHelp(
        "Refuse connections from outside the loopback interface while the default user has no password (Redis's "
            + "protected mode; CONFIG SET protected-mode).",
        valueName: "yes|no"))
    var protectedMode: YesNo = .yes

    @Option(help: ArgumentHelp(
        "The default user's password (Redis's requirepass); only its SHA-256 is kept.", valueName: "password"))
    var requirepass: String?

    @Option(help: ArgumentHelp(
        "Read requirepass from the first line of a file (a Docker or Kubernetes secret), so the password appears "
            + "neither in the command line nor in the environment.",
        valueName: "path"))
    var requirepassFile: String?

    @Option(help: ArgumentHelp(
        "A user and its ACL rules, like a redis.conf `user` line without the keyword, e.g. "
            + "\"alice on >secret ~app:* +@read\"; repeatable. Not together with --aclfile.",
        valueName: "name rules"))
    var user: [String] = []

    @Option(help: ArgumentHelp(
        "The ACL file (Redis's aclfile): users are loaded from it at start-up and by ACL LOAD, written by ACL SAVE.",
        valueName: "path"))
    var aclfile: String?

    @Option(help: "Entries ACL LOG keeps (acllog-max-len).")
    var acllogMaxLen = 128

    @Option(help: ArgumentHelp(
        "Channels new users may use: none until granted (resetchannels, Redis 7's default) or all (allchannels).",
        valueName: "resetchannels|allchannels"))
    var aclPubsubDefault: PubSubDefault = .resetchannels

    @Option(help: "Directory of the data (LevelDB database).")
    var data = "./data"

    @Option(help: "When writes reach the disk: low (the OS decides), medium (fsync every second), high (fsync before each reply).")
    var durability: Durability = .medium

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Keyspace events to publish, in Redis's notify-keyspace-events letters (e.g. KEA); empty = off.")
    var notifyKeyspaceEvents = ""

    @Option(help: "Event loop threads serving connections (Redis's io-threads); defaults to one per four cores, at least one.")
    var ioThreads: Int?

    @Option(help: "LevelDB write buffer size in MiB.")
    var writeBufferMB = 64

    @Option(help: "LevelDB block cache size in MiB.")
    var blockCacheMB = 64

    @Option(help: "Keys KEYS returns when it has no LIMIT; 0 means all of them (kvnode's old default was 500).")
    var keysDefaultLimit = 0

    @Option(help: ArgumentHelp(
        "SCAN positions remembered exactly (1 to 4194304); a cursor the server no longer remembers resumes at the "
            + "3-byte key prefix it carries (docs/scan-cursors.md)."))
    var scanCursorTableSize = 16384
    @Option(help: "Number of databases SELECT can choose, numbered 0 to N-1 (Redis's `databases`).")
    var databases = 16
    @Option(help: "How many snapshots (SNAPSHOT, SAVE, BGSAVE) to keep in DATA/snapshots.")
    var snapshotKeep = 2

    @Option(help: ArgumentHelp(
        "Milliseconds between passes of the background expiry sweeper (its first pass runs at start-up).",
        valueName: "ms"))
    var expirySweepInterval = 100

    @Option(help: "Keep the change log (on) for KV.WATCH, KV.HISTORY and KV.GET AT, or not (off); revisions are kept either way.")
    var changeLog: Switch = .on

    @Option(help: "Most MiB of change log kept; older revisions are compacted away (0: no size limit).")
    var changeLogMaxMb = 1024

    @Option(help: "Oldest change log entries kept, in seconds (0: no age limit; default 7 days).")
    var changeLogMaxAge = 7 * 24 * 3600

    @Option(help: "Most revisions of change log kept (0: no limit).")
    var changeLogMaxRevisions = 0

    @Option(help: "MiB of unsent KV.WATCH events after which a watcher is cut off (it resumes with FROM).")
    var watchOutputLimitMb = 32

    /// Milliseconds between `kv.progress` messages to an idle watcher; hidden, for tests that cannot wait 10 s.
    @Option(help: .hidden)
    var watchProgressIntervalMs = 10_000

    @Option(help: ArgumentHelp(
        "Redis's save points: take a snapshot when at least CHANGES keys changed and more than SECONDS passed since "
            + "the last one, e.g. \"3600 1 300 100\"; empty = never (the default; also CONFIG SET save).",
        valueName: "seconds changes ..."))
    var save = ""

    @Option(help: ArgumentHelp(
        "Write the snapshot at PATH (a DATA/snapshots/<id> directory or its state.bin) to stdout as SET commands for "
            + "`redis-cli --pipe`, instead of running the server.",
        valueName: "path"))
    var parseSnapshot: String?

    func validate() throws {
        guard keysDefaultLimit >= 0 else { throw ValidationError("--keys-default-limit must be 0 or more") }
        let maximumTableSize = ServerConfiguration.maximumScanCursorTableSize
        guard (1...maximumTableSize).contains(scanCursorTableSize) else {
            throw ValidationError("--scan-cursor-table-size must be between 1 and \(maximumTableSize)")
        }
        guard (1...ServerConfiguration.maximumDatabases).contains(databases) else {
            throw ValidationError("--databases must be between 1 and \(ServerConfiguration.maximumDatabases)")
        }
        if let ioThreads, ioThreads < 1 { throw ValidationError("--io-threads must be at least 1") }
        guard ListenAddress(addr) != nil else {
            throw ValidationError("--addr must be HOST:PORT, e.g. 127.0.0.1:6379")
        }
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be between 0 and 65535") }
        if !bind.isEmpty && bind.allSatisfy({ $0.split(separator: " ").isEmpty }) {
            throw ValidationError("--bind needs at least one address")
        }
        if let unixsocketperm, Self.octalPermissions(unixsocketperm) == nil {
            throw ValidationError("--unixsocketperm takes octal permission bits, 0 to 777")
        }
        guard (0...65535).contains(tlsPort) else { throw ValidationError("--tls-port must be between 0 and 65535") }
        if tlsPort != 0 && (tlsCertFile ?? "").isEmpty || tlsPort != 0 && (tlsKeyFile ?? "").isEmpty {
            throw ValidationError("--tls-port needs --tls-cert-file and --tls-key-file")
        }
        if tlsPort != 0 && tlsAuthClients != .no && (tlsCaCertFile ?? "").isEmpty {
            throw ValidationError(
                "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or "
                    + "tls-auth-clients are enabled!")
        }
        if requirepass != nil && requirepassFile != nil {
            throw ValidationError("--requirepass and --requirepass-file cannot be combined")
        }
        guard acllogMaxLen >= 0 else { throw ValidationError("--acllog-max-len must be 0 or more") }
        guard snapshotKeep >= 1 else { throw ValidationError("--snapshot-keep must be at least 1") }
        guard expirySweepInterval >= 1 else { throw ValidationError("--expiry-sweep-interval must be at least 1") }
        guard changeLogMaxMb >= 0, changeLogMaxAge >= 0, changeLogMaxRevisions >= 0 else {
            throw ValidationError("--change-log-max-mb, --change-log-max-age and --change-log-max-revisions must be 0 or more")
        }
        guard watchOutputLimitMb >= 1 else { throw ValidationError("--watch-output-limit-mb must be at least 1") }
        guard watchProgressIntervalMs >= 1 else {
            throw ValidationError("--watch-progress-interval-ms must be at least 1")
        }
        guard SavePoints(save) != nil else {
            throw ValidationError("--save takes \"<seconds> <changes>\" pairs (seconds >= 1, changes >= 0), or \"\"")
        }
        guard KeyspaceEventFlags(letters: notifyKeyspaceEvents) != nil else {
            throw ValidationError("--notify-keyspace-events takes Redis's letters: Ag$lshzxeKEtmdn")
        }
        // Last: a wrong value of another option is the more useful message.
        if (port ?? ListenAddress(addr)!.port) == 0 && unixsocket == nil && tlsPort == 0 {
            throw ValidationError("Configured to not listen anywhere, exiting.")
        }
    }

    func run() async throws {
        if let parseSnapshot {
            try SnapshotParser.writeCommands(of: parseSnapshot)
            return
        }
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
        configuration.port = port ?? listen.port
        let bound = bind.flatMap { $0.split(separator: " ").map(String.init) }
        if !bound.isEmpty { configuration.bindAddresses = bound }
        configuration.protectedMode = protectedMode == .yes
        configuration.protectedConfigs = enableProtectedConfigs
        configuration.unixSocket = unixsocket
        configuration.unixSocketPermissions = unixsocketperm.flatMap(Self.octalPermissions)
        configuration.tls.port = tlsPort
        configuration.tls.certificateFile = tlsCertFile ?? ""
        configuration.tls.keyFile = tlsKeyFile ?? ""
        configuration.tls.caCertificateFile = tlsCaCertFile ?? ""
        configuration.tls.authenticateClients = tlsAuthClients
        if let requirepass { configuration.setRequirePass(requirepass) }
        if let requirepassFile {
            do {
                configuration.setRequirePass(try Self.password(inFile: requirepassFile))
            } catch {
                logger.critical("\(error.description)")
                throw ExitCode(1)
            }
        }
        configuration.aclFile = aclfile.map { FileSystem.absolutePath($0) }
        configuration.aclLogMaxLength = acllogMaxLen
        configuration.aclPubsubDefaultAllChannels = aclPubsubDefault == .allchannels
        configuration.dataDirectory = data
        configuration.durability = durability
        if let ioThreads { configuration.eventLoopCount = ioThreads }
        configuration.writeBufferSize = writeBufferMB << 20
        configuration.blockCacheSize = blockCacheMB << 20
        configuration.keysDefaultLimit = keysDefaultLimit
        configuration.scanCursorTableSize = scanCursorTableSize
        configuration.databases = databases
        configuration.snapshotKeep = snapshotKeep
        configuration.expirySweepInterval = .milliseconds(expirySweepInterval)
        configuration.changeLog = changeLog == .on
        configuration.changeLogRetention.maxBytes = UInt64(changeLogMaxMb) << 20
        configuration.changeLogRetention.maxAgeMilliseconds = Int64(changeLogMaxAge) * 1000
        configuration.changeLogRetention.maxRevisions = UInt64(changeLogMaxRevisions)
        configuration.watchOutputLimit = watchOutputLimitMb << 20
        configuration.watchProgressInterval = .milliseconds(Int64(watchProgressIntervalMs))
        configuration.savePoints = SavePoints(save)!
        configuration.notifyKeyspaceEvents = KeyspaceEventFlags(letters: notifyKeyspaceEvents)!

        let store: Store
        do {
            store = try Store.open(configuration: configuration)
        } catch {
            logger.critical("cannot open the data directory", metadata: ["data": "\(data)", "error": "\(error)"])
            throw ExitCode(1)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.eventLoopCount)
        let engine = Engine(configuration: configuration, store: store, logger: logger)
        do {
            try engine.loadUsers(user)
        } catch {
            logger.critical("\(error.message)")
            try? store.close()
            throw ExitCode(1)
        }
        let server: KVNodeServer
        do {
            server = try KVNodeServer(engine: engine, group: group)
        } catch {
            logger.critical("cannot set up TLS", metadata: ["error": "\(error)"])
            try? await group.shutdownGracefully()
            try? store.close()
            throw ExitCode(1)
        }
        let serviceGroup = ServiceGroup(
            services: [
                StoreMaintenance(
                    store: store, retention: configuration.changeLogRetention, syncRequests: engine.syncRequests,
                    logger: logger),
                ExpiryService(store: store, configuration: configuration, logger: logger),
                GarbageCollectionService(store: store, configuration: configuration, logger: logger),
                SavePointService(engine: engine),
                server,
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        engine.onShutdownRequest {
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
        engine.snapshots.stop()
        try store.close()
        logger.info("kvnode stopped")
    }
}

extension KVNodeServerCommand {
    /// The password in `--requirepass-file`: its first line, without the line end; an empty one is refused, so a
    /// secret that failed to mount never starts a server without a password.
    static func password(inFile path: String) throws(ValidationError) -> String {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readSmallFile(path, limit: 64 << 10)
        } catch {
            throw ValidationError("cannot read --requirepass-file: \(error)")
        }
        let line = bytes.prefix { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        guard !line.isEmpty else { throw ValidationError("--requirepass-file \(path) holds no password") }
        return String(decoding: line, as: UTF8.self)
    }

    /// `unixsocketperm`'s octal text (`700`, `0770`) as permission bits, as Redis's `strtol(…, 8)` with 0…0777.
    static func octalPermissions(_ text: String) -> UInt16? {
        guard !text.isEmpty, text.utf8.count <= 4, let value = UInt16(text, radix: 8), value <= 0o777 else {
            return nil
        }
        return value
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
extension TLSSettings.ClientAuthentication: ExpressibleByArgument {}
extension ProtectedAction: ExpressibleByArgument {}

/// `on` or `off`.
enum Switch: String, ExpressibleByArgument {
    case on, off
}

/// `yes` or `no`, as Redis's boolean settings.
enum YesNo: String, ExpressibleByArgument {
    case yes, no
}

/// `acl-pubsub-default`'s values.
enum PubSubDefault: String, ExpressibleByArgument {
    case resetchannels, allchannels
}
extension Logger.Level: @retroactive ExpressibleByArgument {}
