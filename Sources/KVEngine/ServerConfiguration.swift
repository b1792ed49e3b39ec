import NIOCore
import KVStore
import LevelDB
import Logging
import RESP

/// Everything the server is started with. Every limit is a setting, with Redis's default where Redis has one.
public struct ServerConfiguration: Sendable {
    /// Addresses to listen on (`--bind`, Redis's `bind`); the first is `--addr`'s host unless `--bind` is given.
    public var bindAddresses = ["127.0.0.1"]
    /// The first address listened on.
    public var host: String {
        get { bindAddresses.first ?? "127.0.0.1" }
        set { bindAddresses = [newValue] }
    }
    /// TCP port of `bindAddresses`; 0 listens on no TCP port (Redis's `port 0`), for a server reached only by its
    /// Unix socket or TLS port.
    public var port = 6379
    /// `unixsocket`: a Unix socket to listen on besides TCP (nil: none).
    public var unixSocket: String?
    /// `unixsocketperm`: the socket file's permission bits, set after binding (nil: what the umask leaves, Redis's 0).
    public var unixSocketPermissions: UInt16?
    /// `tls-*`: the TLS port and its certificates; the port is 0 (no TLS) by default.
    public var tls = TLSSettings()
    /// `enable-protected-configs`: who may change protected settings (`dir`) with CONFIG SET.
    public var protectedConfigs = ProtectedAction.no
    /// Directory of the LevelDB database (and later snapshots).
    public var dataDirectory = "./data"
    public var durability = Durability.medium
    /// Event loops serving connections (`io-threads`): by default one per four cores, at least one. Commands run one
    /// at a time under the store's lock whatever the count, so more loops only add parallel socket I/O and lock-free
    /// reads, and each costs lock hand-offs between threads: on 2 cores one loop doubled SET and HSET at `-P 1`
    /// (BENCHMARKS.md). Redis's own default is one.
    public var eventLoopCount = max(1, System.coreCount / 4)
    /// Request decoding limits (`proto-max-bulk-len` and friends).
    public var decoderLimits = DecoderLimits()
    /// Largest request a client may have in flight before it is disconnected (`client-query-buffer-limit`, 1 GB).
    public var clientQueryBufferLimit = 1024 * 1024 * 1024
    /// Number of databases SELECT can choose, 0 to `databases - 1` (`databases`, Redis's default 16).
    public var databases = 16
    /// Largest `databases`, as Redis bounds it (its index is an int; kvnode stores it as a u32).
    public static let maximumDatabases = Int(Int32.max)
    /// Largest number of open client connections (`maxclients`).
    public var maxClients = 10_000
    /// LevelDB's write buffer size in bytes.
    public var writeBufferSize = 64 << 20
    /// LevelDB's block cache size in bytes.
    public var blockCacheSize = 64 << 20
    /// Largest number of keys KEYS returns when the request has no LIMIT (`keys-default-limit`; 0 = unlimited, as
    /// Redis clients expect from `KEYS *`; kvnode used 500).
    public var keysDefaultLimit = 0
    /// Number of SCAN positions the server remembers exactly (`scan-cursor-table-size`, at most
    /// `ScanCursors.maximumCapacity`): one per iteration in progress. A cursor it no longer remembers resumes at the
    /// key prefix it carries (docs/scan-cursors.md).
    public var scanCursorTableSize = 16384
    /// Largest `scanCursorTableSize`: remembered cursors must stay far fewer than the ids a cursor can carry.
    public static let maximumScanCursorTableSize = ScanCursors.maximumCapacity
    /// Pause between passes of the background expiry sweeper (`--expiry-sweep-interval`, `expiry-sweep-interval`).
    public var expirySweepInterval = Duration.milliseconds(100)
    /// Keys the sweeper removes per lock acquisition.
    public var expirySweepChunk = 512
    /// How many snapshots to keep in `DATA/snapshots` (`snapshot-keep`); older ones are deleted after each new one.
    public var snapshotKeep = 2
    /// When to take a snapshot by itself (`save`, `--save`); none by default.
    public var savePoints = SavePoints()
    /// Keyspace event classes published (`notify-keyspace-events`); empty = off, Redis's default.
    public var notifyKeyspaceEvents: KeyspaceEventFlags = []
    /// Output limit of Pub/Sub clients (`client-output-buffer-limit pubsub`).
    public var pubsubOutputLimit = OutputBufferLimit.pubsubDefault

    /// Whether changes go to the change log (`--change-log on|off`): KV.WATCH, KV.HISTORY and reads at a past revision
    /// need it; revisions are kept either way.
    public var changeLog = true
    /// How much of the change log is kept (`--change-log-max-mb`, `--change-log-max-age`, `--change-log-max-revisions`).
    public var changeLogRetention = ChangeLogRetention()
    /// Unsent bytes beyond which a KV.WATCH watcher is cut off with `kv.lagged` (`kv-watch-output-limit`).
    public var watchOutputLimit = 32 << 20
    /// How often an idle watcher is told the revision it is caught up to (the hidden `--watch-progress-interval-ms`).
    public var watchProgressInterval = TimeAmount.seconds(10)

    /// SHA-256 of `requirepass`, the default user's password; only the hash is kept (`setRequirePass`).
    public private(set) var requirePassHash: String?
    /// `aclfile`: where ACL SAVE writes users and ACL LOAD (and start-up) reads them.
    public var aclFile: String?
    /// `protected-mode`: refuse connections from outside the loopback interface while the default user has no
    /// password (Redis's default: on).
    public var protectedMode = true
    /// `acllog-max-len`: entries ACL LOG keeps.
    public var aclLogMaxLength = 128
    /// `acl-pubsub-default`: whether new users may use every channel (`allchannels`) or none (`resetchannels`,
    /// Redis 7's default).
    public var aclPubsubDefaultAllChannels = false

    public init() {}

    /// Sets `requirepass`; an empty password means none (`nopass`).
    public mutating func setRequirePass(_ password: String) {
        requirePassHash = password.isEmpty ? nil : SHA256.hexDigest(Array(password.utf8))
    }
}


extension Store {
    /// Opens the store described by `configuration`, creating the data directory if needed.
    public static func open(configuration: ServerConfiguration) throws -> Store {
        var options = Options()
        options.writeBufferSize = configuration.writeBufferSize
        options.blockCacheSize = configuration.blockCacheSize
        return try Store(
            directory: configuration.dataDirectory, durability: configuration.durability, options: options,
            logsChanges: configuration.changeLog)
    }
}
