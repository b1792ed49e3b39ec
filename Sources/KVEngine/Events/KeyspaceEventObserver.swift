import KVStore
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// The store's one observer: what each committed change means for WATCH, keyspace notifications, connections waiting
/// for keys, INFO's `expired_keys` and the save points' change count.
///
/// During a lease it only records, and only what someone wants: the keys changed while any key is watched, and the
/// notifications of enabled classes (`new` and `expired` from the keyspace, the rest from commands through
/// `notify`), in the order they happen. When the commit succeeds — still under the store's lock — WATCHes are
/// invalidated and the notifications move to an outbox; they are published after the lock is released, in commit
/// order. A discarded commit drops what it recorded: a client is never told of a change that did not happen.
final class KeyspaceEventObserver: KeyspaceObserver, @unchecked Sendable {
    // @unchecked: the `Recorded` state is used only by the lease holder; the outbox has its own lock.
    let notifier: KeyspaceNotifier
    let watches: WatchRegistry
    let waiters: KeyWaiters

    /// What the current lease changed since its last commit.
    private struct Recorded {
        var modifiedKeys: [ByteBuffer] = []
        var cleared = false
        var expired = 0
        var keyChanges = 0
        var notifications = NotificationBatch()
    }
    private var recorded = Recorded()
    /// Keys removed because their expiry passed (INFO `expired_keys`); written under the store's lock.
    private let expiredCount = Atomic<Int>(0)
    /// Keys written or deleted by commands since the server started, as Redis's `server.dirty` counts them (MSET of
    /// three keys adds 3, FLUSHDB and FLUSHALL the number of keys they removed; expiry adds nothing). Never reset: a
    /// snapshot records the count it contains, and `rdb_changes_since_last_save` is the difference (`Snapshotter`).
    private let keyChangeCount = Atomic<Int>(0)

    private let outbox = NIOLockedValueBox<(notifications: [NotificationBatch], wakeUps: [ClientHandle])>(([], []))
    private let outboxHasBatches = Atomic<Bool>(false)
    /// Held while publishing, so batches drained by different threads still go out in commit order.
    private let deliveryLock = NIOLock()

    init(notifier: KeyspaceNotifier, watches: WatchRegistry, waiters: KeyWaiters) {
        self.notifier = notifier
        self.watches = watches
        self.waiters = waiters
    }

    /// Whether changed keys are recorded: someone watches or waits for keys.
    @inline(__always) private var recordsKeys: Bool { watches.isWatching || waiters.isWaiting }

    /// Keys removed because their expiry passed.
    var expiredKeys: Int { expiredCount.load(ordering: .relaxed) }

    /// Committed key changes since start-up; read under a lease, it counts exactly the commands completed so far.
    var keyChanges: Int { keyChangeCount.load(ordering: .relaxed) }

    /// CONFIG RESETSTAT.
    func resetStatistics() {
        expiredCount.store(0, ordering: .relaxed)
    }

    // MARK: Recording (under the store's lock)

    /// A command's notification: recorded if its class is enabled.
    func notify(_ type: KeyspaceEventFlags, _ event: StaticString, key: ByteBuffer) {
        guard notifier.publishes(type) else { return }
        recorded.notifications.append(type, event, key: key)
    }

    func keyCreated(_ key: ByteBuffer) {
        notify(.new, "new", key: key)
    }

    func keyModified(_ key: ByteBuffer) {
        recorded.keyChanges &+= 1
        if recordsKeys { recorded.modifiedKeys.append(ByteBuffer(buffer: key)) }
    }

    func keyExpired(_ key: ByteBuffer) {
        recorded.expired += 1
        if recordsKeys { recorded.modifiedKeys.append(ByteBuffer(buffer: key)) }
        notify(.expired, "expired", key: key)
    }

    func keyspaceCleared(removedKeys: Int) {
        recorded.cleared = true
        recorded.keyChanges &+= removedKeys
    }

    func changesCommitted() {
        if !recorded.modifiedKeys.isEmpty {
            watches.keysModified(recorded.modifiedKeys)
            let waiting = waiters.isWaiting ? waiters.waiters(of: recorded.modifiedKeys) : []
            if !waiting.isEmpty {
                outbox.withLockedValue { $0.wakeUps.append(contentsOf: waiting) }
                outboxHasBatches.store(true, ordering: .relaxed)
            }
        }
        if recorded.cleared { watches.keyspaceCleared() }
        if recorded.expired > 0 { expiredCount.wrappingAdd(recorded.expired, ordering: .relaxed) }
        if recorded.keyChanges > 0 { keyChangeCount.wrappingAdd(recorded.keyChanges, ordering: .relaxed) }
        if !recorded.notifications.isEmpty {
            let batch = recorded.notifications
            outbox.withLockedValue { $0.notifications.append(batch) }
            outboxHasBatches.store(true, ordering: .relaxed)
        }
        discardRecorded()
    }

    func changesDiscarded() {
        discardRecorded()
    }

    private func discardRecorded() {
        if !recorded.modifiedKeys.isEmpty { recorded.modifiedKeys.removeAll(keepingCapacity: true) }
        recorded.cleared = false
        recorded.expired = 0
        recorded.keyChanges = 0
        if !recorded.notifications.isEmpty { recorded.notifications = NotificationBatch() }
    }

    // MARK: Delivery (after the lock)

    var hasCommittedChanges: Bool { outboxHasBatches.load(ordering: .relaxed) }

    func deliverCommittedChanges() {
        deliveryLock.withLock {
            let (batches, wakeUps) = outbox.withLockedValue { outbox in
                defer { outbox = ([], []) }
                outboxHasBatches.store(false, ordering: .relaxed)
                return outbox
            }
            for batch in batches { batch.publish(through: notifier) }
            for handle in wakeUps { handle.wake() }
        }
    }
}

/// Notifications recorded during a lease, their keys copied into one buffer so they pin no request.
struct NotificationBatch: Sendable {
    private var keys = ByteBuffer()
    private var entries: [(type: KeyspaceEventFlags, event: StaticString, offset: Int, length: Int)] = []

    var isEmpty: Bool { entries.isEmpty }

    mutating func append(_ type: KeyspaceEventFlags, _ event: StaticString, key: ByteBuffer) {
        let offset = keys.writerIndex
        keys.writeImmutableBuffer(key)
        entries.append((type, event, offset, key.readableBytes))
    }

    func publish(through notifier: KeyspaceNotifier) {
        for entry in entries {
            notifier.publish(entry.type, entry.event, key: keys.getSlice(at: entry.offset, length: entry.length)!)
        }
    }
}
