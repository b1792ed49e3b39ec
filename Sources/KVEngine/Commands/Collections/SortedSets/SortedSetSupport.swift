import KVStore
import NIOCore
import RESP

/// A member and its score, as range queries, pops and the algebra collect them for their reply or destination.
struct ScoredMember {
    var member: [UInt8]
    var score: Double

    /// The member's score-index element (`BE64 sortable score + member`).
    var indexElement: [UInt8] {
        Array(member.withUnsafeBytes { SortedSetScore.indexElement(score, member: $0) }.readableBytesView)
    }

    /// Redis's order of a sorted set: by score, then by member bytes.
    static func ordered(_ a: ScoredMember, _ b: ScoredMember) -> Bool {
        a.score != b.score ? a.score < b.score : compareBytes(a.member, b.member) < 0
    }
}

/// A score interval `min max` as ZRANGEBYSCORE, ZCOUNT and ZREMRANGEBYSCORE take it (Redis's `zslParseRange`):
/// a number (`inf`, `-inf` included), exclusive when written `(number`.
struct ScoreInterval {
    var min: Double
    var minExclusive: Bool
    var max: Double
    var maxExclusive: Bool

    static let notFloat = CommandError("ERR min or max is not a float")

    /// Parses the interval in arguments `minIndex` and `maxIndex`.
    /// - Throws: `ERR min or max is not a float`.
    init(_ ctx: CommandContext, min minIndex: Int, max maxIndex: Int) throws {
        guard let min = ctx.request.withArgument(minIndex, Self.bound),
            let max = ctx.request.withArgument(maxIndex, Self.bound)
        else { throw Self.notFloat }
        (self.min, minExclusive) = min
        (self.max, maxExclusive) = max
    }

    /// One bound. As `strtod` reads it: an empty number is 0, and an out-of-range one is ±inf or 0.
    private static func bound(_ bytes: UnsafeRawBufferPointer) -> (Double, Bool)? {
        let exclusive = bytes.first == UInt8(ascii: "(")
        let number = exclusive ? UnsafeRawBufferPointer(rebasing: bytes[1...]) : bytes
        if number.isEmpty { return (0, exclusive) }
        return SortedSetScore.parse(number).map { ($0, exclusive) }
    }

    /// Whether no score can lie in the interval.
    var isEmpty: Bool { min > max || (min == max && (minExclusive || maxExclusive)) }

    /// The interval over score-index elements (`BE64 sortable score + member`): from the first element of the lowest
    /// score in it to before the first element of the first score above it.
    var indexRange: KeyRange {
        let low = SortedSetScore.sortable(min) + (minExclusive ? 1 : 0)
        let high = SortedSetScore.sortable(max) + (maxExclusive ? 0 : 1)
        return KeyRange(lower: .init(Self.bytes(low), inclusive: true), upper: .init(Self.bytes(high), inclusive: false))
    }

    private static func bytes(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}

/// A lexicographic interval `min max` as ZRANGEBYLEX, ZLEXCOUNT and ZREMRANGEBYLEX take it (Redis's
/// `zslParseLexRange`): `-` and `+` for the ends, `[member` inclusive, `(member` exclusive.
///
/// Redis defines lex ranges for sets whose members all have the same score, where score order is member order;
/// kvnode answers them from the member records, in member order, which is that same order then (with mixed scores
/// Redis's answer is unspecified).
struct LexInterval {
    enum Bound {
        case minimum, maximum
        case inclusive([UInt8]), exclusive([UInt8])
    }

    var min: Bound
    var max: Bound

    /// Parses the interval in arguments `minIndex` and `maxIndex`.
    /// - Throws: `ERR min or max not valid string range item`.
    init(_ ctx: CommandContext, min minIndex: Int, max maxIndex: Int) throws {
        guard let min = ctx.request.withArgument(minIndex, Self.bound),
            let max = ctx.request.withArgument(maxIndex, Self.bound)
        else { throw CommandError("ERR min or max not valid string range item") }
        self.min = min
        self.max = max
    }

    private static func bound(_ bytes: UnsafeRawBufferPointer) -> Bound? {
        switch bytes.first {
        case UInt8(ascii: "+") where bytes.count == 1: .maximum
        case UInt8(ascii: "-") where bytes.count == 1: .minimum
        case UInt8(ascii: "["): .inclusive(Array(bytes[1...]))
        case UInt8(ascii: "("): .exclusive(Array(bytes[1...]))
        default: nil
        }
    }

