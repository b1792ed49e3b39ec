import KVStore
import NIOCore
import RESP

/// ZRANGE (by index, BYSCORE, BYLEX, REV, LIMIT), ZRANGESTORE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZREVRANGE,
/// ZRANGEBYLEX, ZREVRANGEBYLEX, ZCOUNT, ZLEXCOUNT and ZREMRANGEBYRANK/SCORE/LEX, as Redis 7.0's
/// `zrangeGenericCommand` and `zremrangeGenericCommand` parse and answer them.
///
/// By score: a range scan of the score index from the interval's first element; by lex: a range scan of the member
/// records; by index: a scan from the nearer end (`SortedSetRanks`). ZCOUNT and ZLEXCOUNT count by scanning the
/// interval: O(members in it).
enum SortedSetRanges {
    static var commands: [CommandSpec] {
        [
            CommandSpec(.zrange) { try range($0, source: 1, store: false, kind: nil, reverse: nil) },
            CommandSpec(.zrangestore) { try range($0, source: 2, store: true, kind: nil, reverse: nil) },
            CommandSpec(.zrangebyscore) { try range($0, source: 1, store: false, kind: .score, reverse: false) },
            CommandSpec(.zrevrangebyscore) { try range($0, source: 1, store: false, kind: .score, reverse: true) },
            CommandSpec(.zrevrange) { try range($0, source: 1, store: false, kind: .rank, reverse: true) },
            CommandSpec(.zrangebylex) { try range($0, source: 1, store: false, kind: .lex, reverse: false) },
            CommandSpec(.zrevrangebylex) { try range($0, source: 1, store: false, kind: .lex, reverse: true) },
            CommandSpec(.zcount, handler: countByScore),
            CommandSpec(.zlexcount, handler: countByLex),
            CommandSpec(.zremrangebyrank) { try removeRange($0, kind: .rank) },
            CommandSpec(.zremrangebyscore) { try removeRange($0, kind: .score) },
            CommandSpec(.zremrangebylex) { try removeRange($0, kind: .lex) },
        ]
    }

    enum Kind {
        case rank, score, lex
    }

    /// A parsed range: by index, by score or by lex.
    enum Bounds {
        case rank(start: Int, stop: Int)
        case score(ScoreInterval)
        case lex(LexInterval)

        /// Parses `min max` (or `start stop`) in arguments `minIndex` and `maxIndex`.
        init(_ kind: Kind, _ ctx: CommandContext, min minIndex: Int, max maxIndex: Int) throws {
            switch kind {
            case .rank:
                self = .rank(start: try ctx.integerArgument(minIndex), stop: try ctx.integerArgument(maxIndex))
            case .score: self = .score(try ScoreInterval(ctx, min: minIndex, max: maxIndex))
            case .lex: self = .lex(try LexInterval(ctx, min: minIndex, max: maxIndex))
            }
        }
    }

    /// The members of `zset` in `bounds`, in ascending order (descending with `reverse`), after skipping `offset` and
    /// taking at most `limit` (negative: no limit) for score and lex ranges. Lex ranges read scores only when
    /// `withScores`.
    static func members(
        of zset: StoredCollection, in bounds: Bounds, reverse: Bool, offset: Int = 0, limit: Int = -1,
        withScores: Bool = true, _ keyspace: Keyspace
    ) throws -> [ScoredMember] {
        var items: [ScoredMember] = []
        try forEachMember(
            of: zset, in: bounds, reverse: reverse, offset: offset, limit: limit, withScores: withScores, keyspace
        ) { member, score in
            items.append(ScoredMember(member: Array(member), score: score))
        }
        return items
    }

