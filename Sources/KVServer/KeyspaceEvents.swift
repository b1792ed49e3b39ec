import KVStore
import NIOCore

/// The keyspace's one observer: fans each change out to the server features that react to it (WATCH today;
/// keyspace notifications plug in here too) and counts expired keys for INFO.
///
/// The keyspace calls it with the store's lock held, which also guards its state.
final class KeyspaceEvents: KeyspaceObserver, @unchecked Sendable {
    // @unchecked: every member is used only under the store's lock.
    let watches = WatchRegistry()
    /// Keys removed because their expiry passed (INFO `expired_keys`).
    private(set) var expiredKeys = 0

    func keyModified(_ key: ByteBuffer) {
        watches.keyModified(key)
    }

    func keyExpired(_ key: ByteBuffer) {
        expiredKeys += 1
        watches.keyModified(key)
    }

    func keyspaceCleared() {
        watches.keyspaceCleared()
    }

    /// CONFIG RESETSTAT. Must hold the store's lock.
    func resetStatistics() {
        expiredKeys = 0
    }
}
