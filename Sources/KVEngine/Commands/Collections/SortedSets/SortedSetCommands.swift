import KVStore
import NIOCore
import RESP

/// The sorted set family, Redis 7.0's replies, errors and notifications, on a collection record plus two records per
/// member (`Keyspace+SortedSets`: member → score, and a score index), so ZSCORE is one lookup, ZCARD is O(1), and
/// ranges by score, ZCOUNT and pops are range scans that never read the whole set. Ranks scan from the nearer end
/// (`SortedSetRanks`). Every member added, rescored or removed is a change-log event (`zadd key member score`,
/// `zrem key member`); a STORE replaces its destination with `del` then one `zadd` per member.
///
/// Ranges are in SortedSetRanges.swift, pops and random members in SortedSetPops.swift, the algebra
/// (ZUNION/ZINTER/ZDIFF) in SortedSetAlgebra.swift. The blocking pops (BZPOPMIN, BZPOPMAX, BZMPOP) are in
/// Blocking/BlockingSortedSetCommands.swift.
struct SortedSetCommands: CommandFamily {
    let scanCursors: ScanCursors

    static let member = ElementLayout.sortedSetMember

    var commands: [CommandSpec] {
        let scan = ElementScan(cursors: scanCursors)
        return [
            CommandSpec(.zadd, handler: Self.add),
            CommandSpec(.zincrby, handler: Self.incrementBy),
            CommandSpec(.zrem, handler: Self.remove),
            CommandSpec(.zscore, handler: Self.score),
            CommandSpec(.zmscore, handler: Self.scores),
            CommandSpec(.zcard) { try CollectionReads.count($0, .sortedSet) },
            CommandSpec(.zrank) { try Self.rank($0, reverse: false) },
            CommandSpec(.zrevrank) { try Self.rank($0, reverse: true) },
            CommandSpec(.zscan) { ctx in
                // A listpack-sized set comes whole in score order, as Redis's listpack holds it.
                try scan.run(
                    ctx, type: .sortedSet, kind: Self.member, withValues: true, writeValue: Self.scanScore,
                    visitWhole: { zset, body in
                        try ctx.keyspace.forEachScored(of: zset) { member, score in
                            try SortedSetScore.withText(score) { try body(member, $0) }
                        }
                    })
            },
        ] + SortedSetRanges.commands + SortedSetPops.commands + SortedSetAlgebra.commands
    }

    // MARK: Adding

    /// ZADD's flags.
    struct AddOptions {
        var onlyNew = false  // NX
        var onlyExisting = false  // XX
        var onlyGreater = false  // GT
        var onlyLess = false  // LT
        var countChanged = false  // CH
        var increment = false  // INCR
    }

    /// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`: the number of members added (or
    /// changed, with CH); with INCR, the member's new score, or null when a flag prevented the change.
    static func add(_ ctx: CommandContext) throws {
        var options = AddOptions()
        var index = 2
        while index < ctx.argumentCount {
            if ctx.argument(index, is: "nx") {
                options.onlyNew = true
            } else if ctx.argument(index, is: "xx") {
                options.onlyExisting = true
            } else if ctx.argument(index, is: "gt") {
                options.onlyGreater = true
            } else if ctx.argument(index, is: "lt") {
                options.onlyLess = true
            } else if ctx.argument(index, is: "ch") {
                options.countChanged = true
            } else if ctx.argument(index, is: "incr") {
                options.increment = true
            } else {
                break
            }
            index += 1
        }
        let elements = ctx.argumentCount - index
        guard elements > 0, elements % 2 == 0 else { throw CommandError.syntax }
        if options.onlyNew && options.onlyExisting {
            throw CommandError("ERR XX and NX options at the same time are not compatible")
        }
        if (options.onlyGreater && options.onlyNew) || (options.onlyLess && options.onlyNew)
            || (options.onlyGreater && options.onlyLess)
        {
            throw CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
        }
        if options.increment && elements > 2 {
            throw CommandError("ERR INCR option supports a single increment-element pair")
        }
        // Every score is checked before anything is written.
        let scores = try stride(from: index, to: ctx.argumentCount, by: 2).map { try ctx.scoreArgument($0) }
        try add(ctx, scores: scores, firstScoreAt: index, options)
    }

    /// `ZINCRBY key increment member`: the member's new score (a missing member starts at 0).
    static func incrementBy(_ ctx: CommandContext) throws {
        var options = AddOptions()
        options.increment = true
        try add(ctx, scores: [try ctx.scoreArgument(2)], firstScoreAt: 2, options)
    }

