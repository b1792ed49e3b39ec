import KVStore
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// One client's WATCH: set dirty by whoever commits a change to a watched key, read by that client's EXEC.
///
/// Writers run on any event loop; the flag is atomic so the token is safely shared.
final class WatchToken: Sendable {
    private let dirtyFlag = Atomic<Bool>(false)

    var isDirty: Bool { dirtyFlag.load(ordering: .relaxed) }
    func markDirty() { dirtyFlag.store(true, ordering: .relaxed) }
}

/// A key one client watches, with what it looked like at WATCH time.
struct WatchedKey {
    let key: DatabaseKey
    /// Whether the key existed: only then does FLUSHDB count as a change, as in Redis.
    let existed: Bool
    /// The key's expiry at WATCH time (0 for none): EXEC fails once it has passed, even if nothing deleted the key.
    let expireAt: Int64
}

/// Watched keys → the clients watching them, told of every committed change.
///
/// Changes are applied by the keyspace observer when a commit succeeds, while the store's lock is still held, so an
/// EXEC (which holds the lock from its check to its last command) sees every change committed before it. The registry
/// has its own lock, so a closing connection can drop its watches without the store's. When nobody watches anything,
/// a write costs one relaxed load (`isWatching`).
final class WatchRegistry: Sendable {
    private let watchers = NIOLockedValueBox<[DatabaseKey: [(token: WatchToken, existed: Bool)]]>([:])
    private let watchedKeys = Atomic<Int>(0)

    /// Whether any key is watched.
    @inline(__always) var isWatching: Bool { watchedKeys.load(ordering: .relaxed) > 0 }

    /// Number of keys watched by at least one client.
    var watchedKeyCount: Int { watchedKeys.load(ordering: .relaxed) }

    /// Adds a watch on `key`; the caller holds a lease, so no commit runs between its read of the key and this.
    func watch(_ key: DatabaseKey, existed: Bool, by token: WatchToken) {
        watchers.withLockedValue { watchers in
            watchers[key, default: []].append((token, existed))
            watchedKeys.store(watchers.count, ordering: .relaxed)
        }
    }

    /// Removes the watches of `token` on `keys`.
    func unwatch<Keys: Sequence<WatchedKey>>(_ keys: Keys, by token: WatchToken) {
        watchers.withLockedValue { watchers in
            for watched in keys {
                guard var list = watchers[watched.key] else { continue }
                list.removeAll { $0.token === token }
                watchers[watched.key] = list.isEmpty ? nil : list
            }
            watchedKeys.store(watchers.count, ordering: .relaxed)
        }
    }

    /// Marks the watchers of each committed key dirty.
    func keysModified(_ keys: some Sequence<DatabaseKey>) {
        watchers.withLockedValue { watchers in
            for key in keys {
                for entry in watchers[key] ?? [] { entry.token.markDirty() }
            }
        }
    }

    /// FLUSHDB (FLUSHALL: each database): every client watching a key of `database` that existed sees a change.
    func keyspaceCleared(database: UInt32) {
        watchers.withLockedValue { watchers in
            for (key, list) in watchers where key.database == database {
                for entry in list where entry.existed { entry.token.markDirty() }
            }
        }
    }

    /// SWAPDB: every client watching a key of either database sees a change (Redis spares a key missing from both;
    /// kvnode does not look, so such an EXEC fails where Redis's would run).
    func databasesSwapped(_ first: UInt32, _ second: UInt32) {
        watchers.withLockedValue { watchers in
            for (key, list) in watchers where key.database == first || key.database == second {
                for entry in list { entry.token.markDirty() }
            }
        }
    }
}
