import NIOCore

/// Told of every change to the keyspace, in the order the changes are applied, and of what became of them.
///
/// The change callbacks, `changesCommitted`/`changesDiscarded` and `leaseEnding` run while the store's lock is held:
/// an observer only records there (and may invalidate WATCHes, which must happen before any other command can run).
/// What is to reach other connections — keyspace notifications, change-log events for watchers — goes out in
/// `deliverCommittedChanges`, called after the lock is released, only for changes that LevelDB accepted, and a whole
/// lease at a time, so a revision committed in several batches (PDEL, FLUSHDB) reaches watchers whole.
public protocol KeyspaceObserver: AnyObject, Sendable {
    /// `key` of logical database `database` did not exist and is being written (told before `keyModified`, as
    /// Redis emits `new` before `set`).
    func keyCreated(_ key: ByteBuffer, database: UInt32)
    /// `key` of logical database `database` was written or deleted by a command.
    func keyModified(_ key: ByteBuffer, database: UInt32)
    /// `key` of logical database `database` was removed because its expiry passed (found by a read or by the
    /// background sweeper).
    func keyExpired(_ key: ByteBuffer, database: UInt32)
    /// Every key of logical database `database` was removed (FLUSHDB; FLUSHALL tells it of each database);
    /// `removedKeys` is how many there were, expired ones not yet removed included.
    func keyspaceCleared(removedKeys: Int, database: UInt32)
    /// SWAPDB: logical databases `first` and `second` now hold each other's keys.
    func databasesSwapped(_ first: UInt32, _ second: UInt32)
    /// Every change told since the last commit is now in LevelDB.
    func changesCommitted()
    /// Every change told since the last commit was discarded: its commit failed, so it never happened.
    func changesDiscarded()
    /// Whether `changeLogged` should be told of change-log events (someone watches); asked for every logged change.
    var wantsChangeEvents: Bool { get }
    /// A change-log event was staged (told before its commit, like the other changes).
    func changeLogged(_ event: ChangeEvent)
    /// The lease ends (its last commit is done): what it committed becomes deliverable. `commitSequence` counts the
    /// store's successful commits so far; `Store.onSync` reports how many are durable.
    /// - Returns: whether `deliverCommittedChanges` has something to deliver.
    func leaseEnding(commitSequence: UInt64) -> Bool
    /// Publishes committed changes; called without the lock. Calls may come from several threads at once: the
    /// observer delivers in commit order.
    func deliverCommittedChanges()
}

extension KeyspaceObserver {
    public func keyCreated(_ key: ByteBuffer, database: UInt32) {}
    public func databasesSwapped(_ first: UInt32, _ second: UInt32) {}
    public func changesCommitted() {}
    public func changesDiscarded() {}
    public var wantsChangeEvents: Bool { false }
    public func changeLogged(_ event: ChangeEvent) {}
    public func leaseEnding(commitSequence: UInt64) -> Bool { false }
    public func deliverCommittedChanges() {}
}
