import LevelDB
import NIOCore

/// A collection key opened by a command: its metadata, and what the command changes until `Keyspace.save` stores it.
///
/// A command opens the collection (`Keyspace.collection`, `collectionForWrite`, or `createCollection` for a new one),
/// reads and writes its elements through the keyspace, keeps `count` exact as it adds and removes them, and calls
/// `save` once at the end: the record (count, expiry, revisions) is written once per command, whatever the number of
/// elements it touched. Elements and record go into the same `WriteBatch`.
public struct StoredCollection {
    public let key: ByteBuffer
    public let type: ValueType
    public var metadata: CollectionMetadata
    /// The key's expiry, Unix ms (0 for none); `save` stores a change and logs it.
    public var expireAt: Int64
    /// The record as the command found it; nil when the command creates the collection.
    var stored: (revision: KeyRevision, expireAt: Int64)?
    /// The key's revisions once the command has changed it (its events carry them); nil before its first change.
    var revision: KeyRevision?
    /// Set when the collection replaces a value the command deleted first (`replaceWithCollection`): storing it is
    /// an overwrite, not the creation of a key.
    var replacing = false

    /// Number of elements.
    public var count: Int {
        get { metadata.count }
        set { metadata.count = newValue }
    }

    /// Whether the key existed before the command.
    public var existed: Bool { stored != nil }

    /// Whether the collection may hold elements already: it existed, or the command has written to it. A new one
    /// does not, so a command filling it can skip looking its elements up.
    public var mayHaveElements: Bool { stored != nil || revision != nil }
}

extension Keyspace {
    // MARK: Opening

    /// The live collection at `key` for a read, counting a keyspace hit or miss.
    /// - Returns: nil when the key does not exist.
    /// - Throws: `WrongTypeError` when the key holds another type.
    public func collection(_ key: ByteBuffer, _ type: ValueType) throws -> StoredCollection? {
        let found = try collectionForWrite(key, type)
        if found == nil { misses += 1 } else { hits += 1 }
        return found
    }

    /// The live collection at `key` for a command that changes it, without counting a hit or miss (Redis's
    /// `lookupKeyWrite`).
    /// - Returns: nil when the key does not exist.
    /// - Throws: `WrongTypeError` when the key holds another type.
    public func collectionForWrite(_ key: ByteBuffer, _ type: ValueType) throws -> StoredCollection? {
        guard let summary = try summary(of: key) else { return nil }
        guard summary.type == type else { throw WrongTypeError(found: summary.type) }
        guard let metadata = summary.metadata else { throw CorruptCollectionError(key: Array(key.readableBytesView)) }
        return StoredCollection(
            key: key, type: type, metadata: metadata, expireAt: summary.expireAt,
            stored: (summary.revision, summary.expireAt), revision: nil)
    }

    /// A new, empty collection for `key`, with a generation of its own. The key must not exist (delete it first):
    /// `save` stores the collection once it has elements.
    public func createCollection(_ key: ByteBuffer, _ type: ValueType) -> StoredCollection {
        generation &+= 1
        return StoredCollection(
            key: key, type: type, metadata: CollectionMetadata(generation: generation), expireAt: 0, stored: nil,
            revision: nil)
    }

    /// A new, empty collection that replaces whatever `key` holds (the STORE forms' destination, as Redis's
    /// `setKey`): the old value is deleted now (logged as `del`, its elements handed to the collector), and storing
    /// the new one overwrites the key rather than creating it (no `new` notification). Saved empty, the key stays
    /// deleted.
    /// - Returns: the collection, and whether the key held a value.
    public func replaceWithCollection(_ key: ByteBuffer, _ type: ValueType) throws -> (StoredCollection, replaced: Bool) {
        let replaced = try delete(key)
        var collection = createCollection(key, type)
        collection.replacing = replaced
        return (collection, replaced)
    }

    // MARK: Elements

