import KVStore
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The store's one observer: what each committed change means for WATCH, keyspace notifications, connections waiting
/// for keys, KV.WATCH watchers, INFO's `expired_keys` and the save points' change count.
///
/// It moves what it learns through three stages:
/// ```
///   recorded (since the last commit) ──commit──► committed (this lease) ──lease ends──► outbox ──after the lock──► out
///                └──commit fails: dropped
/// ```
/// During a lease it only records, and only what someone wants: the keys changed while any key is watched or waited
/// for, the notifications of enabled classes (`new` and `expired` from the keyspace, the rest from commands through
/// `notify`), and the change-log events while anyone watches with KV.WATCH. At a successful commit — still under the
/// store's lock — WATCHes are invalidated. When the lease ends its notifications, events and wake-ups move to the
/// outbox, which is published after the lock is released, one lease at a time in commit order: a revision committed in
/// several batches reaches watchers whole, and a client is never told of a change that did not happen.
final class KeyspaceEventObserver: KeyspaceObserver, @unchecked Sendable {
    // @unchecked: `recorded` and `committed` are used only by the lease holder; the outbox has its own lock.
    let notifier: KeyspaceNotifier
    let watches: WatchRegistry
    let waiters: KeyWaiters
    let blockingPops: BlockingPops
    let watchers: WatchHub
    /// With `medium` and `high` durability watchers get events only once an fsync has made them durable
    /// (`Store.onSync`): a crash must never take back a revision a watcher has seen, or the revision would be reused
    /// for another change.
    private let eventsWaitForSync: Bool
    private let durableSequence: @Sendable () -> UInt64
    /// Asks for an fsync soon when events wait for one (`medium`; with `high` the writer's own reply fsyncs).
    private let requestSync: (@Sendable () -> Void)?
    /// Events waiting for their fsync, in commit order, with the commit sequence that must be durable first; used
    /// under `deliveryLock`.
    private var waitingForSync: [(sequence: UInt64, events: [ChangeEvent])] = []

    /// What a lease produced for others.
    private struct Deliveries {
        var notifications = NotificationBatch()
        var events: [ChangeEvent] = []
        var wakeUps: [ClientHandle] = []
        /// The store's commit count when the lease ended.
        var sequence: UInt64 = 0

        var isEmpty: Bool { notifications.isEmpty && events.isEmpty && wakeUps.isEmpty }
    }

    /// Changed since the last commit.
    private var recordedKeys: [DatabaseKey] = []
    /// Databases flushed since the last commit.
    private var recordedCleared: [UInt32] = []
    /// SWAPDB since the last commit.
    private var recordedSwaps: [(UInt32, UInt32)] = []
    private var recordedExpired = 0
    private var recordedKeyChanges = 0
    private var recorded = Deliveries()
    /// Committed during this lease.
    private var committed = Deliveries()

    /// Keys removed because their expiry passed (INFO `expired_keys`).
    private let expiredCount = Atomic<Int>(0)
    /// Keys written or deleted by commands since the server started, as Redis's `server.dirty` counts them (MSET of
    /// three keys adds 3, FLUSHDB and FLUSHALL the number of keys they removed; expiry adds nothing). Never reset: a
    /// snapshot records the count it contains, and `rdb_changes_since_last_save` is the difference (`Snapshotter`).
    private let keyChangeCount = Atomic<Int>(0)

    private let outbox = NIOLockedValueBox<[Deliveries]>([])
    /// Held while publishing, so leases drained by different threads still go out in commit order.
    private let deliveryLock = NIOLock()

    init(
        notifier: KeyspaceNotifier, watches: WatchRegistry, waiters: KeyWaiters, blockingPops: BlockingPops,
        watchers: WatchHub,
        eventsWaitForSync: Bool, durableSequence: @escaping @Sendable () -> UInt64,
        requestSync: (@Sendable () -> Void)?
    ) {
        self.notifier = notifier
        self.watches = watches
        self.waiters = waiters
        self.blockingPops = blockingPops
        self.watchers = watchers
        self.eventsWaitForSync = eventsWaitForSync
        self.durableSequence = durableSequence
        self.requestSync = requestSync
    }

    var expiredKeys: Int { expiredCount.load(ordering: .relaxed) }

    /// Committed key changes since start-up; read under a lease, it counts exactly the commands completed so far.
    var keyChanges: Int { keyChangeCount.load(ordering: .relaxed) }

    /// CONFIG RESETSTAT.
    func resetStatistics() {
        expiredCount.store(0, ordering: .relaxed)
    }

    // MARK: Recording (under the store's lock)

    /// Whether changed keys are recorded: someone watches or waits for keys.
    @inline(__always) private var recordsKeys: Bool { watches.isWatching || waiters.isWaiting }

    /// A command's notification: recorded if its class is enabled.
    func notify(_ type: KeyspaceEventFlags, _ event: StaticString, key: ByteBuffer, database: UInt32) {
        guard notifier.publishes(type) else { return }
        recorded.notifications.append(type, event, key: key, database: database)
    }

    func keyCreated(_ key: ByteBuffer, database: UInt32) {
        notify(.new, "new", key: key, database: database)
    }

