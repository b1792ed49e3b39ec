import NIOCore

/// RENAME and COPY for keys of any type.
extension Keyspace {
    /// Moves `source`'s value and expiry to `destination`, replacing whatever it held. A string is rewritten (logged as
    /// `set destination` then `del source`); a collection's record moves and its elements stay where they are, so
    /// renaming a collection of any size is O(1) (logged as `rename destination source`, then `del source`).
    /// - Returns: false when `source` does not exist.
    public func rename(_ source: ByteBuffer, to destination: ByteBuffer) throws -> Bool {
        guard let moved = try summary(of: source) else { return false }
        guard moved.type.isCollection else {
            guard let value = try lookup(source, { value, _ in ByteBuffer(bytes: value) }) else { return false }
            try set(
                destination, value: value, expireAt: moved.expireAt, previousExpiry: try expiry(of: destination),
                rawEncoding: try hasRawEncoding(source))
            try delete(source)
            return true
        }
        guard let metadata = moved.metadata else { throw CorruptCollectionError(key: Array(source.readableBytesView)) }
        let replaced = try summary(of: destination)
        if let replaced {
            // Replaced without an event of its own: the `rename` event says the destination now holds the source.
            try remove(destination, previousExpiry: replaced.expireAt, previous: replaced, operation: nil)
        }
        let current = takeRevision()
        let revision = KeyRevision(
            created: replaced?.revision.created ?? current, modified: current,
            version: (replaced?.revision.version ?? 0) &+ 1)
        logRename(
            from: source, to: destination, type: moved.type, revision: revision, expireAt: moved.expireAt,
            previousRevision: replaced?.revision.modified ?? 0)
        stageRecord(
            destination, value: metadata.encoded, type: moved.type, expireAt: moved.expireAt, revision: revision,
            previousExpiry: nil)
        // The elements now belong to the destination.
        try remove(source, previousExpiry: moved.expireAt, previous: moved, operation: .delete, dropsElements: false)
        observer?.keyModified(source, database: selectedDatabase)
        return true
    }

    /// Copies `source`'s value and expiry to `destination`, which must not exist (delete it first). A collection's
    /// elements are copied into a collection of its own (logged element by element, as `hset`/`sadd`), so the copy
    /// costs O(elements).
    /// - Parameter database: the logical database the copy goes to (COPY ... DB n); nil for the selected one.
    /// - Returns: false when `source` does not exist.
    public func copy(_ source: ByteBuffer, to destination: ByteBuffer, database: UInt32? = nil) throws -> Bool {
        guard let copied = try summary(of: source) else { return false }
        guard copied.type.isCollection, let metadata = copied.metadata else {
            guard let value = try lookup(source, { value, _ in ByteBuffer(bytes: value) }) else { return false }
            let rawEncoding = try hasRawEncoding(source)
            try withDatabase(database ?? selectedDatabase) {
                try set(destination, value: value, expireAt: copied.expireAt, previousExpiry: nil, rawEncoding: rawEncoding)
            }
            return true
        }
        // Elements are keyed by generation, not by key: read from anywhere, written into the copy's database.
        return try withDatabase(database ?? selectedDatabase) {
            try copyCollection(source, copied, metadata, to: destination)
        }
    }

    private func copyCollection(
        _ source: ByteBuffer, _ copied: RecordSummary, _ metadata: CollectionMetadata, to destination: ByteBuffer
    ) throws -> Bool {
        let original = StoredCollection(
            key: source, type: copied.type, metadata: metadata, expireAt: copied.expireAt,
            stored: (copied.revision, copied.expireAt), revision: nil)
        var copy = createCollection(destination, copied.type)
        let generation = copy.metadata.generation
        copy.metadata = metadata
        copy.metadata.generation = generation
        let events = copied.type.elementEvents
        for kind in copied.type.elementKinds {
            // Only the kind that holds the elements is logged; another (a sorted set's score index) is derived.
            let event: ChangeOperation? = events?.kind == kind ? events?.operation : nil
            try forEachElement(of: original, kind: kind) { element, value in
                if copied.type.eventsNameValues {
                    // A list's items keep their positions; the event names the item.
                    let revision = touch(&copy)
                    stageElement(copy, kind: kind, element, value: ByteBuffer(bytes: value))
                    if let event { logElementEvent(event, copy, revision, element: value, value: nil) }
                } else {
                    putElement(&copy, kind: kind, ByteBuffer(bytes: element), value: ByteBuffer(bytes: value), event: event)
                }
                return true
            }
        }
        copy.expireAt = copied.expireAt
        try save(&copy)
        return true
    }
}
