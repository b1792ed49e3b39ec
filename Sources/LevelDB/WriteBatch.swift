import CLevelDB

/// A set of puts and deletes that LevelDB applies atomically. Not thread-safe: build it on one thread.
public final class WriteBatch {
    private(set) var pointer: OpaquePointer
    /// Number of operations added since creation or the last `clear()`.
    public private(set) var count = 0
    /// Bytes of the keys and values added since creation or the last `clear()`: about the memory the batch holds.
    public private(set) var byteCount = 0

    public init() {
        pointer = leveldb_writebatch_create()
    }

    deinit {
        leveldb_writebatch_destroy(pointer)
    }

    /// Adds a put of `value` under `key`.
    public func put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        leveldb_writebatch_put(pointer, key.levelDBPointer, key.count, value.levelDBPointer, value.count)
        count += 1
        byteCount += key.count + value.count
    }

    /// Adds a put of `value` under `key`, for any contiguous byte collections.
    public func put<K: Sequence<UInt8>, V: Sequence<UInt8>>(_ key: K, _ value: V) {
        withBytes(key) { k in withBytes(value) { v in put(key: k, value: v) } }
    }

    /// Adds a delete of `key`.
    public func delete(key: UnsafeRawBufferPointer) {
        leveldb_writebatch_delete(pointer, key.levelDBPointer, key.count)
        count += 1
        byteCount += key.count
    }

    /// Adds a delete of `key`, for any contiguous byte collection.
    public func delete<K: Sequence<UInt8>>(_ key: K) {
        withBytes(key) { delete(key: $0) }
    }

    /// Empties the batch so it can be reused. LevelDB keeps the memory of the largest batch so far; past
    /// `retainedBytes` the batch is made anew instead, so one huge write does not pin its size for good.
    public func clear(retainedBytes: Int = .max) {
        if byteCount > retainedBytes {
            leveldb_writebatch_destroy(pointer)
            pointer = leveldb_writebatch_create()
        } else {
            leveldb_writebatch_clear(pointer)
        }
        count = 0
        byteCount = 0
    }
}

@available(*, unavailable)
extension WriteBatch: Sendable {}
