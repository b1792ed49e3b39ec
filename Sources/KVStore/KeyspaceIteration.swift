import LevelDB
import NIOCore

/// Direction of an iteration over the ordered keyspace.
public enum IterationOrder: Sendable {
    case ascending, descending
}

extension Keyspace {
    /// Visits the live keys of `range` in byte order (or reversed), with their values and expiry (0 for none).
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
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> Bool
    ) throws {
        assertLeased()
        let overlay = pendingEntries(in: range, order: order)
        var overlayIndex = 0
        let iterator = database.makeIterator()
        position(iterator, at: range, order: order)
        let step = order == .ascending ? iterator.next : iterator.previous

        while true {
            let storedKey = iterator.isValid ? userKey(iterator.key, within: range, order: order) : nil
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
                if let (expireAt, value) = RecordFormat.decode(iterator.value), !isExpired(expireAt) {
                    guard try body(storedKey!, value, expireAt) else { break }
                }
                step()
                continue
            }
            if stepsStored { step() }
            overlayIndex += 1
            guard case .record(let value, let expireAt, _) = pendingKey!.entry, !isExpired(expireAt) else { continue }
            let proceed = try pendingKey!.key.withUnsafeReadableBytes { key in
                try value.withUnsafeReadableBytes { try body(key, $0, expireAt) }
            }
            guard proceed else { break }
        }
        try iterator.checkError()
    }

    /// The first live key of `range` in `order`, or nil when the range holds none.
    public func firstKey(in range: KeyRange, order: IterationOrder = .ascending) throws -> [UInt8]? {
        var found: [UInt8]?
        try forEachKey(in: range, order: order) { key, _, _ in
            found = Array(key)
            return false
        }
        return found
    }

    @inline(__always)
    func isExpired(_ expireAt: Int64) -> Bool {
        RecordFormat.hasExpired(expireAt, at: now)
    }

    /// The batch's writes inside `range`, sorted in iteration order.
    private func pendingEntries(in range: KeyRange, order: IterationOrder) -> [(key: ByteBuffer, entry: PendingEntry)] {
        if pending.isEmpty { return [] }
        var entries = pending.all.filter { key, _ in key.withUnsafeReadableBytes { range.contains($0) } }
        entries.sort { a, b in
            let order = a.key.withUnsafeReadableBytes { a in b.key.withUnsafeReadableBytes { compareBytes(a, $0) } }
            return order < 0
        }
        if order == .descending { entries.reverse() }
        return entries
    }

    /// Moves `iterator` to the first stored key of `range` in `order` (or past the user-key namespace).
    private func position(_ iterator: Iterator, at range: KeyRange, order: IterationOrder) {
        let prefix = StorageLayout.keyPrefix
        switch order {
        case .ascending:
            guard let lower = range.lower else {
                iterator.seek([prefix])
                return
            }
            iterator.seek([prefix] + lower.key)
            if !lower.inclusive && iterator.isValid && iterator.key.elementsEqual([prefix] + lower.key) {
                iterator.next()
            }
        case .descending:
            // Seek to the first key past the range, then step back onto the last key inside it.
            if let upper = range.upper {
                iterator.seek([prefix] + upper.key)
            } else {
                iterator.seek([prefix + 1])
            }
            if !iterator.isValid { iterator.seekToLast() }
            while iterator.isValid && isPastUpper(iterator.key, range) { iterator.previous() }
        }
    }

    /// Whether a stored key lies after `range` in ascending order (including keys of later namespaces).
    private func isPastUpper(_ storageKey: UnsafeRawBufferPointer, _ range: KeyRange) -> Bool {
        guard let first = storageKey.first else { return false }
        if first != StorageLayout.keyPrefix { return first > StorageLayout.keyPrefix }
        return !range.isBelowUpper(UnsafeRawBufferPointer(rebasing: storageKey[1...]))
    }

    /// The user key of a stored key when it is a user key inside `range` on the side iteration moves towards.
    private func userKey(
        _ storageKey: UnsafeRawBufferPointer, within range: KeyRange, order: IterationOrder
    ) -> UnsafeRawBufferPointer? {
        guard storageKey.first == StorageLayout.keyPrefix else { return nil }
        let key = UnsafeRawBufferPointer(rebasing: storageKey[1...])
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
        var prefix: [UInt8] = []
        while true {
            let range = KeyRange(prefix: prefix)
            guard let first = try firstKey(in: range), let last = try firstKey(in: range, order: .descending) else {
                return nil
            }
            if first == last { return first }
            let depth = prefix.count
            var low = first.count > depth ? Int(first[depth]) : -1
            if low < 0 {
                // The prefix is itself a key: it gets the slot just below the next key's byte, as likely as a byte.
                var rest = range
                rest.restrict(after: first)
                low = Int(try firstKey(in: rest)?[depth] ?? 0) - 1
            }
            let pick = Int.random(in: low...Int(last[depth]))
            if pick == low && first.count == depth { return first }
            var from = range
            from.restrict(from: prefix + [UInt8(max(pick, 0))])
            guard let next = try firstKey(in: from) else { return last }
            prefix.append(next[depth])
        }
    }
}

extension Keyspace {
    /// Visits the live keys matching `pattern` inside `range`, in `order`. A pattern without wildcards is one
    /// lookup; any other walks only the range of its literal prefix.
    public func forEachKey(
        matching pattern: GlobPattern, within range: KeyRange = .all, order: IterationOrder = .ascending,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ expireAt: Int64) throws -> Bool
    ) throws {
        if pattern.isExact {
            let key = pattern.literalPrefix
            guard key.withUnsafeBytes({ range.contains($0) }) else { return }
            _ = try lookup(ByteBuffer(bytes: key)) { value, expireAt in
                try key.withUnsafeBytes { try body($0, value, expireAt) }
            }
            return
        }
        try forEachKey(in: range.intersection(KeyRange(prefix: pattern.literalPrefix)), order: order) {
            key, value, expireAt in
            guard pattern.matches(key) else { return true }
            return try body(key, value, expireAt)
        }
    }
}