    /// Visits what `members` returns, one member at a time, holding none of them.
    static func forEachMember(
        of zset: StoredCollection, in bounds: Bounds, reverse: Bool, offset: Int = 0, limit: Int = -1,
        withScores: Bool = true, _ keyspace: Keyspace,
        _ body: (_ member: UnsafeRawBufferPointer, _ score: Double) throws -> Void
    ) throws {
        // Redis: a negative offset, or one past the end, selects nothing; a negative limit is no limit.
        guard offset >= 0, offset == 0 || offset < zset.count, limit != 0 else { return }
        var skip = offset
        var taken = 0
        func take(_ member: UnsafeRawBufferPointer, _ score: Double) throws -> Bool {
            guard skip == 0 else {
                skip -= 1
                return true
            }
            try body(member, score)
            taken += 1
            return limit < 0 || taken < limit
        }
        let order: IterationOrder = reverse ? .descending : .ascending
        switch bounds {
        case .rank(let start, let stop):
            guard let positions = rankPositions(start: start, stop: stop, reverse: reverse, count: zset.count) else {
                return
            }
            try SortedSetRanks.forEachMember(at: positions, of: zset, reverse: reverse, in: keyspace, body)
        case .score(let interval):
            guard !interval.isEmpty else { return }
            try keyspace.forEachScored(of: zset, in: interval.indexRange, order: order, take)
        case .lex(let interval):
            guard let range = interval.memberRange else { return }
            try keyspace.forEachElement(of: zset, kind: ElementLayout.sortedSetMember, in: range, order: order) {
                member, text in
                try take(member, withScores ? SortedSetScore.parse(text) ?? 0 : 0)
            }
        }
    }

    /// The ascending positions of `start stop`, which count from the top when `reverse`; nil when empty.
    static func rankPositions(start: Int, stop: Int, reverse: Bool, count: Int) -> ClosedRange<Int>? {
        guard let positions = SortedSetRanks.positions(start: start, stop: stop, count: count) else { return nil }
        return reverse ? (count - 1 - positions.upperBound)...(count - 1 - positions.lowerBound) : positions
    }

