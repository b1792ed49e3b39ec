import LevelDB
import NIOCore

/// Direction of an iteration over the ordered keyspace.
public enum IterationOrder: Sendable {
    case ascending, descending
}

extension Keyspace {
    /// Visits the live keys of the selected database in `range` in byte order (or reversed), with their values, expiry (0 for none) and type
    /// (a collection's value is its metadata, `CollectionMetadata`).
    ///
    /// The batch's uncommitted writes are merged in, so a command sees the writes of the commands before it in the
    /// same pipeline or transaction, and nothing has to be committed first. Expired keys are skipped (the sweeper
    /// removes them). The buffers handed to `body` are valid only during the call.
    ///
    /// Cost: one LevelDB seek, then one step per key in the range up to where `body` stops, plus sorting the batch's
    /// own writes that fall inside the range.
    /// - Parameter body: returns false to stop.
    public func forEachKey(
        in range: KeyRange, order: IterationOrder = .ascending,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ expireAt: Int64, _ type: ValueType)
            throws -> Bool
    ) throws {
        assertLeased()
        let overlay = pending.isEmpty ? [] : sortedOverlay(
            pending.all(in: storageDatabase).filter { key, _ in key.withUnsafeReadableBytes { range.contains($0) } },
            order: order)
        try mergedScan(
            prefix: DatabaseLayout.userKeyRangePrefix(database: storageDatabase), range: range, order: order,
            overlay: overlay,
            stored: { key, record in
                guard let (expireAt, type, value) = RecordFormat.decode(record), !isExpired(expireAt) else { return true }
                return try body(key, value, expireAt, type)
            },
            pending: { key, entry in
                guard case .record(let value, let expireAt, _, let type, _) = entry, !isExpired(expireAt) else { return true }
                return try value.withUnsafeReadableBytes { try body(key, $0, expireAt, type) }
            })
    }

    /// The first live key of `range` in `order`, or nil when the range holds none.
    public func firstKey(in range: KeyRange, order: IterationOrder = .ascending) throws -> [UInt8]? {
        var found: [UInt8]?
        try forEachKey(in: range, order: order) { key, _, _, _ in
            found = Array(key)
            return false
        }
        return found
    }

    @inline(__always)
    func isExpired(_ expireAt: Int64) -> Bool {
        RecordFormat.hasExpired(expireAt, at: now)
    }

    /// Overlay entries sorted in iteration order.
    func sortedOverlay<Entry>(
        _ entries: [(key: ByteBuffer, entry: Entry)], order: IterationOrder
    ) -> [(key: ByteBuffer, entry: Entry)] {
        var entries = entries
        entries.sort { a, b in
            let order = a.key.withUnsafeReadableBytes { a in b.key.withUnsafeReadableBytes { compareBytes(a, $0) } }
            return order < 0
        }
        if order == .descending { entries.reverse() }
        return entries
    }

    /// Walks the LevelDB keys `prefix + k` for every `k` in `range`, in `order`, merged with the batch's writes
    /// `overlay` (keyed by `k`, sorted in iteration order; the batch wins on equal keys). `stored` sees LevelDB's
    /// entries, `pending` the overlay's; either returns false to stop. The user keyspace (`k`) and each collection's
    /// elements (`c` + generation + kind) are walked this way.
    func mergedScan<Entry>(
        prefix: [UInt8], range: KeyRange, order: IterationOrder, overlay: [(key: ByteBuffer, entry: Entry)],
        stored: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool,
        pending: (_ key: UnsafeRawBufferPointer, _ entry: Entry) throws -> Bool
    ) throws {
        var overlayIndex = 0
        let iterator = database.makeIterator()
        position(iterator, prefix: prefix, at: range, order: order)
        let step = order == .ascending ? iterator.next : iterator.previous

        while true {
            let storedKey = iterator.isValid ? suffix(iterator.key, prefix: prefix, within: range, order: order) : nil
            let pendingKey = overlayIndex < overlay.count ? overlay[overlayIndex] : nil
            if storedKey == nil && pendingKey == nil { break }

            // Which source holds the next key in iteration order; on a tie the batch's write wins.
            var stepsStored = true
            var usesPending = false
            if let storedKey, let pendingKey {
                var comparison = pendingKey.key.withUnsafeReadableBytes { compareBytes(storedKey, $0) }
                if order == .descending { comparison = -comparison }
                stepsStored = comparison <= 0
                usesPending = comparison >= 0
            } else if pendingKey != nil {
                stepsStored = false
                usesPending = true
            }

            if !usesPending {
                guard try stored(storedKey!, iterator.value) else { break }
                step()
                continue
            }
            if stepsStored { step() }
            overlayIndex += 1
            let proceed = try pendingKey!.key.withUnsafeReadableBytes { try pending($0, pendingKey!.entry) }
            guard proceed else { break }
        }
        try iterator.checkError()
    }

    /// Moves `iterator` to the first stored key `prefix + k` with `k` in `range`, in `order` (or out of the prefix).
    private func position(_ iterator: Iterator, prefix: [UInt8], at range: KeyRange, order: IterationOrder) {
        switch order {
        case .ascending:
            guard let lower = range.lower else {
                iterator.seek(prefix)
                return
            }
            iterator.seek(prefix + lower.key)
            if !lower.inclusive && iterator.isValid && iterator.key.elementsEqual(prefix + lower.key) {
                iterator.next()
            }
        case .descending:
            // Seek to the first key past the range, then step back onto the last key inside it.
            if let upper = range.upper {
                iterator.seek(prefix + upper.key)
            } else if let end = KeyRange.successor(ofPrefix: prefix) {
                iterator.seek(end)
            } else {
                iterator.seekToLast()
            }
            if !iterator.isValid { iterator.seekToLast() }
            while iterator.isValid && isPastUpper(iterator.key, prefix: prefix, range) { iterator.previous() }
        }
    }

    /// Whether a stored key lies after `prefix + range` in ascending order (including keys past the prefix).
    private func isPastUpper(_ storageKey: UnsafeRawBufferPointer, prefix: [UInt8], _ range: KeyRange) -> Bool {
        let head = UnsafeRawBufferPointer(rebasing: storageKey.prefix(prefix.count))
        let comparison = prefix.withUnsafeBytes { compareBytes(head, $0) }
        if comparison != 0 || storageKey.count < prefix.count { return comparison > 0 }
        return !range.isBelowUpper(UnsafeRawBufferPointer(rebasing: storageKey[prefix.count...]))
    }

    /// The part after `prefix` of a stored key, when it starts with `prefix` and lies inside `range` on the side
    /// iteration moves towards.
    private func suffix(
        _ storageKey: UnsafeRawBufferPointer, prefix: [UInt8], within range: KeyRange, order: IterationOrder
    ) -> UnsafeRawBufferPointer? {
        guard storageKey.count >= prefix.count, storageKey.starts(with: prefix) else { return nil }
        let key = UnsafeRawBufferPointer(rebasing: storageKey[prefix.count...])
        switch order {
        case .ascending: return range.isBelowUpper(key) ? key : nil
        case .descending: return range.isAboveLower(key) ? key : nil
        }
    }
}

