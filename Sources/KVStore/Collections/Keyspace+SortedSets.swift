import NIOCore

/// A sorted set's elements (docs/storage-format.md, "Sorted sets"): every member is two records under the
/// collection's generation, written and deleted together:
/// ```
///   'm' + member                   →  score text (SortedSetScore)   ZSCORE, ZADD, lex ranges, ZSCAN
///   's' + BE64 sortable score + member  →  empty                    ranges by score and rank, pops
/// ```
/// The member record is the one the change log, COPY and KV.WATCH INITIAL tell (`zadd key member score`); the score
/// index is derived from it.
extension Keyspace {
    /// The score of `member`, or nil when the sorted set has no such member.
    public func score(of zset: StoredCollection, _ member: UnsafeRawBufferPointer) throws -> Double? {
        try element(of: zset, kind: ElementLayout.sortedSetMember, member) { SortedSetScore.parse($0) } ?? nil
    }

    /// `score(of:_:)` for a member given as a buffer.
    public func score(of zset: StoredCollection, _ member: ByteBuffer) throws -> Double? {
        try member.withUnsafeReadableBytes { try score(of: zset, $0) }
    }

    /// Gives `member` the score `score` (logged as `zadd`), replacing its index entry at `previous` when it had one;
    /// counts it when new.
    public func setScore(_ zset: inout StoredCollection, _ member: ByteBuffer, _ score: Double, previous: Double?) {
        if let previous {
            member.withUnsafeReadableBytes {
                removeElement(
                    &zset, kind: ElementLayout.sortedSetScore, SortedSetScore.indexElement(previous, member: $0),
                    event: nil)
            }
        } else {
            zset.count += 1
        }
        putElement(
            &zset, kind: ElementLayout.sortedSetMember, member, value: SortedSetScore.text(score),
            event: .sortedSetAdd)
        let indexElement = member.withUnsafeReadableBytes { SortedSetScore.indexElement(score, member: $0) }
        putElement(&zset, kind: ElementLayout.sortedSetScore, indexElement, value: ByteBuffer(), event: nil)
        if var ends = scoreIndexEnds[zset.metadata.generation] {
            // An entry outside the known live part widens it again.
            let element = Array(indexElement.readableBytesView)
            if let low = ends.low, compareBytes(element, low) <= 0 { ends.low = nil }
            if let high = ends.high, compareBytes(element, high) > 0 { ends.high = nil }
            scoreIndexEnds[zset.metadata.generation] = ends.low == nil && ends.high == nil ? nil : ends
        }
    }

    /// Removes `member`, whose score is `score` (logged as `zrem`), and uncounts it.
    public func removeScored(_ zset: inout StoredCollection, _ member: ByteBuffer, _ score: Double) {
        removeElement(&zset, kind: ElementLayout.sortedSetMember, member, event: .sortedSetRemove)
        member.withUnsafeReadableBytes {
            removeElement(
                &zset, kind: ElementLayout.sortedSetScore, SortedSetScore.indexElement(score, member: $0), event: nil)
        }
        zset.count -= 1
    }

    /// Visits the members whose index entries lie in `range` (over `BE64 sortable score + member`), in score order
    /// (then member order), or reversed: one seek, then one step per member.
    /// - Parameter body: returns false to stop.
    public func forEachScored(
        of zset: StoredCollection, in range: KeyRange = .all, order: IterationOrder = .ascending,
        _ body: (_ member: UnsafeRawBufferPointer, _ score: Double) throws -> Bool
    ) throws {
        try forEachScoreIndexElement(of: zset, in: range, order: order) { element in
            try body(UnsafeRawBufferPointer(rebasing: element[8...]), SortedSetScore.score(indexElement: element))
        }
    }

    /// Visits the score-index elements (`BE64 sortable score + member`) in `range`, as `forEachScored`.
    public func forEachScoreIndexElement(
        of zset: StoredCollection, in range: KeyRange = .all, order: IterationOrder = .ascending,
        _ body: (_ element: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var range = range
        if let ends = scoreIndexEnds[zset.metadata.generation] {
            if let low = ends.low { range = range.intersection(KeyRange(lower: .init(low, inclusive: false))) }
            if let high = ends.high { range = range.intersection(KeyRange(upper: .init(high, inclusive: true))) }
        }
        try forEachElement(of: zset, kind: ElementLayout.sortedSetScore, in: range, order: order) { element, _ in
            try body(element)
        }
    }

    // LevelDB keeps a deleted entry as a marker until compaction, and its iterator steps over markers one by one: a
    // seek to the start of an index whose first entries were popped, or to past its end after pops from the top,
    // would cross every entry popped so far, making a queue of pops quadratic. Pops and range removals at either end
    // therefore remember where the live entries begin (just after the last entry removed from the bottom: a forward
    // seek there lands on the next live one) and end (the highest live entry itself: a backward scan seeks onto it).

    /// Notes that every score-index entry up to `element` is gone (popped or removed from the low end).
    public func noteRemovedBelow(_ zset: StoredCollection, through element: [UInt8]) {
        updateEnds(zset) { $0.low = element }
    }

    /// Notes that `element`, a live entry, is the highest the index holds (after pops from the high end).
    public func noteHighestLive(_ zset: StoredCollection, _ element: [UInt8]) {
        updateEnds(zset) { $0.high = element }
    }

    private func updateEnds(_ zset: StoredCollection, _ update: (inout ScoreIndexEnds) -> Void) {
        guard zset.count > 0 else { return }
        if scoreIndexEnds.count >= Self.scoreIndexEndsLimit { scoreIndexEnds.removeAll() }
        var ends = scoreIndexEnds[zset.metadata.generation] ?? ScoreIndexEnds()
        update(&ends)
        scoreIndexEnds[zset.metadata.generation] = ends
    }

    /// Notes that a command removed the run of consecutive score-index entries `first...last` (ZREMRANGEBYRANK,
    /// ZREMRANGEBYSCORE): when nothing live is left before it (after it), later scans start past it, as after a pop.
    public func noteRemovedRun(_ zset: StoredCollection, first: [UInt8], last: [UInt8]) throws {
        guard zset.count > 0 else { return }
        var below = KeyRange()
        below.restrict(before: first)
        var liveBelow: [UInt8]?
        // Forward: the entries just below a run removed from the bottom are markers, and a backward step would
        // cross them all.
        try forEachScoreIndexElement(of: zset, in: below) { _ in
            liveBelow = []
            return false
        }
        if liveBelow == nil { noteRemovedBelow(zset, through: last) }
        var above = KeyRange()
        above.restrict(after: last)
        var liveAbove = false
        try forEachScoreIndexElement(of: zset, in: above) { _ in
            liveAbove = true
            return false
        }
        guard !liveAbove, liveBelow != nil else { return }
        // The run reached the top: the highest live entry is the nearest below it.
        try forEachScoreIndexElement(of: zset, in: below, order: .descending) { element in
            liveBelow = Array(element)
            return false
        }
        if let highest = liveBelow, !highest.isEmpty { noteHighestLive(zset, highest) }
    }

    /// How many sorted sets' ends are remembered at most; past that the memory starts over (a hint, never needed).
    static let scoreIndexEndsLimit = 4096
}

/// The part of a sorted set's score index known to hold every live entry: after `low`, up to and including `high`
/// (nil: unbounded). Set by pops and range removals, widened by an insertion outside it, forgotten when a batch is
/// discarded.
struct ScoreIndexEnds {
    var low: [UInt8]?
    var high: [UInt8]?
}
