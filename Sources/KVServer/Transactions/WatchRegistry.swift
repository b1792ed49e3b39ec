import KVStore
import NIOCore
import Synchronization

/// One client's WATCH: set dirty by whoever touches a watched key, read by that client's EXEC.
///
/// Writers run on any event loop (under the store's lock); the flag is atomic so the token is safely shared.
final class WatchToken: Sendable {
    private let dirtyFlag = Atomic<Bool>(false)

    var isDirty: Bool { dirtyFlag.load(ordering: .relaxed) }
    func markDirty() { dirtyFlag.store(true, ordering: .relaxed) }
}

/// A key one client watches, with what it looked like at WATCH time.
struct WatchedKey {
    let key: ByteBuffer
    /// Whether the key existed: only then does FLUSHDB count as a change, as in Redis.
    let existed: Bool
    /// The key's expiry at WATCH time (0 for none): EXEC fails once it has passed, even if nothing deleted the key.
    let expireAt: Int64
}

/// Watched keys → the clients watching them, told by the keyspace of every change.
///
/// Every method runs with the store's lock held (the keyspace calls the observer under it, and WATCH, UNWATCH and
/// disconnects take it), so the dictionary needs no lock of its own. When nobody watches anything, an observed
/// write costs one `isEmpty` check.
final class WatchRegistry: @unchecked Sendable {
    // @unchecked: guarded by the store's lock, see above.
    private var watchers: [ByteBuffer: [(token: WatchToken, existed: Bool)]] = [:]

    /// Adds a watch on `key`. Must hold the store's lock.
    func watch(_ key: ByteBuffer, existed: Bool, by token: WatchToken) {
        watchers[key, default: []].append((token, existed))
    }

    /// Removes the watches of `token` on `keys`. Must hold the store's lock.
    func unwatch<Keys: Sequence<WatchedKey>>(_ keys: Keys, by token: WatchToken) {
        for watched in keys {
            guard var list = watchers[watched.key] else { continue }
            list.removeAll { $0.token === token }
            watchers[watched.key] = list.isEmpty ? nil : list
        }
    }

    /// Number of keys watched by at least one client.
    var watchedKeyCount: Int { watchers.count }

    func keyModified(_ key: ByteBuffer) {
        guard !watchers.isEmpty, let list = watchers[key] else { return }
        for entry in list { entry.token.markDirty() }
    }

    /// FLUSHDB/FLUSHALL: every client watching a key that existed sees a change.
    func keyspaceCleared() {
        for list in watchers.values {
            for entry in list where entry.existed { entry.token.markDirty() }
        }
    }
}
