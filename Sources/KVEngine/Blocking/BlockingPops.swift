import KVStore
import NIOConcurrencyHelpers
import NIOCore
import RESP
import Synchronization

/// A connection blocked in BLPOP, BRPOP, BLMPOP, BLMOVE, BRPOPLPUSH, BZPOPMIN, BZPOPMAX or BZMPOP: what it waits for
/// and, once served, its reply.
///
/// Served as Redis serves it: by the connection whose command made one of its keys a non-empty list (a sorted set,
/// for the sorted set pops), under that command's lease and right after it (for MULTI, after EXEC), in the order clients blocked. The pop is that lease's
/// write, committed before the blocked connection is woken to send the reply it was given; the blocked connection
/// holds no lease while it waits.
final class BlockedPop: @unchecked Sendable {
    // @unchecked: `state` is read and written only under `BlockingPops`'s lock.

    /// What serving does with the first non-empty key.
    enum Operation: Sendable {
        /// A list pop or move.
        case list(ListOperation)
        /// BZPOPMIN/BZPOPMAX (`[key, member, score]`), or BZMPOP with its count (`[key, [[member, score], ...]]`):
        /// from the lowest scores, or the highest.
        case sortedSet(highest: Bool, count: Int, multiple: Bool)

        /// The type of value that serves it: a key of another type keeps the client blocked (Redis 7.0).
        var valueType: ValueType {
            switch self {
            case .list: .list
            case .sortedSet: .sortedSet
            }
        }
    }

    /// What serving a blocked list command does.
    enum ListOperation: Sendable {
        /// BLPOP/BRPOP (`[key, item]`), or BLMPOP with its count (`[key, [items]]`).
        case pop(ListEnd, count: Int, multiple: Bool)
        /// BLMOVE/BRPOPLPUSH: the item, pushed onto `destination`.
        case move(destination: ByteBuffer, from: ListEnd, to: ListEnd)
    }

    enum State {
        case waiting
        /// Popped by another connection's lease, not yet committed.
        case serving
        /// The reply, in the blocked connection's protocol.
        case served(ByteBuffer)
        /// CLIENT UNBLOCK: as a timeout, or with `-UNBLOCKED`.
        case unblocked(error: Bool)
        case timedOut
    }

    let handle: ClientHandle
    /// The database the client blocked in: only its keys serve it.
    let database: UInt32
    let keys: [ByteBuffer]
    let operation: Operation
    let version: ProtocolVersion
    /// Arrival order, for fairness across keys and after a failed commit.
    let sequence: UInt64
    var state = State.waiting

    init(
        handle: ClientHandle, database: UInt32, keys: [ByteBuffer], operation: Operation, version: ProtocolVersion,
        sequence: UInt64
    ) {
        self.handle = handle
        self.database = database
        self.keys = keys.map { ByteBuffer(buffer: $0) }  // no request buffer pinned while blocked
        self.operation = operation
        self.version = version
        self.sequence = sequence
    }
}

/// The clients blocked on list and sorted set keys, in arrival order per key, and the keys changed since they were last looked at
/// (`ready`). Costs a write one relaxed load (`isWaiting`) when nobody is blocked.
final class BlockingPops: @unchecked Sendable {
    // @unchecked: every field below the lock is used under it.
    private let lock = NIOLock()
    private var queues: [DatabaseKey: [BlockedPop]] = [:]
    private var byClient: [Int: BlockedPop] = [:]
    private var ready: [DatabaseKey] = []
    private var readySet = Set<DatabaseKey>()
    private var nextSequence: UInt64 = 0
    private let blockedCount = Atomic<Int>(0)
    private let readyCount = Atomic<Int>(0)

    /// Whether any client is blocked (the keyspace observer then reports changed keys).
    @inline(__always) var isWaiting: Bool { blockedCount.load(ordering: .relaxed) > 0 }
    /// Whether a changed key may serve someone.
    @inline(__always) var hasReady: Bool { readyCount.load(ordering: .relaxed) > 0 }

    /// Blocks a client on `keys`.
    func block(
        _ handle: ClientHandle, database: UInt32, keys: [ByteBuffer], operation: BlockedPop.Operation,
        version: ProtocolVersion
    ) -> BlockedPop {
        lock.withLock {
            nextSequence &+= 1
            let pop = BlockedPop(
                handle: handle, database: database, keys: keys, operation: operation, version: version,
                sequence: nextSequence)
            enqueue(pop)
            return pop
        }
    }