    /// Redis's `zsetAdd` for each `score member` pair from argument `firstScoreAt`, then the reply and the `zadd`
    /// (or `zincr`) notification.
    private static func add(_ ctx: CommandContext, scores: [Double], firstScoreAt start: Int, _ options: AddOptions) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        var zset: StoredCollection
        if let found = try keyspace.collectionForWrite(key, .sortedSet) {
            zset = found
        } else {
            guard !options.onlyExisting else { return options.increment ? ctx.reply.null() : ctx.reply.integer(0) }
            zset = keyspace.createCollection(key, .sortedSet)
            // Redis creates a set too big for a listpack in its large encoding directly.
            zset.metadata.isPromoted = scores.count > CollectionEncoding.zsetMaxListpackEntries
                || stride(from: start + 1, to: ctx.argumentCount, by: 2).contains {
                    ctx.request.length(of: $0) > CollectionEncoding.zsetMaxListpackValue
                }
        }
        var added = 0
        var updated = 0
        var result: Double?
        for (offset, increment) in scores.enumerated() {
            let member = ctx.argument(start + 2 * offset + 1)
            var score = increment
            if let current = zset.mayHaveElements ? try keyspace.score(of: zset, member) : nil {
                if options.onlyNew { continue }
                if options.increment {
                    score += current
                    guard !score.isNaN else { throw CommandError("ERR resulting score is not a number (NaN)") }
                }
                if (options.onlyLess && score >= current) || (options.onlyGreater && score <= current) { continue }
                result = score
                if score != current {
                    keyspace.setScore(&zset, member, normalized(score, in: zset), previous: current)
                    updated += 1
                }
            } else {
                if options.onlyExisting { continue }
                CollectionEncoding.noteSortedSetAdd(&zset, memberLength: member.readableBytes)
                result = score
                keyspace.setScore(&zset, member, normalized(score, in: zset), previous: nil)
                added += 1
            }
        }
        try keyspace.save(&zset)
        if added + updated > 0 { ctx.notify(.sortedSet, options.increment ? "zincr" : "zadd", key: key) }
        if options.increment {
            if let result { ctx.reply.score(normalized(result, in: zset)) } else { ctx.reply.null() }
        } else {
            ctx.reply.integer(options.countChanged ? added + updated : added)
        }
    }

    /// A score as the set's encoding keeps it: Redis's listpack stores −0 as 0, its skiplist keeps −0.
    static func normalized(_ score: Double, in zset: StoredCollection) -> Double {
        score == 0 && !zset.metadata.isPromoted ? 0 : score
    }

    // MARK: Removing

    /// `ZREM key member [member ...]`: the number of members removed; the key goes with its last member.
    static func remove(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        try CollectionRemoval.removeEach(ctx, .sortedSet, notify: .sortedSet, event: "zrem") { member, zset in
            guard let score = try keyspace.score(of: zset, member) else { return false }
            keyspace.removeScored(&zset, member, score)
            return true
        }
    }

    // MARK: Reading

    /// `ZSCORE key member`: the score, replied as stored (the stored text is Redis's reply format), or null.
    static func score(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        guard let zset = try keyspace.collection(ctx.argument(1), .sortedSet),
            try keyspace.element(of: zset, kind: Self.member, ctx.argument(2), { ctx.reply.double(bytes: $0) }) != nil
        else { return ctx.reply.null() }
    }

    /// `ZMSCORE key member [member ...]`: each member's score, or null.
    static func scores(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let zset = try keyspace.collection(ctx.argument(1), .sortedSet)
        ctx.reply.arrayHeader(ctx.argumentCount - 2)
        for index in 2..<ctx.argumentCount {
            let found: Void? = try zset.flatMap { zset in
                try keyspace.element(of: zset, kind: Self.member, ctx.argument(index)) { ctx.reply.double(bytes: $0) }
            }
            if found == nil { ctx.reply.null() }
        }
    }

    /// `ZRANK key member` / `ZREVRANK key member`: the member's position from the lowest (highest) score, or null.
    static func rank(_ ctx: CommandContext, reverse: Bool) throws {
        let keyspace = ctx.keyspace
        let member = ctx.argument(2)
        guard let zset = try keyspace.collection(ctx.argument(1), .sortedSet),
            let score = try keyspace.score(of: zset, member),
            let rank = try member.withUnsafeReadableBytes({
                try SortedSetRanks.rank(
                    of: Array(SortedSetScore.indexElement(score, member: $0).readableBytesView), in: zset, keyspace)
            })
        else { return ctx.reply.null() }
        ctx.reply.integer(reverse ? zset.count - 1 - rank : rank)
    }

    /// ZSCAN's scores: as Redis's scan prints them, which depends on the encoding: a listpack holds integral scores
    /// (within ±2⁶²) as integers (`1000000000000000000`), the skiplist prints `%.17g` (`1e+18`). Bulk strings in
    /// both protocols.
    static func scanScore(_ text: UnsafeRawBufferPointer, _ zset: StoredCollection, _ items: inout ReplyWriter) {
        guard !zset.metadata.isPromoted, let score = SortedSetScore.parse(text), score.isFinite,
            score >= Double(-Int64.max / 2), score <= Double(Int64.max / 2), score == score.rounded(.towardZero)
        else { return items.bulk(text) }
        items.bulk(decimal: Int(score))
    }
}
