import LevelDB
import NIOCore

/// Dropped collections and their collection in the background.
///
/// Deleting a collection (DEL, UNLINK, an overwrite, expiry, FLUSHDB, PDEL, RENAME over it) removes its record and
/// writes, in the same batch, a garbage entry naming its generation:
/// ```
///   'g' + BE64 first generation  →  BE64 end generation (exclusive) + BE64 elements (estimated)
/// ```
/// so the command is O(1) whatever the collection's size. Its elements (`'c' + generation ...`) are unreachable at
/// once — reads only ever seek a live record's generation — and the collector deletes them later in small chunks
/// (`collectGarbage`), each under a lease of its own, then compacts their span so later seeks do not step over the
/// deletion markers. LevelDB has no compaction filter to do this for us. Every type is collected the same way: an
/// entry covers every element kind of its generations.
extension Keyspace {
    /// Stages the garbage entry of a dropped collection.
    func dropCollection(_ generation: UInt64, elements: Int) {
        var key = [StorageLayout.garbagePrefix]
        withUnsafeBytes(of: generation.bigEndian) { key.append(contentsOf: $0) }
        var value: [UInt8] = []
        withUnsafeBytes(of: (generation &+ 1).bigEndian) { value.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(max(elements, 0)).bigEndian) { value.append(contentsOf: $0) }
        batch.put(key, value)
        garbageCollections += 1
        garbageElements += max(elements, 0)
    }

    /// Deletes up to `limit` elements of dropped collections, oldest generation first, and commits. When the first
    /// garbage entry's span is empty its entry goes too.
    /// - Returns: the elements deleted, and the LevelDB span of an entry finished in this call (to compact, which
    ///   the caller does without the lock), if any.
    public func collectGarbage(limit: Int) throws -> (deleted: Int, finished: (start: [UInt8], end: [UInt8])?) {
        assertLeased()
        let iterator = database.makeIterator()
        iterator.seek([StorageLayout.garbagePrefix])
        guard iterator.isValid, iterator.key.first == StorageLayout.garbagePrefix, iterator.key.count == 9,
            iterator.value.count >= 16
        else {
            try iterator.checkError()
            return (0, nil)
        }
        let entryKey = Array(iterator.key)
        let first = RecordFormat.bigEndian64(iterator.key, at: 1)
        let end = RecordFormat.bigEndian64(iterator.value, at: 0)
        let estimate = Int(truncatingIfNeeded: RecordFormat.bigEndian64(iterator.value, at: 8))
        let start = ElementLayout.collectionPrefix(first)
        let stop = ElementLayout.collectionPrefix(end)
        let resume = collectorResume.flatMap { compareBytes($0, start) >= 0 && compareBytes($0, stop) < 0 ? $0 : nil }

        let elements = database.makeIterator()
        elements.seek(resume ?? start)
        var deleted = 0
        var last: [UInt8]?
        while deleted < limit, elements.isValid, elements.key.first == StorageLayout.elementPrefix,
            stop.withUnsafeBytes({ compareBytes(elements.key, $0) < 0 })
        {
            batch.delete(key: elements.key)
            last = Array(elements.key)
            deleted += 1
            elements.next()
        }
        try elements.checkError()
        let done = deleted < limit
        if done {
            batch.delete(entryKey)
            garbageCollections -= 1
            garbageElements -= min(garbageElements, estimate)
            collectorResume = nil
        } else if let last {
            collectorResume = last + [0]
            garbageElements -= min(garbageElements, deleted, estimate)
        }
        try commit()
        return (deleted, done ? (start, stop) : nil)
    }

    /// Reads the generation counter and the collector's backlog.
    func loadCollectionState() throws {
        generation = try database.get(StorageLayout.generationKey).flatMap { bytes in
            bytes.count == 8 ? bytes.withUnsafeBytes { RecordFormat.bigEndian64($0, at: 0) } : nil
        } ?? 0
        committedGeneration = generation
        var collections = 0
        var elements = 0
        let iterator = database.makeIterator()
        iterator.seek([StorageLayout.garbagePrefix])
        while iterator.isValid, iterator.key.first == StorageLayout.garbagePrefix {
            collections += 1
            if iterator.value.count >= 16 {
                elements += Int(truncatingIfNeeded: RecordFormat.bigEndian64(iterator.value, at: 8))
            }
            iterator.next()
        }
        try iterator.checkError()
        (garbageCollections, garbageElements) = (collections, elements)
        committedGarbage = (collections, elements)
    }

    /// Adds the generation counter to the pending batch when it changed.
    func stageCollectionState() {
        guard generation != committedGeneration else { return }
        withUnsafeBytes(of: generation.bigEndian) { encoded in
            StorageLayout.generationKey.withUnsafeBytes { batch.put(key: $0, value: encoded) }
        }
    }
}

extension Store {
    /// Deletes the elements of dropped collections, `chunkSize` at a time, each chunk under a lease of its own so
    /// commands keep flowing between chunks, until none are left or `maximum` were deleted. A finished collection's
    /// span is compacted without the lock.
    /// - Returns: the number of elements deleted.
    @discardableResult
    public func collectGarbage(chunkSize: Int = 1024, maximum: Int = .max) throws -> Int {
        var total = 0
        while total < maximum {
            let (deleted, finished) = try withKeyspace { try $0.collectGarbage(limit: chunkSize) }
            total += deleted
            if let finished { compactOutsideLease(start: finished.start, end: finished.end) }
            // Nothing left: no entry was found (a chunk below the limit always finishes its entry).
            if deleted == 0 && finished == nil { break }
        }
        return total
    }

    /// The number of dropped collections the collector has not finished, and their elements (estimated).
    public var garbageBacklog: (collections: Int, elements: Int) {
        (try? withKeyspace { ($0.garbageCollections, $0.garbageElements) }) ?? (0, 0)
    }
}

/// The background collector: every `interval` it deletes the elements of dropped collections (see
/// `Keyspace.collectGarbage`), a chunk per lease.
public struct GarbageCollector: Sendable {
    public let store: Store
    /// Pause between passes.
    public var interval: Duration
    /// Elements deleted per lock acquisition.
    public var chunkSize: Int

    public init(store: Store, interval: Duration = .milliseconds(100), chunkSize: Int = 1024) {
        self.store = store
        self.interval = interval
        self.chunkSize = chunkSize
    }

    /// Collects until the task is cancelled. A failed pass is reported to `onError` and retried on the next one.
    public func run(onError: @Sendable (any Error) -> Void = { _ in }) async {
        while !Task.isCancelled {
            do { try store.collectGarbage(chunkSize: chunkSize) } catch { onError(error) }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
