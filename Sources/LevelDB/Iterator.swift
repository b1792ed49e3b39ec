import CLevelDB

/// A cursor over a database in key order. The key and value pointers it hands out are valid only until the next
/// move, so callers copy what they keep. Not thread-safe.
public final class Iterator {
    private let pointer: OpaquePointer
    // Keeps the database (and snapshot, if any) alive for as long as the iterator exists.
    private let database: Database
    private let owner: AnyObject?

    init(database: Database, readOptions: OpaquePointer, owner: AnyObject? = nil) {
        self.database = database
        self.owner = owner
        pointer = leveldb_create_iterator(database.pointer, readOptions)
    }

    deinit {
        leveldb_iter_destroy(pointer)
    }

    /// Whether the cursor is on an entry.
    public var isValid: Bool { leveldb_iter_valid(pointer) != 0 }

    public func seekToFirst() { leveldb_iter_seek_to_first(pointer) }
    public func seekToLast() { leveldb_iter_seek_to_last(pointer) }
    public func next() { leveldb_iter_next(pointer) }
    public func previous() { leveldb_iter_prev(pointer) }

    /// Moves to the first entry whose key is at or after `key`.
    public func seek(_ key: UnsafeRawBufferPointer) {
        leveldb_iter_seek(pointer, key.levelDBPointer, key.count)
    }

    /// Moves to the first entry whose key is at or after `key`.
    public func seek<K: Sequence<UInt8>>(_ key: K) {
        withBytes(key) { seek($0) }
    }

    /// The current key; valid until the next move. Only call while `isValid`.
    public var key: UnsafeRawBufferPointer {
        var length = 0
        let base = leveldb_iter_key(pointer, &length)
        return UnsafeRawBufferPointer(start: base, count: length)
    }

    /// The current value; valid until the next move. Only call while `isValid`.
    public var value: UnsafeRawBufferPointer {
        var length = 0
        let base = leveldb_iter_value(pointer, &length)
        return UnsafeRawBufferPointer(start: base, count: length)
    }

    /// Throws the error that stopped iteration early, if any (for example a corrupted block).
    public func checkError() throws(LevelDBError) {
        try LevelDBError.check { leveldb_iter_get_error(pointer, $0) }
    }
}

@available(*, unavailable)
extension Iterator: Sendable {}