extension Keyspace {
    /// A random live key, or nil when there is none.
    ///
    /// An ordered store has no bucket to pick at random, so this walks down the keyspace one byte at a time: at each
    /// depth it picks a byte between the smallest and largest present under the current prefix and moves to the
    /// first key at or after it. That costs O(key length) seeks and needs no key count; keys are not exactly equally
    /// likely, but every key can be chosen.
    public func randomKey() throws -> [UInt8]? {
        try randomEntry { range, order in try firstKey(in: range, order: order) }
    }
}

extension Keyspace {
    /// Visits the live keys matching `pattern` inside `range`, in `order`. A pattern without wildcards is one
    /// lookup; any other walks only the range of its literal prefix.
    public func forEachKey(
        matching pattern: GlobPattern, within range: KeyRange = .all, order: IterationOrder = .ascending,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ expireAt: Int64, _ type: ValueType)
            throws -> Bool
    ) throws {
        if pattern.isExact {
            let key = pattern.literalPrefix
            guard key.withUnsafeBytes({ range.contains($0) }) else { return }
            _ = try lookupRecord(ByteBuffer(bytes: key)) { type, value, expireAt in
                try key.withUnsafeBytes { try body($0, value, expireAt, type) }
            }
            return
        }
        try forEachKey(in: range.intersection(KeyRange(prefix: pattern.literalPrefix)), order: order) {
            key, value, expireAt, type in
            guard pattern.matches(key) else { return true }
            return try body(key, value, expireAt, type)
        }
    }
}
