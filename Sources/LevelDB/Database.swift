import CLevelDB
import Synchronization

/// An open LevelDB database. LevelDB's own handle is thread-safe, so one `Database` is shared by every event loop.
public final class Database: @unchecked Sendable {
    let pointer: OpaquePointer
    private let native: NativeOptions
    /// The directory the database lives in.
    public let path: String
    /// Writes still to fail on purpose (`failNextWrites`); one relaxed load per write when zero.
    private let injectedFailures = Atomic<Int>(0)

    /// Opens (creating if asked) the database at `path`.
    /// - Throws: `LevelDBError`, for example when another process holds the directory's LOCK.
    public init(path: String, options: Options = Options()) throws(LevelDBError) {
        let native = NativeOptions(options)
        let opened = try LevelDBError.check { leveldb_open(native.options, path, $0) }
        guard let opened else { throw LevelDBError("leveldb_open returned no database") }
        self.pointer = opened
        self.native = native
        self.path = path
    }

    private var isClosed = false

    deinit {
        // Iterators and snapshots hold a strong reference to the database, so none is alive here.
        close()
    }

    /// Closes the database, releasing its LOCK. Only call when no other thread uses it; later calls do nothing.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        leveldb_close(pointer)
    }

    // MARK: Reads

    /// Looks `key` up and, when found, hands its value to `body`; the bytes are freed when `body` returns.
    /// This lets a caller copy the value exactly once, straight to where it is needed.
    /// - Returns: `body`'s result, or nil when the key does not exist.
    public func withValue<R>(
        forKey key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        var length = 0
        let value = try LevelDBError.check { leveldb_get(pointer, native.readOptions, key.levelDBPointer, key.count, &length, $0) }
        guard let value else { return nil }
        defer { leveldb_free(value) }
        return try body(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// The value stored under `key` as a byte array, or nil.
    public func get<K: Sequence<UInt8>>(_ key: K) throws -> [UInt8]? {
        try withBytes(key) { k in try withValue(forKey: k) { Array($0) } }
    }

    /// An iterator over the live database.
    public func makeIterator() -> Iterator {
        Iterator(database: self, readOptions: native.readOptions)
    }

    /// A consistent view of the database as of now.
    public func makeSnapshot() -> Snapshot {
        Snapshot(database: self)
    }

    // MARK: Writes

    /// Stores `value` under `key`.
    public func put<K: Sequence<UInt8>, V: Sequence<UInt8>>(_ key: K, _ value: V, sync: Bool = false) throws(LevelDBError) {
        let batch = WriteBatch()
        batch.put(key, value)
        try write(batch, sync: sync)
    }

    /// Removes `key`; removing a missing key is not an error.
    public func delete<K: Sequence<UInt8>>(_ key: K, sync: Bool = false) throws(LevelDBError) {
        let batch = WriteBatch()
        batch.delete(key)
        try write(batch, sync: sync)
    }

    /// Applies every operation of `batch` atomically.
    /// - Parameter sync: when true, the write-ahead log is fsynced before this returns.
    public func write(_ batch: WriteBatch, sync: Bool = false) throws(LevelDBError) {
        if injectedFailures.load(ordering: .relaxed) > 0 {
            injectedFailures.wrappingSubtract(1, ordering: .relaxed)
            throw LevelDBError("IO error: injected write failure: No space left on device")
        }
        let options = sync ? native.syncWriteOptions : native.writeOptions
        try LevelDBError.check { leveldb_write(pointer, options, batch.pointer, $0) }
    }

    /// Forces the write-ahead log to disk, making every write acknowledged so far durable.
    /// An empty synchronous batch goes through LevelDB's writer queue, so it also group-commits with concurrent writers.
    public func sync() throws(LevelDBError) {
        try write(WriteBatch(), sync: true)
    }

    /// Makes the next `count` writes fail as they would on a full disk, without touching the disk: for tests of what
    /// a failed commit does to replies, counts and recovery.
    package func failNextWrites(_ count: Int) {
        injectedFailures.store(count, ordering: .relaxed)
    }

    // MARK: Maintenance

    /// Compacts the key range `[start, end]` (nil meaning unbounded), reclaiming space of deleted entries.
    public func compactRange(start: [UInt8]? = nil, end: [UInt8]? = nil) {
        func call(_ s: UnsafeRawBufferPointer?, _ e: UnsafeRawBufferPointer?) {
            leveldb_compact_range(pointer, s?.levelDBPointer, s?.count ?? 0, e?.levelDBPointer, e?.count ?? 0)
        }
        switch (start, end) {
        case (nil, nil): call(nil, nil)
        case let (s?, nil): s.withUnsafeBytes { call($0, nil) }
        case let (nil, e?): e.withUnsafeBytes { call(nil, $0) }
        case let (s?, e?): s.withUnsafeBytes { sp in e.withUnsafeBytes { call(sp, $0) } }
        }
    }

    /// A LevelDB property such as `leveldb.stats` or `leveldb.approximate-memory-usage`.
    public func property(_ name: String) -> String? {
        guard let value = leveldb_property_value(pointer, name) else { return nil }
        defer { leveldb_free(value) }
        return String(cString: value)
    }

    /// Deletes the database's files at `path`.
    public static func destroy(path: String) throws(LevelDBError) {
        let options = leveldb_options_create()
        defer { leveldb_options_destroy(options) }
        try LevelDBError.check { leveldb_destroy_db(options, path, $0) }
    }
}