    func keyModified(_ key: ByteBuffer, database: UInt32) {
        recordedKeyChanges &+= 1
        if recordsKeys { recordedKeys.append(DatabaseKey(database, ByteBuffer(buffer: key))) }
        // A client blocked on the key may be served right after the command (`Executor.serveBlockedClients`).
        if blockingPops.isWaiting { blockingPops.keyChanged(DatabaseKey(database, key)) }
    }

    func keyExpired(_ key: ByteBuffer, database: UInt32) {
        recordedExpired += 1
        if recordsKeys { recordedKeys.append(DatabaseKey(database, ByteBuffer(buffer: key))) }
        notify(.expired, "expired", key: key, database: database)
    }

    func keyspaceCleared(removedKeys: Int, database: UInt32) {
        recordedCleared.append(database)
        recordedKeyChanges &+= removedKeys
    }

    func databasesSwapped(_ first: UInt32, _ second: UInt32) {
        recordedSwaps.append((first, second))
        // Clients blocked in either database may find their keys filled now, as Redis's SWAPDB serves them.
        if blockingPops.isWaiting { blockingPops.databasesChanged([first, second]) }
    }

    var wantsChangeEvents: Bool { watchers.isWatching }

    func changeLogged(_ event: ChangeEvent) {
        recorded.events.append(event)
    }

    func changesCommitted() {
        if !recordedKeys.isEmpty {
            watches.keysModified(recordedKeys)
            if waiters.isWaiting { recorded.wakeUps.append(contentsOf: waiters.waiters(of: recordedKeys)) }
        }
        for database in recordedCleared { watches.keyspaceCleared(database: database) }
        for (first, second) in recordedSwaps { watches.databasesSwapped(first, second) }
        if recordedExpired > 0 { expiredCount.wrappingAdd(recordedExpired, ordering: .relaxed) }
        if recordedKeyChanges > 0 { keyChangeCount.wrappingAdd(recordedKeyChanges, ordering: .relaxed) }
        if !recorded.isEmpty {
            if committed.isEmpty {
                swap(&committed, &recorded)
            } else {
                committed.notifications.append(contentsOf: recorded.notifications)
                committed.events.append(contentsOf: recorded.events)
                committed.wakeUps.append(contentsOf: recorded.wakeUps)
            }
        }
        discardRecorded()
    }

    func changesDiscarded() {
        discardRecorded()
    }

    private func discardRecorded() {
        if !recordedKeys.isEmpty { recordedKeys.removeAll(keepingCapacity: true) }
        if !recordedCleared.isEmpty { recordedCleared.removeAll() }
        if !recordedSwaps.isEmpty { recordedSwaps.removeAll() }
        recordedExpired = 0
        recordedKeyChanges = 0
        if !recorded.isEmpty { recorded = Deliveries() }
    }

    func leaseEnding(commitSequence: UInt64) -> Bool {
        guard !committed.isEmpty else { return false }
        var lease = committed
        lease.sequence = commitSequence
        committed = Deliveries()
        outbox.withLockedValue { $0.append(lease) }
        return true
    }

    // MARK: Delivery (after the lock)

    func deliverCommittedChanges() {
        deliveryLock.withLock {
            let leases = outbox.withLockedValue { outbox in
                defer { outbox.removeAll() }
                return outbox
            }
            for lease in leases {
                lease.notifications.publish(through: notifier)
                if !lease.events.isEmpty {
                    if eventsWaitForSync {
                        waitingForSync.append((lease.sequence, lease.events))
                    } else {
                        watchers.publish(lease.events)
                    }
                }
                for handle in lease.wakeUps { handle.wake() }
            }
            if eventsWaitForSync {
                publishDurable(upTo: durableSequence())
                if !waitingForSync.isEmpty { requestSync?() }
            }
        }
    }

    /// An fsync made the first `sequence` commits durable: their events may go to watchers now.
    func synced(upTo sequence: UInt64) {
        deliveryLock.withLock { publishDurable(upTo: sequence) }
    }

    /// Under `deliveryLock`.
    private func publishDurable(upTo sequence: UInt64) {
        var published = 0
        for waiting in waitingForSync {
            guard waiting.sequence <= sequence else { break }
            watchers.publish(waiting.events)
            published += 1
        }
        if published > 0 { waitingForSync.removeFirst(published) }
    }
}

/// Notifications recorded during a lease, their keys copied into one buffer so they pin no request.
struct NotificationBatch: Sendable {
    private var keys = ByteBuffer()
    private var entries: [(type: KeyspaceEventFlags, event: StaticString, offset: Int, length: Int, database: UInt32)] = []

    var isEmpty: Bool { entries.isEmpty }

    mutating func append(_ type: KeyspaceEventFlags, _ event: StaticString, key: ByteBuffer, database: UInt32) {
        let offset = keys.writerIndex
        keys.writeImmutableBuffer(key)
        entries.append((type, event, offset, key.readableBytes, database))
    }

    mutating func append(contentsOf other: NotificationBatch) {
        for entry in other.entries {
            append(
                entry.type, entry.event, key: other.keys.getSlice(at: entry.offset, length: entry.length)!,
                database: entry.database)
        }
    }

    func publish(through notifier: KeyspaceNotifier) {
        for entry in entries {
            notifier.publish(
                entry.type, entry.event, key: keys.getSlice(at: entry.offset, length: entry.length)!,
                database: entry.database)
        }
    }
}
