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
        member.withUnsafeReadableBytes {
            putElement(
                &zset, kind: ElementLayout.sortedSetScore, SortedSetScore.indexElement(score, member: $0),
                value: ByteBuffer(), event: nil)
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
        try forEachElement(of: zset, kind: ElementLayout.sortedSetScore, in: range, order: order) { element, _ in
            try body(UnsafeRawBufferPointer(rebasing: element[8...]), SortedSetScore.score(indexElement: element))
        }
    }
}
