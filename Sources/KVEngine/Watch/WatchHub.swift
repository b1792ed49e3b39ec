import KVStore
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Every KV.WATCH watcher, fed the change log's events as they are committed.
///
/// The keyspace observer publishes one lease's events at a time, in commit order, after the store's lock is released
/// (`KeyspaceEventObserver.deliverCommittedChanges`); each watcher takes the ones its filter matches. A watcher that is
/// still replaying the log buffers them until it switches to live events (see `Watcher`). With nobody watching, the
/// keyspace builds no events at all (`isWatching`).
final class WatchHub: Sendable {
    private let watchers = NIOLockedValueBox<[ObjectIdentifier: Watcher]>([:])
    private let watcherCount = Atomic<Int>(0)
    /// The newest revision whose events every watcher has been offered: what an idle watcher may resume after.
    private let publishedRevision = Atomic<UInt64>(0)
    /// Unsent bytes beyond which a watcher is cut off (`kv-watch-output-limit`).
    let outputLimit: Int
    /// How often an idle watcher is told the revision it is caught up to.
    let progressInterval: TimeAmount
    /// With `medium` or `high` durability: the newest durable revision, and how to ask for an fsync soon. A watcher
    /// sends nothing beyond the durable revision, so a crash never takes back what it was told.
    let durability: WatchDurability?

    init(outputLimit: Int, progressInterval: TimeAmount, durability: WatchDurability? = nil) {
        self.outputLimit = outputLimit
        self.progressInterval = progressInterval
        self.durability = durability
    }

    /// Whether anyone watches: the keyspace builds change events only then.
    @inline(__always) var isWatching: Bool { watcherCount.load(ordering: .relaxed) > 0 }

    /// Watchers, for INFO.
    var count: Int { watcherCount.load(ordering: .relaxed) }

    func add(_ watcher: Watcher) {
        watchers.withLockedValue {
            $0[ObjectIdentifier(watcher)] = watcher
            watcherCount.store($0.count, ordering: .relaxed)
        }
    }

    func remove(_ watcher: Watcher) {
        watchers.withLockedValue {
            $0[ObjectIdentifier(watcher)] = nil
            watcherCount.store($0.count, ordering: .relaxed)
        }
    }

    /// What each of `clients` (by id) watches: access control closes a watcher whose user may no longer read all of
    /// it.
    func filters(ofClients clients: Set<Int>) -> [Int: [WatchFilter]] {
        watchers.withLockedValue { watchers in
            var found: [Int: [WatchFilter]] = [:]
            for watcher in watchers.values where clients.contains(watcher.clientID) {
                found[watcher.clientID, default: []].append(watcher.filter)
            }
            return found
        }
    }

    /// Offers one lease's events, in revision order, to every watcher.
    func publish(_ events: [ChangeEvent]) {
        let all = watchers.withLockedValue { Array($0.values) }
        for watcher in all { watcher.offer(events) }
        if let last = events.last { publishedRevision.store(last.revision, ordering: .releasing) }
    }

    /// The newest revision whose events every watcher registered before it has been offered. A watcher reports
    /// `max(this, its start)` as its progress: events at or before its start are not for it.
    var offeredRevision: UInt64 { publishedRevision.load(ordering: .acquiring) }
}

/// How watchers wait for durability (see `WatchHub.durability`).
struct WatchDurability: Sendable {
    let durableRevision: @Sendable () -> UInt64
    let requestSync: @Sendable () -> Void
}
