import NIOCore

/// Told of every change to the keyspace, in the order the changes are applied, and of what became of them.
///
/// The change callbacks and `changesCommitted`/`changesDiscarded` run while the store's lock is held: an observer
/// only records there (and may invalidate WATCHes, which must happen before any other command can run). What is to
/// reach other connections — keyspace notifications, later watch events — goes out in `deliverCommittedChanges`,
/// called after the lock is released, and only for changes that LevelDB accepted.
public protocol KeyspaceObserver: AnyObject, Sendable {
    /// `key` did not exist and is being written (told before `keyModified`, as Redis emits `new` before `set`).
    func keyCreated(_ key: ByteBuffer)
    /// `key` was written or deleted by a command.
    func keyModified(_ key: ByteBuffer)
    /// `key` was removed because its expiry passed (found by a read or by the background sweeper).
    func keyExpired(_ key: ByteBuffer)
    /// Every key was removed (FLUSHDB / FLUSHALL); `removedKeys` is how many there were, expired ones not yet
    /// removed included.
    func keyspaceCleared(removedKeys: Int)
    /// Every change told since the last commit is now in LevelDB.
    func changesCommitted()
    /// Every change told since the last commit was discarded: its commit failed, so it never happened.
    func changesDiscarded()
    /// Whether committed changes wait for `deliverCommittedChanges` (asked with the lock held, after the last commit
    /// of a lease).
    var hasCommittedChanges: Bool { get }
    /// Publishes committed changes; called without the lock. Calls may come from several threads at once: the
    /// observer delivers in commit order.
    func deliverCommittedChanges()
}

extension KeyspaceObserver {
    public func keyCreated(_ key: ByteBuffer) {}
    public func changesCommitted() {}
    public func changesDiscarded() {}
    public var hasCommittedChanges: Bool { false }
    public func deliverCommittedChanges() {}
}
