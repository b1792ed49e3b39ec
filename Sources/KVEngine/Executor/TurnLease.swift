import KVStore
import NIOCore

/// Group commit per event-loop turn: the first connection of a turn that needs the keyspace takes the store's lease,
/// the loop's other ready connections run under the same lease, and one task queued behind the turn's reads commits
/// everything in one LevelDB write and releases the lease; only then do those connections' replies go out.
///
/// Redis writes its AOF once per event-loop pass for the same reason: at `-P 1` with many clients, a commit (and a
/// lock hand-off between event loops) per request costs more than the request. Replies never get ahead of their
/// commit: each connection that ran under the lease is held (`Session.awaitsTurnCommit`) until `finish()`, which
/// first takes back, under the lock, the replies of a commit that failed (`UncommittedReplies`).
///
/// Used only on its event loop.
final class TurnLease: @unchecked Sendable {
    // @unchecked: every member is touched on `eventLoop` only.
    private let store: Store
    private let eventLoop: any EventLoop
    private let misconfError: () -> CommandError
    /// The keyspace while this loop holds the lease.
    private(set) var keyspace: Keyspace?
    /// The connections that ran under the lease, whose replies wait for its commit.
    private var sessions: [Session] = []

    init(store: Store, eventLoop: any EventLoop, misconfError: @escaping () -> CommandError) {
        self.store = store
        self.eventLoop = eventLoop
        self.misconfError = misconfError
    }

    /// The lease for `session`, taken for the rest of the turn if this loop does not hold it yet; `session`'s replies
    /// then wait for the turn's commit. Nil while the store is closed after a failed recovery.
    func acquire(for session: Session) -> Keyspace? {
        if keyspace == nil {
            guard let leased = store.beginHeldLease() else { return nil }
            keyspace = leased
            // Queued behind the reads of this turn: every connection ready now shares the commit.
            eventLoop.assumeIsolatedUnsafeUnchecked().execute { self.finish() }
        }
        if !session.awaitsTurnCommit {
            session.awaitsTurnCommit = true
            sessions.append(session)
        }
        return keyspace
    }

    /// Commits the turn's writes, takes back the replies of a failed commit, releases the lease and tells each held
    /// connection its replies may go (after an fsync when durability is `high` and data was written). Does nothing
    /// when the lease is not held, so an early call (a connection that closes) leaves the queued one nothing to do.
    func finish() {
        guard keyspace != nil else { return }
        let held = sessions
        sessions.removeAll(keepingCapacity: true)
        let misconfError = self.misconfError
        let commit = store.endHeldLease { keyspace, commit in
            for session in held {
                if commit.failure != nil { session.uncommittedReplies.replaceWithErrors(session, misconfError()) }
                session.uncommittedReplies.commitAttempted(keyspace, session, misconfError)
            }
        }
        keyspace = nil
        for session in held {
            session.awaitsTurnCommit = false
            let wroteData = commit.wrote || session.repliesReportCommittedWrite
            session.repliesReportCommittedWrite = false
            session.replyOutput?.turnCommitted(wroteData: wroteData)
        }
    }
}

/// Where a connection's held replies go once the turn's commit is done.
public protocol TurnCommitListener: AnyObject {
    /// The writes the connection's held replies depend on are committed (or their replies were replaced by errors):
    /// they may be sent, after an fsync first when `wroteData` and durability is `high`.
    func turnCommitted(wroteData: Bool)
}
