import CLevelDB

/// A consistent, point-in-time view of a database. Reads and iterators created from it ignore later writes.
/// Release it (or let it go out of scope) before the database closes.
public final class Snapshot: @unchecked Sendable {
    let pointer: OpaquePointer
    let readOptions: OpaquePointer
    private let database: Database

    init(database: Database) {
        self.database = database
        pointer = leveldb_create_snapshot(database.pointer)
        readOptions = leveldb_readoptions_create()
        leveldb_readoptions_set_snapshot(readOptions, pointer)
        // A full scan through a snapshot (exports, backups) should not evict the hot working set from the cache.
        leveldb_readoptions_set_fill_cache(readOptions, 0)
    }

    deinit {
        leveldb_readoptions_destroy(readOptions)
        leveldb_release_snapshot(database.pointer, pointer)
    }

    /// An iterator over the database as it was when the snapshot was taken.
    public func makeIterator() -> Iterator {
        Iterator(database: database, readOptions: readOptions, owner: self)
    }
}