    /// The interval over member records, or nil when it holds nothing.
    var memberRange: KeyRange? {
        var range = KeyRange()
        switch min {
        case .maximum: return nil
        case .minimum: break
        case .inclusive(let member): range.lower = .init(member, inclusive: true)
        case .exclusive(let member): range.lower = .init(member, inclusive: false)
        }
        switch max {
        case .minimum: return nil
        case .maximum: break
        case .inclusive(let member): range.upper = .init(member, inclusive: true)
        case .exclusive(let member): range.upper = .init(member, inclusive: false)
        }
        if let lower = range.lower, let upper = range.upper {
            let order = compareBytes(lower.key, upper.key)
            if order > 0 || (order == 0 && !(lower.inclusive && upper.inclusive)) { return nil }
        }
        return range
    }
}

/// How scored members are replied with their scores.
enum ScoredReplyShape {
    /// `[member, score, member, score, ...]` in both protocols (ZPOPMIN without a count).
    case flat
    /// Flat in RESP2, `[[member, score], ...]` in RESP3 (WITHSCORES, ZPOPMIN with a count): as Redis 7.
    case pairsInRESP3
    /// `[[member, score], ...]` in both protocols (ZMPOP).
    case pairs
}

extension ReplyWriter {
    /// A score as Redis 7.0 replies it (`addReplyDouble`): a bulk string in RESP2, a double in RESP3, `%.17g`.
    mutating func score(_ score: Double) {
        SortedSetScore.withText(score) { double(bytes: $0) }
    }

    /// Members, with their scores when `withScores`, shaped as `shape` says.
    mutating func scoredMembers(_ items: [ScoredMember], withScores: Bool, shape: ScoredReplyShape = .pairsInRESP3) {
        scoredMembersHeader(items.count, withScores: withScores, shape: shape)
        for item in items {
            item.member.withUnsafeBytes { scoredMember($0, item.score, withScores: withScores, shape: shape) }
        }
    }

    /// The array header of `count` scored members shaped as `shape` says (`scoredMembers`).
    mutating func scoredMembersHeader(_ count: Int, withScores: Bool, shape: ScoredReplyShape = .pairsInRESP3) {
        arrayHeader(withScores && !pairs(shape) ? 2 * count : count)
    }

    /// One member of `scoredMembers`, after `scoredMembersHeader`.
    mutating func scoredMember(
        _ member: UnsafeRawBufferPointer, _ score: Double, withScores: Bool, shape: ScoredReplyShape = .pairsInRESP3
    ) {
        guard withScores else { return bulk(member) }
        if pairs(shape) { arrayHeader(2) }
        bulk(member)
        self.score(score)
    }

    private func pairs(_ shape: ScoredReplyShape) -> Bool {
        shape == .pairs || (shape == .pairsInRESP3 && version == .resp3)
    }
}

extension CommandContext {
    /// A score argument, read as Redis reads one (`getDoubleFromObject`): `ERR value is not a valid float` (or
    /// `error`) for anything but a whole number, `inf` or `-inf`.
    func scoreArgument(_ index: Int, error: CommandError = .notFloat) throws(CommandError) -> Double {
        guard let score = request.withArgument(index, { SortedSetScore.parse($0, strict: true) }) else { throw error }
        return score
    }
}

/// Positions (ranks) in a sorted set. The score index has no counts, so a rank costs a scan: from whichever end is
/// nearer, as Kvrocks does, so ZRANK, ZRANGE by index and ZREMRANGEBYRANK cost O(distance to the nearer end).
enum SortedSetRanks {
    /// Redis's normalisation of `start stop` (negative from the end, clamped): the ascending positions, or nil for an
    /// empty range.
    static func positions(start: Int, stop: Int, count: Int) -> ClosedRange<Int>? {
        var start = start < 0 ? count &+ start : start
        var stop = stop < 0 ? count &+ stop : stop
        if start < 0 { start = 0 }
        guard start <= stop, start < count else { return nil }
        if stop >= count { stop = count - 1 }
        return start...stop
    }

