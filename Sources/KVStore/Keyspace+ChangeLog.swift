import LevelDB
import NIOCore

/// Revisions and the change log: every command that changes data takes the next store revision, each of its changes
/// becomes an event of that revision (`r`), indexed by key (`h`), in the same `WriteBatch` as the data itself, so a
/// crash never leaves data without its events or events without their data.
extension Keyspace {
    /// The oldest revision the log can answer for: none (the next one) while it is off.
    public var oldestAvailableRevision: UInt64 { logsChanges ? oldestLoggedRevision : revision &+ 1 }

    /// The running command's revision and the next event's index, taking the next revision at its first write.
    func nextEvent() -> (revision: UInt64, index: UInt32) {
        let revision = takeRevision()
        defer { eventIndex &+= 1 }
        return (revision, eventIndex)
    }

    /// The running command's revision, taken at its first write.
    func takeRevision() -> UInt64 {
        if let commandRevision { return commandRevision }
        revision &+= 1
        commandRevision = revision
        eventIndex = 0
        return revision
    }

    /// Stages one event and its history entry.
    func logEvent(
        _ event: (revision: UInt64, index: UInt32), _ operation: ChangeOperation, key: UnsafeRawBufferPointer,
        element: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer?, expireAt: Int64,
        keyRevision: KeyRevision? = nil, previousRevision: UInt64, type: ValueType = .string, database: UInt32? = nil
    ) {
        let database = database ?? selectedDatabase
        ChangeLogLayout.encodeEvent(
            operation, key: key, element: element, value: value, type: type, expireAt: expireAt,
            keyRevision: keyRevision, previousRevision: previousRevision, time: now, database: database,
            into: &eventScratch)
        ChangeLogLayout.eventKey(revision: event.revision, index: event.index, into: &keyScratch)
        keyScratch.withUnsafeReadableBytes { k in eventScratch.withUnsafeReadableBytes { batch.put(key: k, value: $0) } }
        logBytes &+= UInt64(keyScratch.readableBytes + eventScratch.readableBytes)
        ChangeLogLayout.historyKey(
            key, database: database, revision: event.revision, index: event.index, into: &keyScratch)
        keyScratch.withUnsafeReadableBytes { batch.put(key: $0, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
        logBytes &+= UInt64(keyScratch.readableBytes)
        if let observer, observer.wantsChangeEvents {
            observer.changeLogged(ChangeEvent(
                revision: event.revision, index: event.index, operation: operation, key: ByteBuffer(bytes: key),
                element: element.map { ByteBuffer(bytes: $0) }, value: value.map { ByteBuffer(bytes: $0) },
                valueType: type, expireAt: expireAt, keyRevision: keyRevision, previousRevision: previousRevision,
                time: now, database: database))
        }
    }

    /// Stages FLUSHDB's one event and its marker.
    func logFlush() {
        let event = nextEvent()
        guard logsChanges else { return }
        logEvent(event, .flush, key: UnsafeRawBufferPointer(start: nil, count: 0), value: nil, expireAt: 0, previousRevision: 0)
        ChangeLogLayout.flushKey(revision: event.revision, database: selectedDatabase).withUnsafeBytes {
            batch.put(key: $0, value: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Adds the revision and the log's size to the pending batch when they changed.
    func stageChangeLogState() {
        if revision != committedRevision {
            withUnsafeBytes(of: revision.bigEndian) { encoded in
                ChangeLogLayout.revisionKey.withUnsafeBytes { batch.put(key: $0, value: encoded) }
            }
        }
        if logBytes != committedLogBytes {
            withUnsafeBytes(of: logBytes.bigEndian) { encoded in
                ChangeLogLayout.sizeKey.withUnsafeBytes { batch.put(key: $0, value: encoded) }
            }
        }
    }

    /// Reads the revision, the log's horizon and size.
    func loadChangeLogState() throws {
        func stored(_ key: [UInt8]) throws -> UInt64? {
            try database.get(key).flatMap { bytes in bytes.withUnsafeBytes { ChangeLogLayout.bigEndian64($0) } }
        }
        revision = try stored(ChangeLogLayout.revisionKey) ?? 0
        committedRevision = revision
        oldestLoggedRevision = try stored(ChangeLogLayout.oldestKey) ?? 1
        logBytes = try stored(ChangeLogLayout.sizeKey) ?? 0
        committedLogBytes = logBytes
        commandRevision = nil
        eventIndex = 0
        let wasPaused = try database.get(ChangeLogLayout.pausedKey) != nil
        if logsChanges && wasPaused {
            try discardChangeLog()
        } else if !logsChanges && !wasPaused {
            // Revisions taken from now on have no events: mark the log so that turning it back on starts afresh.
            try database.put(ChangeLogLayout.pausedKey, [1], sync: true)
        }
    }

    /// Drops a log that has gaps, after a run with `--change-log off`: nothing older than the next revision can be
    /// replayed faithfully, so the horizon moves to it and the stale entries go.
    private func discardChangeLog() throws {
        for prefix in [
            ChangeLogLayout.eventPrefix, ChangeLogLayout.historyPrefix, ChangeLogLayout.numberedHistoryPrefix,
            ChangeLogLayout.flushPrefix,
        ] {
            let iterator = database.makeIterator()
            iterator.seek([prefix])
            let stale = WriteBatch()
            var staged = 0
            while iterator.isValid, iterator.key.first == prefix {
                stale.delete(iterator.key)
                staged += 1
                if staged == 10_000 {
                    try database.write(stale)
                    stale.clear()
                    staged = 0
                }
                iterator.next()
            }
            try iterator.checkError()
            try database.write(stale)
        }
        oldestLoggedRevision = revision &+ 1
        logBytes = 0
        committedLogBytes = 0
        let reset = WriteBatch()
        withUnsafeBytes(of: oldestLoggedRevision.bigEndian) { reset.put(ChangeLogLayout.oldestKey, Array($0)) }
        reset.put(ChangeLogLayout.sizeKey, [UInt8](repeating: 0, count: 8))
        reset.delete(ChangeLogLayout.pausedKey)
        try database.write(reset, sync: true)
    }

    // MARK: Retention

    /// Deletes the oldest revisions the retention no longer keeps, whole revisions at a time, up to about `limit`
    /// events, with their history entries and flush markers, and moves the horizon past them in the same batch.
    /// Takes no revision: it changes no data.
    /// - Returns: the number of events deleted; fewer than `limit` means nothing more is due.
    public func trimChangeLog(_ retention: ChangeLogRetention, limit: Int) throws -> Int {
        assertLeased()
        var deleted = 0
        var horizon = oldestLoggedRevision
        var start = ByteBuffer()
        ChangeLogLayout.eventKey(revision: oldestLoggedRevision, index: 0, into: &start)
        let iterator = database.makeIterator()
        start.withUnsafeReadableBytes { iterator.seek($0) }
        var scratch = ByteBuffer()
        while iterator.isValid, iterator.key.first == ChangeLogLayout.eventPrefix,
            let event = ChangeLogLayout.decodeEvent(key: iterator.key, value: iterator.value)
        {
            // A revision goes whole: once started, its other events go too, whatever the limit.
            let continuesRevision = deleted > 0 && event.revision == horizon
            if !continuesRevision {
                guard deleted < limit, isDue(event, retention) else { break }
            }
            let size = UInt64(iterator.key.count + iterator.value.count)
            batch.delete(key: iterator.key)
            // A layout 2 event shares one `h` entry (index in its value) with its key's other events of the revision.
            let indexed = ChangeLogLayout.hasIndexedHistory(iterator.value)
            event.key.withUnsafeReadableBytes {
                ChangeLogLayout.historyKey(
                    $0, database: event.database, revision: event.revision, index: indexed ? event.index : nil,
                    into: &scratch)
            }
            scratch.withUnsafeReadableBytes { batch.delete(key: $0) }
            if event.operation == .flush {
                ChangeLogLayout.flushKey(revision: event.revision, database: event.database).withUnsafeBytes {
                    batch.delete(key: $0)
                }
            }
            logBytes -= min(logBytes, size + UInt64(scratch.readableBytes + (indexed ? 0 : 4)))
            horizon = event.revision
            deleted += 1
            iterator.next()
        }
        try iterator.checkError()
        guard deleted > 0 else { return 0 }
        // The last revision seen was deleted whole: the log now starts after it.
        oldestLoggedRevision = horizon &+ 1
        withUnsafeBytes(of: oldestLoggedRevision.bigEndian) { encoded in
            ChangeLogLayout.oldestKey.withUnsafeBytes { batch.put(key: $0, value: encoded) }
        }
        try commit()
        return deleted
    }

    /// Whether the retention no longer keeps `event`'s revision.
    private func isDue(_ event: ChangeEvent, _ retention: ChangeLogRetention) -> Bool {
        if retention.maxRevisions > 0 && revision &- event.revision >= retention.maxRevisions { return true }
        if retention.maxAgeMilliseconds > 0 && now &- event.time > retention.maxAgeMilliseconds { return true }
        if retention.maxBytes > 0 && logBytes > retention.maxBytes { return true }
        return false
    }

    // MARK: Reading

    /// A live string key's value, expiry and revisions.
    /// - Throws: `WrongTypeError` for a key of another type.
    public func versionedValue(of key: ByteBuffer) throws -> (value: ByteBuffer, expireAt: Int64, revision: KeyRevision)? {
        let found = try read(key) { value, expireAt in (ByteBuffer(bytes: value), expireAt) }
        guard let (value, expireAt) = found else { return nil }
        return (value, expireAt, lastLookup?.summary.revision ?? .unknown)
    }

    /// The events of `key`, in revision order (or reversed), from `from` (inclusive; nil for the oldest, or with
    /// `descending` the newest), at most `limit`.
    /// - Throws: `CompactedRevisionError` when `from` is older than the log holds.
    public func history(
        of key: ByteBuffer, from: UInt64?, limit: Int, descending: Bool
    ) throws -> [ChangeEvent] {
        assertLeased()
        try commit()  // the batch's own events are read from LevelDB like the rest
        if let from, from < oldestLoggedRevision { throw compacted() }
        var events: [ChangeEvent] = []
        let iterator = database.makeIterator()
        var prefix = ByteBuffer()
        key.withUnsafeReadableBytes { ChangeLogLayout.historyKeyPrefix($0, database: selectedDatabase, into: &prefix) }
        let prefixBytes = Array(prefix.readableBytesView)
        if descending {
            iterator.seek(prefixBytes + bigEndianBytes(from.map { $0 &+ 1 } ?? .max))
            if iterator.isValid { iterator.previous() } else { iterator.seekToLast() }
        } else {
            iterator.seek(prefixBytes + bigEndianBytes(from ?? 0))
        }
        while events.count < limit, iterator.isValid, iterator.key.starts(with: prefixBytes),
            let (revision, index) = ChangeLogLayout.historyEntry(
                key: iterator.key, value: iterator.value, prefixLength: prefixBytes.count)
        {
            if revision >= oldestLoggedRevision, let event = try event(revision: revision, index: index) {
                events.append(event)
            }
            if descending { iterator.previous() } else { iterator.next() }
        }
        try iterator.checkError()
        return events
    }

    /// The value `key` had at `revision`: the latest of its events at or before it, unless a FLUSHDB came between.
    /// - Returns: the value and its expiry, or nil when the key did not exist then.
    /// - Throws: `CompactedRevisionError` when the log no longer holds what is needed to answer; `WrongTypeError`
    ///   when the key held a collection then.
    public func value(of key: ByteBuffer, at revision: UInt64) throws -> (value: ByteBuffer, expireAt: Int64, revision: KeyRevision)? {
        assertLeased()
        guard revision >= oldestLoggedRevision else { throw compacted() }
        if revision >= self.revision {
            return try versionedValue(of: key)
        }
        let latest = try history(of: key, from: revision, limit: 1, descending: true).first
        let flushedAfter = try latestFlush(atOrBefore: revision).map { flush in latest.map { flush > $0.revision } ?? true }
        if flushedAfter == true { return nil }
        if let latest {
            switch latest.operation {
            case .set: return (latest.value ?? ByteBuffer(), latest.expireAt, latest.keyRevision ?? .unknown)
            case .delete, .expire, .flush: return nil
            default: throw WrongTypeError(found: latest.valueType)  // a collection then
            }
        }
        // No retained event at or before `revision`. The key's next event says what it was before: absent (no
        // previous revision) or written before the horizon, which is gone — unless a FLUSHDB came in between, which
        // hides it.
        let flushAfter = try firstFlush(after: revision)
        if let next = try history(of: key, from: revision &+ 1, limit: 1, descending: false).first {
            if let flushAfter, flushAfter < next.revision { throw compacted() }
            guard next.previousRevision == 0 else { throw compacted() }
            return nil
        }
        // No event since the horizon at all: what it holds now it held then, unless a FLUSHDB removed it since.
        guard let current = try versionedValue(of: key) else {
            if flushAfter != nil { throw compacted() }
            return nil
        }
        guard current.revision.modified <= revision else { throw compacted() }
        return current
    }

    /// The oldest FLUSHDB revision of the selected database after `revision`, or nil (markers of other databases
    /// are stepped over).
    func firstFlush(after revision: UInt64) throws -> UInt64? {
        let iterator = database.makeIterator()
        iterator.seek(ChangeLogLayout.flushKey(revision: revision &+ 1))
        while iterator.isValid, let entry = ChangeLogLayout.flushEntry(iterator.key) {
            if entry.database == selectedDatabase { return entry.revision }
            iterator.next()
        }
        try iterator.checkError()
        return nil
    }

    /// The newest FLUSHDB revision of the selected database at or before `revision`, or nil.
    func latestFlush(atOrBefore revision: UInt64) throws -> UInt64? {
        let iterator = database.makeIterator()
        iterator.seek(ChangeLogLayout.flushKey(revision: revision &+ 1))
        if iterator.isValid { iterator.previous() } else { iterator.seekToLast() }
        while iterator.isValid, let entry = ChangeLogLayout.flushEntry(iterator.key) {
            if entry.database == selectedDatabase { return entry.revision }
            iterator.previous()
        }
        try iterator.checkError()
        return nil
    }

    /// One event of the log.
    func event(revision: UInt64, index: UInt32) throws -> ChangeEvent? {
        var key = ByteBuffer()
        ChangeLogLayout.eventKey(revision: revision, index: index, into: &key)
        return try key.withUnsafeReadableBytes { storageKey in
            try database.withValue(forKey: storageKey) { ChangeLogLayout.decodeEvent(key: storageKey, value: $0) } ?? nil
        }
    }

    func compacted() -> CompactedRevisionError {
        CompactedRevisionError(oldest: oldestLoggedRevision, current: revision)
    }

    private func bigEndianBytes(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}

/// A revision older than the change log still holds.
public struct CompactedRevisionError: Error, Sendable {
    /// The oldest revision still available.
    public let oldest: UInt64
    /// The store's current revision.
    public let current: UInt64
}

/// A data directory written by a newer kvnode.
public struct StoreFormatError: Error, CustomStringConvertible, Sendable {
    public let found: UInt8
    public var description: String {
        "the data directory has layout version \(found); this kvnode reads up to \(StorageLayout.formatVersion)"
    }
}

/// How much of the change log is kept: whatever is newer than every limit that is set (0 = no limit of that kind).
/// Older revisions are compacted away in the background; asking for one gets `CompactedRevisionError`.
public struct ChangeLogRetention: Sendable, Equatable {
    /// Most bytes of log entries kept.
    public var maxBytes: UInt64 = 1 << 30
    /// Oldest entries kept, in milliseconds.
    public var maxAgeMilliseconds: Int64 = 7 * 24 * 3600 * 1000
    /// Most revisions kept.
    public var maxRevisions: UInt64 = 0

    public init() {}
}
