import KVStore
import NIOCore
import RESP

/// ZPOPMIN, ZPOPMAX, ZMPOP and ZRANDMEMBER. A pop reads only the members it takes, from the matching end of the
/// score index. The blocking forms (BZPOPMIN, BZPOPMAX, BZMPOP: `BlockingSortedSetCommands`) share `popFirst`.
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
    static func take(
        _ count: Int, from zset: inout StoredCollection, highest: Bool, keyspace: Keyspace, notify: EventNotify
    ) throws -> [ScoredMember] {
        var items: [ScoredMember] = []
        items.reserveCapacity(min(count, zset.count))
        // From the top, one more: the highest entry left is where the next pop's backward scan starts.
        var next: [UInt8]?
        try keyspace.forEachScored(of: zset, order: highest ? .descending : .ascending) { member, score in
            guard items.count < count else {
                next = ScoredMember(member: Array(member), score: score).indexElement
                return false
            }
            items.append(ScoredMember(member: Array(member), score: score))
            return items.count < count || highest
        }
        try keyspace.removeScored(items, from: &zset, event: highest ? "zpopmax" : "zpopmin", notify: notify)
        if highest {
            if let next { keyspace.noteHighestLive(zset, next) }
        } else if let last = items.last {
            keyspace.noteRemovedBelow(zset, through: last.indexElement)
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
        let items = try take(count, from: &zset, highest: highest, keyspace: ctx.keyspace, notify: ctx.eventNotify)
        ctx.reply.scoredMembers(items, withScores: true, shape: ctx.argumentCount == 3 ? .pairsInRESP3 : .flat)
    }

    /// ZMPOP's and BZMPOP's `numkeys key [key ...] MIN|MAX [COUNT count]`.
    struct MultiPop {
        /// The key arguments' positions.
        var keys: Range<Int>
        var highest: Bool
        var count: Int
    }

    /// Parses `numkeys key... MIN|MAX [COUNT count]` starting at `numberIndex`, with Redis's errors.
    static func multiPopArguments(_ ctx: CommandContext, numberIndex: Int) throws -> MultiPop {
        let numkeysError = CommandError("ERR numkeys should be greater than 0")
        let keyCount = try ctx.integerArgument(numberIndex, error: numkeysError)
        guard keyCount > 0 else { throw numkeysError }
        let whereIndex = numberIndex &+ 1 &+ keyCount
        guard whereIndex > numberIndex + 1, whereIndex < ctx.argumentCount else { throw CommandError.syntax }
        let highest: Bool
        if ctx.argument(whereIndex, is: "min") {
            highest = false
        } else if ctx.argument(whereIndex, is: "max") {
            highest = true
        } else {
            throw CommandError.syntax
        }
        let count = try ctx.multiPopCount(from: whereIndex + 1)
        return MultiPop(keys: (numberIndex + 1)..<whereIndex, highest: highest, count: count ?? 1)
    }

    /// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`: `[key, [[member, score], ...]]` from the first key that
    /// holds a sorted set, or a null array.
    static func multiPop(_ ctx: CommandContext) throws {
        let request = try multiPopArguments(ctx, numberIndex: 1)
        let keys = request.keys.map { ctx.argument($0) }
        let popped = try popFirst(
            keys, highest: request.highest, count: request.count, keyspace: ctx.keyspace, notify: ctx.eventNotify,
            reply: &ctx.reply, shape: .keyAndPairs)
        if !popped { ctx.reply.nullArray() }
    }

    /// How a pop naming its key replies.
    enum KeyedReplyShape {
        /// `[key, member, score, ...]` (BZPOPMIN, BZPOPMAX).
        case keyAndFlat
        /// `[key, [[member, score], ...]]` (ZMPOP, BZMPOP).
        case keyAndPairs
    }

    /// Pops up to `count` members from the first of `keys` that holds a sorted set, writing the reply in `shape`.
    /// As Redis: keys are looked at in order until one exists; only those keys' types are checked.
    /// - Returns: false when none exists (nothing written).
    /// - Throws: `WrongTypeError` for a key of another type met first, before any change.
    static func popFirst(
        _ keys: [ByteBuffer], highest: Bool, count: Int, keyspace: Keyspace, notify: EventNotify,
        reply: inout ReplyWriter, shape: KeyedReplyShape
    ) throws -> Bool {
        for key in keys {
            guard var zset = try keyspace.collectionForWrite(key, .sortedSet) else { continue }
            let items = try take(count, from: &zset, highest: highest, keyspace: keyspace, notify: notify)
            switch shape {
            case .keyAndPairs:
                reply.arrayHeader(2)
                reply.bulk(key)
                reply.scoredMembers(items, withScores: true, shape: .pairs)
            case .keyAndFlat:
                reply.arrayHeader(1 + 2 * items.count)
                reply.bulk(key)
                for item in items {
                    item.member.withUnsafeBytes { reply.bulk($0) }
                    reply.score(item.score)
                }
            }
            return true
        }
        return false
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