    /// Visits the members at ascending `positions`, in ascending order (descending when `reverse`), holding none of
    /// them: the walk starts from the nearer end. When the reply runs the other way, that walk only finds the reply's
    /// first member, and a second walk streams from there: O(distance to the nearer end + positions) steps.
    static func forEachMember(
        at positions: ClosedRange<Int>, of zset: StoredCollection, reverse: Bool, in keyspace: Keyspace,
        _ body: (_ member: UnsafeRawBufferPointer, _ score: Double) throws -> Void
    ) throws {
        let count = zset.count
        let fromTail = positions.lowerBound > count - 1 - positions.upperBound
        // The reply's first member, and how many members come before it in the reply's order.
        let first = reverse ? positions.upperBound : positions.lowerBound
        var skip = reverse ? count - 1 - first : first
        var range = KeyRange.all
        if fromTail != reverse {
            var before = reverse ? first : count - 1 - first  // in the nearer end's order
            var start: [UInt8]?
            try keyspace.forEachScoreIndexElement(of: zset, order: fromTail ? .descending : .ascending) { element in
                guard before == 0 else {
                    before -= 1
                    return true
                }
                start = Array(element)
                return false
            }
            guard let start else { return }
            range = reverse ? KeyRange(upper: .init(start, inclusive: true)) : KeyRange(lower: .init(start, inclusive: true))
            skip = 0
        }
        var left = positions.count
        try keyspace.forEachScored(of: zset, in: range, order: reverse ? .descending : .ascending) { member, score in
            guard skip == 0 else {
                skip -= 1
                return true
            }
            try body(member, score)
            left -= 1
            return left > 0
        }
    }

    /// The ascending rank of the score-index element `target`, which the set holds, scanning alternately from both
    /// ends in growing steps: O(distance to the nearer end).
    static func rank(of target: [UInt8], in zset: StoredCollection, _ keyspace: Keyspace) throws -> Int? {
        var afterLow: [UInt8]?
        var beforeHigh: [UInt8]?
        var seenLow = 0
        var seenHigh = 0
        var step = 32
        while seenLow + seenHigh < zset.count {
            for fromTail in [false, true] {
                var range = KeyRange()
                if fromTail, let beforeHigh { range.restrict(before: beforeHigh) }
                if !fromTail, let afterLow { range.restrict(after: afterLow) }
                var visited = 0
                var found = false
                var last: [UInt8]?
                try keyspace.forEachScoreIndexElement(
                    of: zset, in: range, order: fromTail ? .descending : .ascending
                ) { element in
                    if element.elementsEqual(target) {
                        found = true
                        return false
                    }
                    visited += 1
                    if visited == step { last = Array(element) }
                    return visited < step
                }
                if found { return fromTail ? zset.count - 1 - (seenHigh + visited) : seenLow + visited }
                guard let last else { return nil }
                if fromTail {
                    seenHigh += visited
                    beforeHigh = last
                } else {
                    seenLow += visited
                    afterLow = last
                }
            }
            step *= 2
        }
        return nil
    }
}

extension Keyspace {
    /// Replaces `key` with a sorted set of `items` (distinct members), as the STORE forms do (Redis's `setKey`):
    /// the reply is its size; an empty result deletes the key instead (`del` notification when it existed).
    func storeSortedSet(_ items: [ScoredMember], at key: ByteBuffer, event: StaticString, _ ctx: CommandContext) throws {
        var (destination, replaced) = try replaceWithCollection(key, .sortedSet)
        guard !items.isEmpty else {
            if replaced { ctx.notify(.generic, "del", key: key) }
            return ctx.reply.integer(0)
        }
        // Redis builds the result in its large encoding and converts it when it is small enough.
        destination.metadata.isPromoted = items.count > CollectionEncoding.zsetMaxListpackEntries
            || items.contains { $0.member.count > CollectionEncoding.zsetMaxListpackValue }
        for item in items {
            let score = destination.metadata.isPromoted || item.score != 0 ? item.score : 0
            setScore(&destination, ByteBuffer(bytes: item.member), score, previous: nil)
        }
        try save(&destination)
        ctx.notify(.sortedSet, event, key: key)
        ctx.reply.integer(items.count)
    }

    /// Removes `items` from the set and saves it; a set left empty is deleted (`del` notification after `event`).
    func removeScored(
        _ items: [ScoredMember], from zset: inout StoredCollection, event: StaticString, notify: EventNotify
    ) throws {
        guard !items.isEmpty else { return }
        for item in items { removeScored(&zset, ByteBuffer(bytes: item.member), item.score) }
        try save(&zset)
        notify(.sortedSet, event, zset.key)
        if zset.count == 0 { notify(.generic, "del", zset.key) }
    }
}
