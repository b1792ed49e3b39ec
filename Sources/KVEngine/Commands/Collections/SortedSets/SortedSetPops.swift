import KVStore
import NIOCore
import RESP

/// ZPOPMIN, ZPOPMAX, ZMPOP and ZRANDMEMBER. A pop reads only the members it takes, from the matching end of the
/// score index. (BZPOPMIN, BZPOPMAX and BZMPOP need the blocking machinery and are not implemented here.)
enum SortedSetPops {
    static var commands: [CommandSpec] {
        [
            CommandSpec(.zpopmin) { try pop($0, highest: false) },
            CommandSpec(.zpopmax) { try pop($0, highest: true) },
            CommandSpec(.zmpop, handler: multiPop),
            CommandSpec(.zrandmember, handler: randomMembers),
        ]
    }

    /// Removes up to `count` members from the lowest (highest) end of the set, notifying `zpopmin`/`zpopmax` (and
    /// `del` when it empties).
    static func take(_ count: Int, from zset: inout StoredCollection, highest: Bool, _ ctx: CommandContext) throws -> [ScoredMember] {
        var items: [ScoredMember] = []
        items.reserveCapacity(min(count, zset.count))
        // From the top, one more: the highest entry left is where the next pop's backward scan starts.
        var next: [UInt8]?
        try ctx.keyspace.forEachScored(of: zset, order: highest ? .descending : .ascending) { member, score in
            guard items.count < count else {
                next = ScoredMember(member: Array(member), score: score).indexElement
                return false
            }
            items.append(ScoredMember(member: Array(member), score: score))
            return items.count < count || highest
        }
        try ctx.keyspace.removeScored(items, from: &zset, event: highest ? "zpopmax" : "zpopmin", ctx)
        if highest {
            if let next { ctx.keyspace.noteHighestLive(zset, next) }
        } else if let last = items.last {
            ctx.keyspace.noteRemovedBelow(zset, through: last.indexElement)
        }
        return items
    }

    /// `ZPOPMIN key [count]` / `ZPOPMAX key [count]`: `[member, score]` without a count; with one, that many pairs
    /// (nested in RESP3, as Redis 7).
    static func pop(_ ctx: CommandContext, highest: Bool) throws {
        guard ctx.argumentCount <= 3 else { throw CommandError.syntax }
        var count = 1
        if ctx.argumentCount == 3 {
            let positive = CommandError("ERR value is out of range, must be positive")
            count = try ctx.integerArgument(2, error: positive)
            guard count >= 0 else { throw positive }
        }
        guard var zset = try ctx.keyspace.collectionForWrite(ctx.argument(1), .sortedSet), count > 0 else {
            return ctx.reply.arrayHeader(0)
        }
        let items = try take(count, from: &zset, highest: highest, ctx)
        ctx.reply.scoredMembers(items, withScores: true, shape: ctx.argumentCount == 3 ? .pairsInRESP3 : .flat)
    }

    /// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`: `[key, [[member, score], ...]]` from the first key that
    /// holds a sorted set, or a null array.
    static func multiPop(_ ctx: CommandContext) throws {
        let numkeysError = CommandError("ERR numkeys should be greater than 0")
        let keyCount = try ctx.integerArgument(1, error: numkeysError)
        guard keyCount > 0 else { throw numkeysError }
        let whereIndex = 2 &+ keyCount
        guard whereIndex > 2, whereIndex < ctx.argumentCount else { throw CommandError.syntax }
        let highest: Bool
        if ctx.argument(whereIndex, is: "min") {
            highest = false
        } else if ctx.argument(whereIndex, is: "max") {
            highest = true
        } else {
            throw CommandError.syntax
        }
        let count = try ctx.multiPopCount(from: whereIndex + 1)
        // As Redis: keys are looked at in order until one exists; only those keys' types are checked.
        for keyIndex in 2..<whereIndex {
            guard var zset = try ctx.keyspace.collectionForWrite(ctx.argument(keyIndex), .sortedSet) else { continue }
            let items = try take(count ?? 1, from: &zset, highest: highest, ctx)
            ctx.reply.arrayHeader(2)
            ctx.reply.bulk(ctx.argument(keyIndex))
            return ctx.reply.scoredMembers(items, withScores: true, shape: .pairs)
        }
        ctx.reply.nullArray()
    }

    /// `ZRANDMEMBER key [count [WITHSCORES]]`: a random member; with a count, that many distinct members (all of
    /// them when the set is smaller) or, negative, that many with repetitions; WITHSCORES adds their scores.
    static func randomMembers(_ ctx: CommandContext) throws {
        guard ctx.argumentCount <= 4 else { throw CommandError.syntax }
        let keyspace = ctx.keyspace
        let kind = ElementLayout.sortedSetMember
        guard ctx.argumentCount >= 3 else {
            guard let zset = try keyspace.collection(ctx.argument(1), .sortedSet),
                let member = try RandomElements.one(of: zset, kind: kind, in: keyspace)
            else { return ctx.reply.null() }
            return member.withUnsafeBytes { ctx.reply.bulk($0) }
        }
        let count = try ctx.randomCountArgument(2)
        let withScores = ctx.argumentCount == 4
        guard !withScores || ctx.argument(3, is: "withscores") else { throw CommandError.syntax }
        guard let zset = try keyspace.collection(ctx.argument(1), .sortedSet), count != 0 else {
            return ctx.reply.arrayHeader(0)
        }
        let members = try RandomElements.sample(count, of: zset, kind: kind, in: keyspace)
        let items = try members.map { member in
            ScoredMember(
                member: member,
                score: withScores ? try member.withUnsafeBytes { try keyspace.score(of: zset, $0) } ?? 0 : 0)
        }
        ctx.reply.scoredMembers(items, withScores: withScores)
    }
}
