import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The part of a connection that other connections see: its description for CLIENT LIST and the means to close or
/// wake it. Shared across event loops; the owning connection publishes its state here with relaxed atomic stores.
final class ClientHandle: Sendable {
    /// Client flags shown by CLIENT LIST, besides those derived from other state.
    struct Flags: OptionSet, Sendable {
        let rawValue: UInt32
        static let noEvict = Flags(rawValue: 1 << 0)
        static let noTouch = Flags(rawValue: 1 << 1)
        static let closeASAP = Flags(rawValue: 1 << 2)
        /// Has KV.WATCH watches: a pubsub client, as a subscribed one is (CLIENT LIST `P`, CLIENT KILL TYPE pubsub).
        static let watching = Flags(rawValue: 1 << 3)
    }

    /// What CLIENT SETNAME, CLIENT SETINFO and AUTH set; changed rarely, so a lock is fine.
    struct Identity: Sendable {
        var name: [UInt8] = []
        var libraryName: [UInt8] = []
        var libraryVersion: [UInt8] = []
        /// The user the connection runs as (CLIENT LIST `user`, CLIENT KILL USER, closing a deleted user's
        /// connections).
        var user: ACLUser
    }

    let id: Int
    /// Remote address as `ip:port`.
    let address: String
    /// Local (listening) address as `ip:port`.
    let localAddress: String
    /// Monotonic milliseconds at connect time.
    let connectedAt: Int64
    private let connection: any ConnectionControl

    /// Monotonic milliseconds of the last command.
    let lastInteraction: Synchronization.Atomic<Int64>
    /// Statistics slot of the last (or current) command; -1 before the first.
    let lastCommandSlot = Synchronization.Atomic<Int>(-1)
    let protocolVersion = Synchronization.Atomic<Int>(2)
    let flagBits = Synchronization.Atomic<UInt32>(0)
    /// Commands queued by MULTI, or -1 outside a transaction.
    let queuedCommands = Synchronization.Atomic<Int>(-1)
    let queuedBytes = Synchronization.Atomic<Int>(0)
    /// Bytes read but not yet decoded into a command.
    let queryBufferBytes = Synchronization.Atomic<Int>(0)
    /// Pub/Sub subscription counts, packed (see `Subscriptions`).
    let subscriptions = Synchronization.Atomic<UInt64>(0)
    /// Set while a command waits: for CLIENT PAUSE to end, or for keys (CLIENT LIST flag `b`).
    let isPostponed = Synchronization.Atomic<Bool>(false)
    /// The database the connection has selected (CLIENT LIST `db`).
    let database = Synchronization.Atomic<Int>(0)
    /// Reply bytes produced but not yet taken by the socket (CLIENT LIST `omem`), published by the network layer.
    let outputBytes = Synchronization.Atomic<Int>(0)
    let identity: NIOLockedValueBox<Identity>

    init(id: Int, connection: any ConnectionControl, user: ACLUser) {
        self.id = id
        self.identity = NIOLockedValueBox(Identity(user: user))
        self.connection = connection
        address = connection.remoteAddress
        localAddress = connection.localAddress
        connectedAt = MonotonicClock.milliseconds()
        lastInteraction = Synchronization.Atomic(connectedAt)
    }

    /// Channels, patterns and shard channels subscribed to, packed in one word so they are read together.
    struct Subscriptions {
        var channels: Int
        var patterns: Int
        var shardChannels: Int

        var packed: UInt64 {
            UInt64(min(channels, 0x1F_FFFF)) << 42 | UInt64(min(patterns, 0x1F_FFFF)) << 21
                | UInt64(min(shardChannels, 0x1F_FFFF))
        }

        init(channels: Int, patterns: Int, shardChannels: Int) {
            self.channels = channels
            self.patterns = patterns
            self.shardChannels = shardChannels
        }

        init(packed: UInt64) {
            channels = Int(packed >> 42 & 0x1F_FFFF)
            patterns = Int(packed >> 21 & 0x1F_FFFF)
            shardChannels = Int(packed & 0x1F_FFFF)
        }

        var isEmpty: Bool { channels == 0 && patterns == 0 && shardChannels == 0 }
    }

    var subscriptionCounts: Subscriptions {
        Subscriptions(packed: subscriptions.load(ordering: .relaxed))
    }

    /// The user the connection runs as.
    var user: ACLUser { identity.withLockedValue { $0.user } }

    /// Whether the connection subscribes or watches: Redis's `pubsub` client type.
    var isPubSubClient: Bool { !subscriptionCounts.isEmpty || flags.contains(.watching) }

    var flags: Flags {
        get { Flags(rawValue: flagBits.load(ordering: .relaxed)) }
    }

    func setFlag(_ flag: Flags, _ on: Bool) {
        if on {
            flagBits.bitwiseOr(flag.rawValue, ordering: .relaxed)
        } else {
            flagBits.bitwiseAnd(~flag.rawValue, ordering: .relaxed)
        }
    }

    /// Whether the peer is on the loopback interface (protected mode).
    var isLoopback: Bool { connection.isLoopback }
    var isUnixSocket: Bool { connection.isUnixSocket }

    /// Closes the connection from any thread; the close runs later on the connection's own event loop.
    func kill() {
        setFlag(.closeASAP, true)
        connection.close()
    }

    /// Asks a connection whose command waits (CLIENT PAUSE, keys) to try it again.
    func wakeIfPostponed() {
        guard isPostponed.load(ordering: .relaxed) else { return }
        connection.wake()
    }

    /// Asks the connection to run its parked command again (a key it waits for changed).
    func wake() {
        connection.wake()
    }
}

/// Every live connection, for CLIENT LIST / KILL, INFO clients and `maxclients`.
final class ClientRegistry: Sendable {
    private let clients = NIOLockedValueBox<[Int: ClientHandle]>([:])

    /// Adds a connection.
    /// - Returns: the number of connections, this one included.
    func register(_ handle: ClientHandle) -> Int {
        clients.withLockedValue { clients in
            clients[handle.id] = handle
            return clients.count
        }
    }

    func unregister(_ handle: ClientHandle) {
        _ = clients.withLockedValue { $0.removeValue(forKey: handle.id) }
    }

    var count: Int { clients.withLockedValue { $0.count } }

    /// Every connection, oldest first.
    var all: [ClientHandle] {
        clients.withLockedValue { Array($0.values) }.sorted { $0.id < $1.id }
    }
}
