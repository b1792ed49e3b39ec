import KVStore
import NIOCore

/// The store's one observer: fans each change out to the features that react to it — WATCH (every change),
/// keyspace notifications (`new` and `expired`; commands publish the events they name) — and counts expired keys and
/// key changes for INFO and the save points.
///
/// The keyspace calls it with the store's lock held, which also guards its state.
final class StoreEventObserver: KeyspaceObserver, @unchecked Sendable {
    // @unchecked: `watches`, `expiredKeys` and `keyChanges` are used only under the store's lock.
    let notifier: KeyspaceNotifier
    let watches = WatchRegistry()
    /// Keys removed because their expiry passed (INFO `expired_keys`).
    private(set) var expiredKeys = 0
    /// Keys written or deleted by commands since the server started, as Redis's `server.dirty` counts them (MSET of
    /// three keys adds 3, FLUSHDB and FLUSHALL the number of keys they removed; expiry adds nothing). Never reset: a
    /// snapshot records the count it contains, and `rdb_changes_since_last_save` is the difference (see
    /// `Snapshotter`).
    private(set) var keyChanges = 0

    init(notifier: KeyspaceNotifier) {
        self.notifier = notifier
    }

    func keyCreated(_ key: ByteBuffer) {
        notifier.notify(.new, "new", key: key)
    }

    func keyModified(_ key: ByteBuffer) {
        keyChanges &+= 1
        watches.keyModified(key)
    }

    func keyExpired(_ key: ByteBuffer) {
        expiredKeys += 1
        watches.keyModified(key)
        notifier.notify(.expired, "expired", key: key)
    }

    func keyspaceCleared(removedKeys: Int) {
        keyChanges &+= removedKeys
        watches.keyspaceCleared()
    }

    /// CONFIG RESETSTAT. Must hold the store's lock.
    func resetStatistics() {
        expiredKeys = 0
    }
}
