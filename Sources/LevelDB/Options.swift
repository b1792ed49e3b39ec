import CLevelDB

/// How a database is opened. The C option objects are created once per database and reused for every call.
public struct Options: Sendable {
    /// Create the database directory if it does not exist.
    public var createIfMissing = true
    /// Size of LevelDB's in-memory write buffer (memtable) before it is flushed to a level-0 table.
    public var writeBufferSize = 64 << 20
    /// Capacity of the LRU cache of uncompressed blocks.
    public var blockCacheSize = 64 << 20
    /// Bits per key of the bloom filter that lets a lookup of a missing key skip reading table blocks; 0 disables it.
    public var bloomFilterBitsPerKey = 10
    /// Compress table blocks with Snappy.
    public var compression = true
    /// Upper bound on open table files.
    public var maxOpenFiles = 1000

    public init() {}
}

/// The C objects behind one open database; destroyed after the database is closed.
final class NativeOptions {
    let options: OpaquePointer
    let cache: OpaquePointer?
    let filterPolicy: OpaquePointer?
    let readOptions: OpaquePointer
    let writeOptions: OpaquePointer
    let syncWriteOptions: OpaquePointer

    init(_ settings: Options) {
        options = leveldb_options_create()
        leveldb_options_set_create_if_missing(options, settings.createIfMissing ? 1 : 0)
        leveldb_options_set_write_buffer_size(options, settings.writeBufferSize)
        leveldb_options_set_max_open_files(options, Int32(settings.maxOpenFiles))
        leveldb_options_set_compression(
            options, Int32(settings.compression ? leveldb_snappy_compression : leveldb_no_compression))
        cache = settings.blockCacheSize > 0 ? leveldb_cache_create_lru(settings.blockCacheSize) : nil
        if let cache { leveldb_options_set_cache(options, cache) }
        filterPolicy = settings.bloomFilterBitsPerKey > 0
            ? leveldb_filterpolicy_create_bloom(Int32(settings.bloomFilterBitsPerKey)) : nil
        if let filterPolicy { leveldb_options_set_filter_policy(options, filterPolicy) }
        readOptions = leveldb_readoptions_create()
        writeOptions = leveldb_writeoptions_create()
        syncWriteOptions = leveldb_writeoptions_create()
        leveldb_writeoptions_set_sync(syncWriteOptions, 1)
    }

    deinit {
        leveldb_writeoptions_destroy(syncWriteOptions)
        leveldb_writeoptions_destroy(writeOptions)
        leveldb_readoptions_destroy(readOptions)
        leveldb_options_destroy(options)
        if let filterPolicy { leveldb_filterpolicy_destroy(filterPolicy) }
        if let cache { leveldb_cache_destroy(cache) }
    }
}
