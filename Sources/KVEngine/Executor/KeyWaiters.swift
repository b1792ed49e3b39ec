import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// Connections whose command waits for keys to change (BLPOP and the other blocking commands), and the wake-ups a
/// committed change owes them.
///
/// A waiting command registers through `CommandContext.wait(forKeys:timeoutMilliseconds:)`; the executor parks its
/// request. When a commit changes one of the keys, the keyspace observer wakes the connection after the store's lock
/// is released, and the command runs again under a lease of its own: it sees the change, and either completes or
/// waits again. Nothing is kept per key when nobody waits: a write costs one relaxed load (`isWaiting`).
final class KeyWaiters: Sendable {
    private let waiting = NIOLockedValueBox<[DatabaseKey: [ClientHandle]]>([:])
    private let waitingKeys = Atomic<Int>(0)

    @inline(__always) var isWaiting: Bool { waitingKeys.load(ordering: .relaxed) > 0 }

    /// Connections waiting for any key (INFO `blocked_clients` counts them with the paused ones).
    var waitingConnections: Int {
        waiting.withLockedValue { Set($0.values.joined().map(\.id)).count }
    }

    func add(_ handle: ClientHandle, keys: [DatabaseKey]) {
        waiting.withLockedValue { waiting in
            for key in keys where !(waiting[key]?.contains { $0 === handle } ?? false) {
                waiting[key, default: []].append(handle)
            }
            waitingKeys.store(waiting.count, ordering: .relaxed)
        }
    }

    func remove(_ handle: ClientHandle, keys: [DatabaseKey]) {
        waiting.withLockedValue { waiting in
            for key in keys {
                guard var list = waiting[key] else { continue }
                list.removeAll { $0 === handle }
                waiting[key] = list.isEmpty ? nil : list
            }
            waitingKeys.store(waiting.count, ordering: .relaxed)
        }
    }

    /// The connections waiting on any of `keys`, each once.
    func waiters(of keys: some Sequence<DatabaseKey>) -> [ClientHandle] {
        waiting.withLockedValue { waiting in
            var found: [ClientHandle] = []
            for key in keys {
                for handle in waiting[key] ?? [] where !found.contains(where: { $0 === handle }) {
                    found.append(handle)
                }
            }
            return found
        }
    }
}

/// What a parked command waits for.
struct KeyWait {
    /// The keys, in the database the command runs in.
    var keys: [DatabaseKey]
    /// When the wait ends, by the store's clock (Unix ms, as Redis judges blocking timeouts by `mstime`); nil to wait
    /// until woken.
    var deadline: Int64?
}