    /// A key changed (under the store's lock): if someone is blocked on it, serving looks at it after the command.
    func keyChanged(_ key: DatabaseKey) {
        lock.withLock {
            guard queues[key] != nil, readySet.insert(key).inserted else { return }
            ready.append(DatabaseKey(key.database, ByteBuffer(buffer: key.key)))
            readyCount.store(ready.count, ordering: .relaxed)
        }
    }

    /// SWAPDB (under the store's lock): every key someone is blocked on in these databases may now hold a list.
    func databasesChanged(_ databases: [UInt32]) {
        lock.withLock {
            for key in queues.keys where databases.contains(key.database) && readySet.insert(key).inserted {
                ready.append(key)
            }
            readyCount.store(ready.count, ordering: .relaxed)
        }
    }

    /// The keys changed since the last call, in the order they changed.
    func takeReady() -> [DatabaseKey] {
        lock.withLock {
            defer {
                ready.removeAll()
                readySet.removeAll()
                readyCount.store(0, ordering: .relaxed)
            }
            return ready
        }
    }

    /// The client blocked longest on `key` for a value of `type`, marked as being served and taken out of every
    /// queue; nil when none.
    func takeFirst(waitingOn key: DatabaseKey, for type: ValueType) -> BlockedPop? {
        lock.withLock {
            guard let pop = queues[key]?.first(where: { $0.operation.valueType == type }) else { return nil }
            dequeue(pop)
            pop.state = .serving
            return pop
        }
    }

    /// Puts back a client `takeFirst` gave but that could not be served (or whose pop was not committed), in its
    /// arrival place.
    func putBack(_ pop: BlockedPop) {
        lock.withLock {
            guard case .serving = pop.state else { return }
            pop.state = .waiting
            enqueue(pop)
        }
    }

    /// Ends a client's wait with a reply for it (its pop committed, or an error), and wakes it.
    func finishServing(_ pop: BlockedPop, reply: ByteBuffer) {
        lock.withLock { pop.state = .served(reply) }
        pop.handle.wake()
    }

    /// The blocked command runs again (woken, or at its deadline): how its wait ended, or `.waiting` to wait on.
    /// A client still waiting past its deadline stops waiting (`.timedOut`).
    func resume(_ pop: BlockedPop, timedOut: Bool) -> BlockedPop.State {
        lock.withLock {
            if case .waiting = pop.state, timedOut {
                dequeue(pop)
                pop.state = .timedOut
            }
            return pop.state
        }
    }

    /// Drops a client's wait (it disconnected, or RESET).
    func cancel(_ pop: BlockedPop) {
        lock.withLock {
            if case .waiting = pop.state { dequeue(pop) }
            pop.state = .timedOut
        }
    }

    /// CLIENT UNBLOCK: ends the client's wait as a timeout, or with an error.
    /// - Returns: whether the client was blocked.
    func unblock(clientID: Int, error: Bool) -> Bool {
        let pop: BlockedPop? = lock.withLock {
            guard let pop = byClient[clientID], case .waiting = pop.state else { return nil }
            dequeue(pop)
            pop.state = .unblocked(error: error)
            return pop
        }
        pop?.handle.wake()
        return pop != nil
    }

    /// Under the lock.
    private func enqueue(_ pop: BlockedPop) {
        for name in pop.keys {
            let key = DatabaseKey(pop.database, name)
            guard !(queues[key]?.contains { $0 === pop } ?? false) else { continue }
            var queue = queues[key, default: []]
            let place = queue.firstIndex { $0.sequence > pop.sequence } ?? queue.endIndex
            queue.insert(pop, at: place)
            queues[key] = queue
        }
        byClient[pop.handle.id] = pop
        blockedCount.store(byClient.count, ordering: .relaxed)
    }

    /// Under the lock.
    private func dequeue(_ pop: BlockedPop) {
        for name in pop.keys {
            let key = DatabaseKey(pop.database, name)
            guard var queue = queues[key] else { continue }
            queue.removeAll { $0 === pop }
            queues[key] = queue.isEmpty ? nil : queue
        }
        if byClient[pop.handle.id] === pop { byClient[pop.handle.id] = nil }
        blockedCount.store(byClient.count, ordering: .relaxed)
    }
}
