import KVStore
import Synchronization
import NIOConcurrencyHelpers

/// kvnode's CONFIG parameters: Redis's names where Redis has the setting, kvnode's own names otherwise. Settings
/// kvnode cannot change at run time are immutable; Redis settings kvnode does not implement accept only the value
/// that describes kvnode (`appendonly no`, `maxmemory 0`, `maxmemory-policy noeviction`).
enum ServerConfigParameters {
    static let all: [ConfigParameter] = network + security + limits + persistence + memory + notifications + storage

    static let network: [ConfigParameter] = [
        ConfigParameter("bind", mutability: .immutable) { $0.configuration.bindAddresses.joined(separator: " ") },
        ConfigParameter("port", mutability: .immutable) { String($0.configuration.port) },
        ConfigParameter("io-threads", mutability: .immutable) { String($0.configuration.eventLoopCount) },
        ConfigParameter("unixsocket", mutability: .immutable) { $0.configuration.unixSocket ?? "" },
        // Octal, as redis.conf writes it.
        ConfigParameter("unixsocketperm", mutability: .immutable) {
            String($0.configuration.unixSocketPermissions ?? 0, radix: 8)
        },
        ConfigParameter("tls-port", mutability: .immutable) { String($0.configuration.tls.port) },
        // The files can be changed, as in Redis, to reload the certificates; CONFIG GET shows paths, never contents.
        ConfigParameter(tls: "tls-cert-file", get: \.certificateFile) { $0.certificateFile = $1 },
        ConfigParameter(tls: "tls-key-file", get: \.keyFile) { $0.keyFile = $1 },
        ConfigParameter(tls: "tls-ca-cert-file", get: \.caCertificateFile) { $0.caCertificateFile = $1 },
        ConfigParameter(tls: "tls-auth-clients", get: \.authenticateClients.rawValue) {
            (settings: inout TLSSettings, text: String) throws(ConfigValueError) in
            let value = try ConfigParameter.parseEnumeration(
                text, TLSSettings.ClientAuthentication.allCases.map(\.rawValue))
            settings.authenticateClients = TLSSettings.ClientAuthentication(rawValue: value)!
        },
    ]

