import NIOCore

/// Told of every change to the keyspace, while the store's lock is held, in the order the changes are applied.
/// WATCH uses it to invalidate transactions; keyspace notifications use `keyCreated` and `keyExpired` for the `new`
/// and `expired` events.
public protocol KeyspaceObserver: AnyObject {
    /// `key` did not exist and is being written (told before `keyModified`, as Redis emits `new` before `set`).
    func keyCreated(_ key: ByteBuffer)
    /// `key` was written or deleted by a command.
    func keyModified(_ key: ByteBuffer)
    /// `key` was removed because its expiry passed (found by a read or by the background sweeper).
    func keyExpired(_ key: ByteBuffer)
    /// Every key was removed (FLUSHDB / FLUSHALL); `removedKeys` is how many there were, expired ones not yet
    /// removed included.
    func keyspaceCleared(removedKeys: Int)
}

extension KeyspaceObserver {
    public func keyCreated(_ key: ByteBuffer) {}
}
