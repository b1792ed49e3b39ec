import KVStore
import Synchronization
import NIOConcurrencyHelpers

/// kvnode's CONFIG parameters: Redis's names where Redis has the setting, kvnode's own names otherwise. Settings
/// kvnode cannot change at run time are immutable; Redis settings kvnode does not implement accept only the value
/// that describes kvnode (`appendonly no`, `maxmemory 0`, `maxmemory-policy noeviction`).
enum ServerConfigParameters {
    static let all: [ConfigParameter] = network + limits + persistence + memory + notifications + storage

    static let network: [ConfigParameter] = [
        ConfigParameter("bind", mutability: .immutable) { $0.configuration.host },
        ConfigParameter("port", mutability: .immutable) { String($0.configuration.port) },
        ConfigParameter("io-threads", mutability: .immutable) { String($0.configuration.eventLoopCount) },
    ]

    static let limits: [ConfigParameter] = [
        ConfigParameter("maxclients", get: { String($0.settings.maxClients.load(ordering: .relaxed)) }) { server, text in
            let value = try ConfigParameter.parseInteger(text, in: 1...Int(UInt32.max))
            return { server.settings.maxClients.store(value, ordering: .relaxed) }
        },
        ConfigParameter("proto-max-bulk-len", get: { String($0.settings.protoMaxBulkLength.load(ordering: .relaxed)) }) {
            server, text in
            let value = try ConfigParameter.parseMemory(text, in: 1024 * 1024...Int.max)
            return { server.settings.protoMaxBulkLength.store(value, ordering: .relaxed) }
        },
        ConfigParameter("client-query-buffer-limit", get: {
            String($0.settings.clientQueryBufferLimit.load(ordering: .relaxed))
        }) { server, text in
            let value = try ConfigParameter.parseMemory(text, in: 1024 * 1024...Int.max)
            return { server.settings.clientQueryBufferLimit.store(value, ordering: .relaxed) }
        },
        ConfigParameter("databases", mutability: .immutable) { _ in "1" },
    ]

    static let persistence: [ConfigParameter] = [
        ConfigParameter("save", get: { server in server.settings.save.withLockedValue { $0.description } }) {
            server, text in
            guard let points = SavePoints(text) else { throw ConfigValueError("Invalid save parameters") }
            return { server.settings.save.withLockedValue { $0 = points } }
        },
        ConfigParameter("appendonly", get: { _ in "no" }) { _, text in
            guard try !ConfigParameter.parseBoolean(text) else {
                throw ConfigValueError("kvnode writes every change to LevelDB and has no append-only file")
            }
            return {}
        },
        ConfigParameter("dir", mutability: .immutable) { $0.configuration.dataDirectory },
    ]

    static let memory: [ConfigParameter] = [
        ConfigParameter("maxmemory", get: { _ in "0" }) { _, text in
            guard try ConfigParameter.parseMemory(text, in: 0...Int.max) == 0 else {
                throw ConfigValueError("kvnode keeps its data on disk and has no memory limit; maxmemory must be 0")
            }
            return {}
        },
        ConfigParameter("maxmemory-policy", get: { _ in "noeviction" }) { _, text in
            let policies = [
                "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu",
                "allkeys-random", "noeviction",
            ]
            guard try ConfigParameter.parseEnumeration(text, policies) == "noeviction" else {
                throw ConfigValueError("kvnode never evicts keys; the only policy is noeviction")
            }
            return {}
        },
    ]

    static let notifications: [ConfigParameter] = [
        ConfigParameter("notify-keyspace-events", get: { $0.notifier.enabled.letters }) { server, text in
            guard let flags = KeyspaceEventFlags(letters: text) else {
                throw ConfigValueError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
            }
            return { server.notifier.enabled = flags }
        },
        ConfigParameter("client-output-buffer-limit", mutability: .immutable) { server in
            let pubsub = server.configuration.pubsubOutputLimit
            return "normal 0 0 0 slave 268435456 67108864 60 "
                + "pubsub \(pubsub.hardBytes) \(pubsub.softBytes) \(pubsub.softSeconds)"
        },
    ]

    /// kvnode's own storage, keyspace and snapshot settings, fixed at startup (`expiry-sweep-interval` in ms).
    static let storage: [ConfigParameter] = [
        ConfigParameter("durability", mutability: .immutable) { "\($0.store.durability)" },
        ConfigParameter("leveldb-write-buffer-size", mutability: .immutable) {
            String($0.configuration.writeBufferSize)
        },
        ConfigParameter("leveldb-block-cache-size", mutability: .immutable) {
            String($0.configuration.blockCacheSize)
        },
        ConfigParameter("keys-default-limit", mutability: .immutable) { String($0.configuration.keysDefaultLimit) },
        ConfigParameter("scan-cursor-table-size", mutability: .immutable) {
            String($0.configuration.scanCursorTableSize)
        },
        ConfigParameter("snapshot-keep", mutability: .immutable) { String($0.configuration.snapshotKeep) },
        ConfigParameter("expiry-sweep-interval", mutability: .immutable) {
            let interval = $0.configuration.expirySweepInterval.components
            return String(interval.seconds * 1000 + interval.attoseconds / 1_000_000_000_000_000)
        },
        ConfigParameter("expiry-sweep-chunk", mutability: .immutable) { String($0.configuration.expirySweepChunk) },
    ]
}