    /// Authentication, users and protected mode (AccessControl/).
    static let security: [ConfigParameter] = [
        // Only the SHA-256 of the password is kept (Redis returns the clear text): CONFIG GET shows it as a `#<hash>`
        // rule, or nothing when the default user has no password.
        ConfigParameter("requirepass", get: { server in
            let rules = server.access.defaultUser.rules
            return rules.isNoPass ? "" : rules.passwords.first.map { "#\($0)" } ?? ""
        }) { server, text in
            { server.access.setDefaultPassword(Array(text.utf8)) }
        },
        // Guarded as a protected config (kvnode's choice; Redis 7.0 lets any connection change it), except from a
        // loopback or Unix socket connection, where protected mode's refusal tells people to change it.
        ConfigParameter("protected-mode", mutability: .protected(alwaysFromLocal: true), get: { $0.access.protectedMode.load(ordering: .relaxed) ? "yes" : "no" }) {
            server, text in
            let on = try ConfigParameter.parseBoolean(text)
            return { server.access.protectedMode.store(on, ordering: .relaxed) }
        },
        ConfigParameter("aclfile", mutability: .immutable) { $0.access.aclFile ?? "" },
        ConfigParameter("enable-protected-configs", mutability: .immutable) {
            $0.configuration.protectedConfigs.rawValue
        },
        ConfigParameter("acllog-max-len", get: { String($0.access.logMaxLength.load(ordering: .relaxed)) }) {
            server, text in
            let value = try ConfigParameter.parseInteger(text, in: 0...Int.max)
            return { server.access.logMaxLength.store(value, ordering: .relaxed) }
        },
        ConfigParameter("acl-pubsub-default", get: {
            $0.access.newUsersAllowAllChannels.load(ordering: .relaxed) ? "allchannels" : "resetchannels"
        }) { server, text in
            let value = try ConfigParameter.parseEnumeration(text, ["allchannels", "resetchannels"])
            return { server.access.newUsersAllowAllChannels.store(value == "allchannels", ordering: .relaxed) }
        },
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
        ConfigParameter("databases", mutability: .immutable) { String($0.configuration.databases) },
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
        // Redis's classic escape is CONFIG SET dir + dbfilename + SAVE: `dir` is a protected config, as in Redis, and
        // even where protected configs are enabled kvnode cannot move its open database.
        ConfigParameter("dir", mutability: .protected(alwaysFromLocal: false), get: { $0.configuration.dataDirectory }) {
            _, _ in throw ConfigValueError("kvnode cannot move its data directory while it runs")
        },
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
        ConfigParameter("client-output-buffer-limit", get: {
            $0.settings.outputBufferLimits.withLockedValue { $0.description }
        }) { server, text in
            let updates = try parseOutputBufferLimits(text)
            return {
                server.settings.outputBufferLimits.withLockedValue { limits in
                    for (isPubSub, limit) in updates {
                        if isPubSub { limits.pubsub = limit } else { limits.replica = limit }
                    }
                }
            }
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

    /// `client-output-buffer-limit "<class> <hard> <soft> <soft seconds> ..."`, split and checked as Redis 7.0 does:
    /// on single spaces (so an extra space is an argument of its own), every argument checked in order before any
    /// is applied, sizes as `memtoull` reads them (an empty one is 0), later groups of a class winning. Classes not
    /// named keep their limits. kvnode does not limit normal clients, so `normal` accepts only `0 0 0`.
    /// - Returns: the new limits of the Pub/Sub (true) and replica (false) classes, in order.
    private static func parseOutputBufferLimits(
        _ text: String
    ) throws(ConfigValueError) -> [(isPubSub: Bool, limit: OutputBufferLimit)] {
        let arguments = text.isEmpty ? [] : text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard arguments.count % 4 == 0 else {
            throw ConfigValueError("Wrong number of arguments in buffer limit configuration.")
        }
        let valueError = ConfigValueError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
        var updates: [(isPubSub: Bool, limit: OutputBufferLimit)] = []
        var normal = OutputBufferLimit.none
        for group in stride(from: 0, to: arguments.count, by: 4) {
            let isNormal: Bool
            let isPubSub: Bool
            switch arguments[group].lowercased() {
            case "normal": (isNormal, isPubSub) = (true, false)
            case "replica", "slave": (isNormal, isPubSub) = (false, false)
            case "pubsub": (isNormal, isPubSub) = (false, true)
            default: throw ConfigValueError("Invalid client class specified in buffer limit configuration.")
            }
            let sizes = arguments[group + 1...group + 2].map { $0.isEmpty ? 0 : MemoryAmount.parse($0) }
            guard let hard = sizes[0], let soft = sizes[1] else { throw valueError }
            // strtoll: an optional sign, then digits; at most INT_MAX, and not negative.
            var seconds = Substring(arguments[group + 3])
            let negative = seconds.first == "-"
            if negative || seconds.first == "+" { seconds = seconds.dropFirst() }
            guard !seconds.isEmpty, seconds.allSatisfy({ $0.isASCII && $0.isNumber }), let magnitude = Int(seconds),
                magnitude <= Int(Int32.max), !negative || magnitude == 0
            else { throw valueError }
            let limit = OutputBufferLimit(hardBytes: hard, softBytes: soft, softSeconds: magnitude)
            if isNormal { normal = limit } else { updates.append((isPubSub, limit)) }
        }
        // Only once Redis's own checks have passed, as for `maxmemory`.
        guard normal.hardBytes == 0 && normal.softBytes == 0 && normal.softSeconds == 0 else {
            throw ConfigValueError("kvnode does not limit the output of normal clients; the normal class must be 0 0 0")
        }
        return updates
    }
}