    /// Looks up one element and hands its value to `body`.
    /// - Returns: `body`'s result, or nil when the collection has no such element.
    public func element<R>(
        of collection: StoredCollection, kind: UInt8, _ element: UnsafeRawBufferPointer,
        _ body: (_ value: UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        assertLeased()
        ElementLayout.encode(generation: collection.metadata.generation, kind: kind, element: element, into: &keyScratch)
        if !pendingElements.isEmpty, let entry = pendingElements[keyScratch] {
            switch entry {
            case .deleted: return nil
            case .value(let value): return try value.withUnsafeReadableBytes(body)
            }
        }
        return try keyScratch.withUnsafeReadableBytes { storageKey in try database.withValue(forKey: storageKey, body) }
    }

    /// `element(of:kind:_:_:)` for an element given as a buffer.
    public func element<R>(
        of collection: StoredCollection, kind: UInt8, _ element: ByteBuffer,
        _ body: (_ value: UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        try element.withUnsafeReadableBytes { try self.element(of: collection, kind: kind, $0, body) }
    }

    /// Whether the collection has `element`.
    public func hasElement(of collection: StoredCollection, kind: UInt8, _ element: UnsafeRawBufferPointer) throws -> Bool {
        try self.element(of: collection, kind: kind, element) { _ in true } ?? false
    }

    /// Whether the collection has `element`.
    public func hasElement(of collection: StoredCollection, kind: UInt8, _ element: ByteBuffer) throws -> Bool {
        try element.withUnsafeReadableBytes { try hasElement(of: collection, kind: kind, $0) }
    }

    /// Writes one element, and logs it as `event` (with the value when the operation carries one). The caller keeps
    /// `collection.count` exact.
    public func putElement(
        _ collection: inout StoredCollection, kind: UInt8, _ element: ByteBuffer, value: ByteBuffer,
        event: ChangeOperation?
    ) {
        let revision = touch(&collection)
        element.withUnsafeReadableBytes { elementBytes in
            stageElement(collection, kind: kind, elementBytes, value: value)
            if let event {
                logElementEvent(
                    event, collection, revision, element: elementBytes, value: event.carriesValue ? value : nil)
            }
        }
    }

    /// Deletes one element, and logs it as `event`. The caller keeps `collection.count` exact.
    public func removeElement(
        _ collection: inout StoredCollection, kind: UInt8, _ element: ByteBuffer, event: ChangeOperation?
    ) {
        let revision = touch(&collection)
        element.withUnsafeReadableBytes { elementBytes in
            stageElement(collection, kind: kind, elementBytes, value: nil)
            if let event { logElementEvent(event, collection, revision, element: elementBytes, value: nil) }
        }
    }

    /// Stages one element's write (`value`) or deletion (nil) in the batch and its overlay, unlogged.
    func stageElement(
        _ collection: StoredCollection, kind: UInt8, _ element: UnsafeRawBufferPointer, value: ByteBuffer?
    ) {
        assertLeased()
        ElementLayout.encode(generation: collection.metadata.generation, kind: kind, element: element, into: &keyScratch)
        if let value {
            keyScratch.withUnsafeReadableBytes { k in value.withUnsafeReadableBytes { batch.put(key: k, value: $0) } }
            pendingElements[ByteBuffer(buffer: keyScratch)] = .value(value)
        } else {
            keyScratch.withUnsafeReadableBytes { batch.delete(key: $0) }
            pendingElements[ByteBuffer(buffer: keyScratch)] = .deleted
        }
    }

    /// Visits the elements of one kind whose bytes lie in `range`, in byte order (or reversed), with their values.
    /// The batch's writes are merged in; the buffers are valid only during the call. One seek, then one step per
    /// element visited: HGETALL of a million fields streams into the reply without building a list first.
    /// - Parameter body: returns false to stop.
    public func forEachElement(
        of collection: StoredCollection, kind: UInt8, in range: KeyRange = .all, order: IterationOrder = .ascending,
        _ body: (_ element: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        assertLeased()
        let prefix = ElementLayout.kindPrefix(collection.metadata.generation, kind)
        var overlay: [(key: ByteBuffer, entry: PendingElement)] = []
        if !pendingElements.isEmpty {
            for (storageKey, entry) in pendingElements.all {
                let matches = storageKey.withUnsafeReadableBytes { bytes in
                    bytes.starts(with: prefix) && range.contains(UnsafeRawBufferPointer(rebasing: bytes[prefix.count...]))
                }
                if matches { overlay.append((storageKey.getSlice(at: storageKey.readerIndex + prefix.count, length: storageKey.readableBytes - prefix.count)!, entry)) }
            }
            overlay = sortedOverlay(overlay, order: order)
        }
        try mergedScan(
            prefix: prefix, range: range, order: order, overlay: overlay, stored: body,
            pending: { element, entry in
                guard case .value(let value) = entry else { return true }
                return try value.withUnsafeReadableBytes { try body(element, $0) }
            })
    }

    /// The first element of one kind in `range` (the last with `.descending`), or nil.
    public func firstElement(
        of collection: StoredCollection, kind: UInt8, in range: KeyRange = .all, order: IterationOrder = .ascending
    ) throws -> [UInt8]? {
        var found: [UInt8]?
        try forEachElement(of: collection, kind: kind, in: range, order: order) { element, _ in
            found = Array(element)
            return false
        }
        return found
    }

    /// A random element of one kind, or nil when there is none, found by descending the element bytes as
    /// `randomKey` does: O(element length) seeks, every element possible, not exactly uniform.
    public func randomElement(of collection: StoredCollection, kind: UInt8) throws -> [UInt8]? {
        try randomEntry { range, order in try firstElement(of: collection, kind: kind, in: range, order: order) }
    }

    // MARK: Storing

    /// Stores the collection's record after the command changed it: its count, expiry and revisions, once per
    /// command. A collection left with no elements is deleted (logged as `del`, as Redis deletes an emptied key); the
    /// command must have deleted every element itself then. An expiry change is logged as `pexpireat` or `persist`.
    /// Does nothing when nothing changed.
    public func save(_ collection: inout StoredCollection) throws {
        assertLeased()
        let key = collection.key
        let expiryChanged = collection.expireAt != (collection.stored?.expireAt ?? 0)
        guard collection.revision != nil || expiryChanged else { return }
        if collection.count <= 0 || (collection.expireAt > 0 && collection.expireAt <= now) {
            guard let stored = collection.stored else { return }
            let summary = RecordSummary(
                revision: stored.revision, type: collection.type, expireAt: stored.expireAt,
                metadata: collection.metadata)
            // An expiry already passed drops the elements; an emptied collection has none left.
            try remove(
                key, previousExpiry: stored.expireAt, previous: summary, operation: .delete,
                dropsElements: collection.count > 0)
            observer?.keyModified(key, database: selectedDatabase)
            return
        }
        let revision = touch(&collection)
        if expiryChanged && logsChanges {
            key.withUnsafeReadableBytes { keyBytes in
                logEvent(
                    nextEvent(), collection.expireAt > 0 ? .expireAt : .persist, key: keyBytes, value: nil,
                    expireAt: collection.expireAt, keyRevision: revision,
                    previousRevision: collection.stored?.revision.modified ?? 0, type: collection.type)
            }
        }
        stageRecord(
            key, value: collection.metadata.encoded, type: collection.type, expireAt: collection.expireAt,
            revision: revision, previousExpiry: collection.stored?.expireAt, announcesCreation: !collection.replacing)
        collection.stored = (revision, collection.expireAt)
    }

    // MARK: Revisions and events

    /// The collection's revisions for this command, taken at its first change.
    func touch(_ collection: inout StoredCollection) -> KeyRevision {
        if let revision = collection.revision { return revision }
        let current = takeRevision()
        let revision = KeyRevision(
            created: collection.stored?.revision.created ?? current, modified: current,
            version: (collection.stored?.revision.version ?? 0) &+ 1)
        collection.revision = revision
        return revision
    }

    func logElementEvent(
        _ operation: ChangeOperation, _ collection: StoredCollection, _ revision: KeyRevision,
        element: UnsafeRawBufferPointer, value: ByteBuffer?
    ) {
        let event = nextEvent()
        guard logsChanges else { return }
        collection.key.withUnsafeReadableBytes { keyBytes in
            let log = { (valueBytes: UnsafeRawBufferPointer?) in
                self.logEvent(
                    event, operation, key: keyBytes, element: element, value: valueBytes,
                    expireAt: collection.expireAt, keyRevision: revision,
                    previousRevision: collection.stored?.revision.modified ?? 0, type: collection.type)
            }
            if let value { value.withUnsafeReadableBytes { log($0) } } else { log(nil) }
        }
    }

    /// Logs that `destination` now holds what `source` held (RENAME of a collection), then `source`'s deletion.
    func logRename(from source: ByteBuffer, to destination: ByteBuffer, type: ValueType, revision: KeyRevision, expireAt: Int64, previousRevision: UInt64) {
        let event = nextEvent()
        guard logsChanges else { return }
        destination.withUnsafeReadableBytes { keyBytes in
            source.withUnsafeReadableBytes { sourceBytes in
                logEvent(
                    event, .rename, key: keyBytes, value: sourceBytes, expireAt: expireAt, keyRevision: revision,
                    previousRevision: previousRevision, type: type)
            }
        }
    }
}

extension Keyspace {
    /// A random entry of an ordered range, found one byte at a time: at each depth a byte between the smallest and
    /// largest present under the current prefix is picked, and the walk moves to the first entry at or after it.
    /// O(length) calls of `first`; every entry can be chosen, though not exactly equally likely.
    /// - Parameter first: the first entry of a range in an order, or nil when it holds none.
    func randomEntry(_ first: (KeyRange, IterationOrder) throws -> [UInt8]?) throws -> [UInt8]? {
        var prefix: [UInt8] = []
        while true {
            let range = KeyRange(prefix: prefix)
            guard let low = try first(range, .ascending), let high = try first(range, .descending) else { return nil }
            if low == high { return low }
            let depth = prefix.count
            var lowByte = low.count > depth ? Int(low[depth]) : -1
            if lowByte < 0 {
                // The prefix is itself an entry: it gets the slot just below the next entry's byte, as likely as a byte.
                var rest = range
                rest.restrict(after: low)
                lowByte = Int(try first(rest, .ascending)?[depth] ?? 0) - 1
            }
            let pick = Int.random(in: lowByte...Int(high[depth]))
            if pick == lowByte && low.count == depth { return low }
            var from = range
            from.restrict(from: prefix + [UInt8(max(pick, 0))])
            guard let next = try first(from, .ascending) else { return high }
            prefix.append(next[depth])
        }
    }
}

/// A collection record whose metadata cannot be decoded, or whose elements disagree with it: the database is damaged.
public struct CorruptCollectionError: Error, CustomStringConvertible, Sendable {
    public let key: [UInt8]

    public init(key: [UInt8]) {
        self.key = key
    }

    public var description: String {
        "corrupt collection record for key '\(String(decoding: key.prefix(64), as: UTF8.self))'"
    }
}