    /// Redis's `zrangeGenericCommand`: `ZRANGE key min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
    /// [WITHSCORES]`, `ZRANGESTORE dst src ...` (no WITHSCORES) and the older forms, which fix the kind and direction
    /// (`kind`, `reverse` non-nil) and take only WITHSCORES and LIMIT. The key is at `source`, the range after it.
    static func range(_ ctx: CommandContext, source: Int, store: Bool, kind fixedKind: Kind?, reverse fixedReverse: Bool?) throws {
        var kind = fixedKind
        var reverse = fixedReverse
        var withScores = false
        var offset = 0
        var limit = -1
        var hasLimit = false
        var index = source + 3
        while index < ctx.argumentCount {
            let remaining = ctx.argumentCount - index - 1
            if !store && ctx.argument(index, is: "withscores") {
                withScores = true
            } else if ctx.argument(index, is: "limit") && remaining >= 2 {
                offset = try ctx.integerArgument(index + 1)
                limit = try ctx.integerArgument(index + 2)
                hasLimit = true
                index += 2
            } else if fixedReverse == nil && reverse == nil && ctx.argument(index, is: "rev") {
                reverse = true
            } else if fixedKind == nil && kind == nil && ctx.argument(index, is: "bylex") {
                kind = .lex
            } else if fixedKind == nil && kind == nil && ctx.argument(index, is: "byscore") {
                kind = .score
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        let rangeKind = kind ?? .rank
        let descending = reverse ?? false
        if hasLimit && rangeKind == .rank {
            throw CommandError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        }
        if withScores && rangeKind == .lex {
            throw CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        }
        // Reversed score and lex ranges are written `max min`.
        let swapped = descending && rangeKind != .rank
        let bounds = try Bounds(rangeKind, ctx, min: source + (swapped ? 2 : 1), max: source + (swapped ? 1 : 2))
        let keyspace = ctx.keyspace
        let zset = try keyspace.collection(ctx.argument(source), .sortedSet)
        if store {
            let items = try zset.map {
                try members(of: $0, in: bounds, reverse: descending, offset: offset, limit: limit, keyspace)
            } ?? []
            return try keyspace.storeSortedSet(items, at: ctx.argument(1), event: "zrangestore", ctx)
        }
        guard let zset else { return ctx.reply.scoredMembersHeader(0, withScores: withScores) }
        try replyMembers(of: zset, in: bounds, reverse: descending, offset: offset, limit: limit, withScores: withScores, ctx)
    }

    /// Writes the members of a ZRANGE-style reply as the index is read, so its memory is the reply's and never a
    /// copy of the members: straight into the reply for a range by index, whose size is known before; for a score
    /// or lex range into a page of its own, which follows the header once the members are counted.
    static func replyMembers(
        of zset: StoredCollection, in bounds: Bounds, reverse: Bool, offset: Int, limit: Int, withScores: Bool,
        _ ctx: CommandContext
    ) throws {
        let keyspace = ctx.keyspace
        if case .rank(let start, let stop) = bounds {
            let expected = rankPositions(start: start, stop: stop, reverse: reverse, count: zset.count)?.count ?? 0
            let replyStart = ctx.reply.buffer.writerIndex
            ctx.reply.scoredMembersHeader(expected, withScores: withScores)
            var written = 0
            try forEachMember(of: zset, in: bounds, reverse: reverse, withScores: withScores, keyspace) { member, score in
                ctx.reply.scoredMember(member, score, withScores: withScores)
                written += 1
            }
            // The index holds fewer members than the record counts: no reply rather than a malformed one.
            guard written == expected else {
                ctx.reply.buffer.moveWriterIndex(to: replyStart)
                throw CorruptCollectionError(key: Array(zset.key.readableBytesView))
            }
            return
        }
        var page = ReplyWriter(buffer: ByteBuffer(), version: ctx.reply.version)
        var count = 0
        try forEachMember(
            of: zset, in: bounds, reverse: reverse, offset: offset, limit: limit, withScores: withScores, keyspace
        ) { member, score in
            page.scoredMember(member, score, withScores: withScores)
            count += 1
        }
        ctx.reply.scoredMembersHeader(count, withScores: withScores)
        ctx.reply.buffer.writeBuffer(&page.buffer)
    }

    /// `ZCOUNT key min max`: the number of members with a score in the interval.
    static func countByScore(_ ctx: CommandContext) throws {
        let interval = try ScoreInterval(ctx, min: 2, max: 3)
        guard let zset = try ctx.keyspace.collection(ctx.argument(1), .sortedSet), !interval.isEmpty else {
            return ctx.reply.integer(0)
        }
        var count = 0
        try ctx.keyspace.forEachScoreIndexElement(of: zset, in: interval.indexRange) { _ in
            count += 1
            return true
        }
        ctx.reply.integer(count)
    }

    /// `ZLEXCOUNT key min max`: the number of members in the lex interval.
    static func countByLex(_ ctx: CommandContext) throws {
        let interval = try LexInterval(ctx, min: 2, max: 3)
        guard let zset = try ctx.keyspace.collection(ctx.argument(1), .sortedSet), let range = interval.memberRange
        else { return ctx.reply.integer(0) }
        var count = 0
        try ctx.keyspace.forEachElement(of: zset, kind: ElementLayout.sortedSetMember, in: range) { _, _ in
            count += 1
            return true
        }
        ctx.reply.integer(count)
    }

    /// `ZREMRANGEBYRANK key start stop`, `ZREMRANGEBYSCORE key min max`, `ZREMRANGEBYLEX key min max`: the number of
    /// members removed; the key goes with its last member.
    static func removeRange(_ ctx: CommandContext, kind: Kind) throws {
        let bounds = try Bounds(kind, ctx, min: 2, max: 3)
        let keyspace = ctx.keyspace
        guard var zset = try keyspace.collectionForWrite(ctx.argument(1), .sortedSet) else { return ctx.reply.integer(0) }
        let items = try members(of: zset, in: bounds, reverse: false, keyspace)
        let event: StaticString = switch kind {
        case .rank: "zremrangebyrank"
        case .score: "zremrangebyscore"
        case .lex: "zremrangebylex"
        }
        try keyspace.removeScored(items, from: &zset, event: event, notify: ctx.eventNotify)
        // Ranks and scores remove a run of consecutive index entries; lex ranges follow member order.
        if kind != .lex, let first = items.first, let last = items.last {
            try keyspace.noteRemovedRun(zset, first: first.indexElement, last: last.indexElement)
        }
        ctx.reply.integer(items.count)
    }
}
