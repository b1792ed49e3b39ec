import KVStore
import NIOCore
import RESP

/// SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD, SPOP, SRANDMEMBER, SMOVE, SINTER, SUNION, SDIFF and their
/// STORE forms, SINTERCARD, SSCAN: the set family, on a collection record plus one element record per member
/// (`ElementLayout.setMember`). SCARD is O(1). Every member added or removed is a change-log event (`sadd key
/// member`, `srem key member`); a STORE replaces its destination with `del` then one `sadd` per member.
struct SetCommands: CommandFamily {
    let scanCursors: ScanCursors

    static let member = ElementLayout.setMember

    var commands: [CommandSpec] {
        let scan = ElementScan(cursors: scanCursors)
        return [
            CommandSpec(.sadd, handler: Self.add),
            CommandSpec(.srem, handler: Self.remove),
            CommandSpec(.smembers, handler: Self.members),
            CommandSpec(.sismember) { try CollectionReads.contains($0, .set, kind: Self.member) },
            CommandSpec(.smismember, handler: Self.areMembers),
            CommandSpec(.scard) { try CollectionReads.count($0, .set) },
            CommandSpec(.spop, handler: Self.pop),
            CommandSpec(.srandmember, handler: Self.randomMember),
            CommandSpec(.smove, handler: Self.move),
            CommandSpec(.sinter) { try Self.algebra($0, keysFrom: 1, operation: .intersection, store: nil) },
            CommandSpec(.sinterstore) { try Self.algebra($0, keysFrom: 2, operation: .intersection, store: "sinterstore") },
            CommandSpec(.sunion) { try Self.algebra($0, keysFrom: 1, operation: .union, store: nil) },
            CommandSpec(.sunionstore) { try Self.algebra($0, keysFrom: 2, operation: .union, store: "sunionstore") },
            CommandSpec(.sdiff) { try Self.algebra($0, keysFrom: 1, operation: .difference, store: nil) },
            CommandSpec(.sdiffstore) { try Self.algebra($0, keysFrom: 2, operation: .difference, store: "sdiffstore") },
            CommandSpec(.sintercard, handler: Self.intersectionCardinality),
            CommandSpec(.sscan) { try scan.run($0, type: .set, kind: Self.member, withValues: false) },
        ]
    }

    // MARK: Membership

    /// `SADD key member [member ...]`: the number of members added.
    static func add(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        var set = try keyspace.collectionForWrite(key, .set) ?? keyspace.createCollection(key, .set)
        var added = 0
        for index in 2..<ctx.argumentCount where try insert(ctx.argument(index), into: &set, keyspace) {
            added += 1
        }
        CollectionEncoding.noteSize(&set)
        try keyspace.save(&set)
        if added > 0 { ctx.notify(.set, "sadd", key: key) }
        ctx.reply.integer(added)
    }

    /// Adds one member (logged as `sadd`) unless present.
    /// - Returns: whether it was added.
    private static func insert(_ member: ByteBuffer, into set: inout StoredCollection, _ keyspace: Keyspace) throws -> Bool {
        if set.mayHaveElements,
            try keyspace.hasElement(of: set, kind: Self.member, member)
        {
            return false
        }
        keyspace.putElement(&set, kind: Self.member, member, value: ByteBuffer(), event: .setAdd)
        CollectionEncoding.noteSetAdd(&set, member: member)
        set.count += 1
        return true
    }

    /// Removes one member (logged as `srem`) when present.
    /// - Returns: whether it was there.
    private static func extract(_ member: ByteBuffer, from set: inout StoredCollection, _ keyspace: Keyspace) throws -> Bool {
        guard try keyspace.hasElement(of: set, kind: Self.member, member) else {
            return false
        }
        keyspace.removeElement(&set, kind: Self.member, member, event: .setRemove)
        set.count -= 1
        return true
    }

    /// `SREM key member [member ...]`: the number of members removed; the key goes with its last member.
    static func remove(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        try CollectionRemoval.removeEach(ctx, .set, notify: .set, event: "srem") { member, set in
            try extract(member, from: &set, keyspace)
        }
    }

    /// `SMEMBERS key`: every member, streamed from one range scan into the reply.
    static func members(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let set = try keyspace.collection(ctx.argument(1), .set)
        let count = set?.count ?? 0
        ctx.reply.setHeader(count)
        guard let set else { return }
        try keyspace.forEachCounted(of: set, kind: Self.member) { member, _ in ctx.reply.bulk(member) }
    }

    static func areMembers(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let set = try keyspace.collection(ctx.argument(1), .set)
        ctx.reply.arrayHeader(ctx.argumentCount - 2)
        for index in 2..<ctx.argumentCount {
            let found = try set.map { set in
                try keyspace.hasElement(of: set, kind: Self.member, ctx.argument(index))
            } ?? false
            ctx.reply.integer(found ? 1 : 0)
        }
    }

    /// `SMOVE source destination member`: 1 when the member moved (or is already in both, source and destination
    /// being the same key), 0 when the source does not hold it.
    static func move(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let sourceKey = ctx.argument(1)
        let destinationKey = ctx.argument(2)
        let member = ctx.argument(3)
        // As Redis: a missing source answers 0 before the destination's type is looked at.
        guard var source = try keyspace.collectionForWrite(sourceKey, .set) else { return ctx.reply.integer(0) }
        let destination = try keyspace.collectionForWrite(destinationKey, .set)
        if sourceKey == destinationKey {
            let found = try keyspace.hasElement(of: source, kind: Self.member, member)
            return ctx.reply.integer(found ? 1 : 0)
        }
        guard try extract(member, from: &source, keyspace) else { return ctx.reply.integer(0) }
        try keyspace.save(&source)
        ctx.notify(.set, "srem", key: sourceKey)
        if source.count == 0 { ctx.notify(.generic, "del", key: sourceKey) }
        var target = destination ?? keyspace.createCollection(destinationKey, .set)
        let added = try insert(member, into: &target, keyspace)
        CollectionEncoding.noteSize(&target)
        try keyspace.save(&target)
        if added { ctx.notify(.set, "sadd", key: destinationKey) }
        ctx.reply.integer(1)
    }

    // MARK: Random members

    /// `SPOP key [count]`: removes and replies random members (a set of them with a count). Taking every member
    /// deletes the key at once (logged as `del`, as Redis propagates it); fewer are logged one `srem` each.
    static func pop(_ ctx: CommandContext) throws {
        guard ctx.argumentCount <= 3 else { throw CommandError.syntax }
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        guard ctx.argumentCount == 3 else {
            guard var set = try keyspace.collectionForWrite(key, .set),
                let member = try RandomElements.one(of: set, kind: Self.member, in: keyspace)
            else { return ctx.reply.null() }
            keyspace.removeElement(&set, kind: Self.member, ByteBuffer(bytes: member), event: .setRemove)
            set.count -= 1
            try keyspace.save(&set)
            ctx.notify(.set, "spop", key: key)
            if set.count == 0 { ctx.notify(.generic, "del", key: key) }
            return member.withUnsafeBytes { ctx.reply.bulk($0) }
        }
        let positive = CommandError("ERR value is out of range, must be positive")
        let count = try ctx.integerArgument(2, error: positive)
        guard count >= 0 else { throw positive }
        guard var set = try keyspace.collectionForWrite(key, .set), count > 0 else { return ctx.reply.setHeader(0) }
        ctx.notify(.set, "spop", key: key)
        if count >= set.count {
            ctx.reply.setHeader(set.count)
            try keyspace.forEachCounted(of: set, kind: Self.member) { member, _ in ctx.reply.bulk(member) }
            try keyspace.delete(key)
            ctx.notify(.generic, "del", key: key)
            return
        }
        let members = try RandomElements.distinct(count, of: set, kind: Self.member, in: keyspace)
        ctx.reply.setHeader(members.count)
        for member in members {
            member.withUnsafeBytes { ctx.reply.bulk($0) }
            keyspace.removeElement(&set, kind: Self.member, ByteBuffer(bytes: member), event: .setRemove)
        }
        set.count -= members.count
        try keyspace.save(&set)
    }

    /// `SRANDMEMBER key [count]`: a random member; with a count, that many distinct members (all of them when the set
    /// is smaller), or with a negative count that many with repetitions. An array, not a set, in RESP3 (as Redis 7).
    static func randomMember(_ ctx: CommandContext) throws {
        guard ctx.argumentCount <= 3 else { throw CommandError.syntax }
        let keyspace = ctx.keyspace
        guard ctx.argumentCount == 3 else {
            guard let set = try keyspace.collection(ctx.argument(1), .set),
                let member = try RandomElements.one(of: set, kind: Self.member, in: keyspace)
            else { return ctx.reply.null() }
            return member.withUnsafeBytes { ctx.reply.bulk($0) }
        }
        let count = try ctx.randomCountArgument(2)
        guard let set = try keyspace.collection(ctx.argument(1), .set), count != 0 else {
            return ctx.reply.arrayHeader(0)
        }
        let members = try RandomElements.sample(count, of: set, kind: Self.member, in: keyspace)
        ctx.reply.arrayHeader(members.count)
        for member in members { member.withUnsafeBytes { ctx.reply.bulk($0) } }
    }

    // MARK: Algebra

    enum Operation {
        case intersection, union, difference
    }

    /// The sets named by arguments `start...`, in order; nil for a missing key. Every key's type is checked first,
    /// as Redis 7 does: a key of another type fails the command even after a missing one.
    private static func sets(_ ctx: CommandContext, from start: Int, to end: Int, forWrite: Bool) throws -> [StoredCollection?] {
        let keyspace = ctx.keyspace
        return try (start..<end).map { index in
            forWrite
                ? try keyspace.collectionForWrite(ctx.argument(index), .set)
                : try keyspace.collection(ctx.argument(index), .set)
        }
    }

    /// The members of the operation's result, in no particular order.
    private static func compute(
        _ operation: Operation, of sets: [StoredCollection?], in keyspace: Keyspace, limit: Int = 0
    ) throws -> [[UInt8]] {
        var result: [[UInt8]] = []
        switch operation {
        case .intersection:
            // A missing key is an empty set: nothing in common.
            guard !sets.contains(where: { $0 == nil }) else { return [] }
            let ordered = sets.compactMap { $0 }.sorted { $0.count < $1.count }
            guard let smallest = ordered.first else { return [] }
            let others = ordered.dropFirst().filter { $0.metadata.generation != smallest.metadata.generation }
            try keyspace.forEachElement(of: smallest, kind: Self.member) { member, _ in
                for other in others where try !keyspace.hasElement(of: other, kind: Self.member, member) {
                    return true
                }
                result.append(Array(member))
                return limit == 0 || result.count < limit
            }
        case .union:
            var seen = Set<[UInt8]>()
            for set in sets.compactMap({ $0 }) {
                try keyspace.forEachElement(of: set, kind: Self.member) { member, _ in
                    let element = Array(member)
                    if seen.insert(element).inserted { result.append(element) }
                    return true
                }
            }
        case .difference:
            guard let first = sets.first, let first else { return [] }
            let others = sets.dropFirst().compactMap { $0 }
            // The first set minus itself is empty.
            if others.contains(where: { $0.metadata.generation == first.metadata.generation }) { return [] }
            try keyspace.forEachElement(of: first, kind: Self.member) { member, _ in
                for other in others where try keyspace.hasElement(of: other, kind: Self.member, member) {
                    return true
                }
                result.append(Array(member))
                return true
            }
        }
        return result
    }

    /// SINTER, SUNION, SDIFF (and SMEMBERS, the union of one set): the resulting set. With `store`, the
    /// SINTERSTORE/SUNIONSTORE/SDIFFSTORE event name: the result replaces the key in argument 1 (deleted when
    /// empty) and the reply is its size.
    static func algebra(_ ctx: CommandContext, keysFrom start: Int, operation: Operation, store: StaticString?) throws {
        let keyspace = ctx.keyspace
        let sets = try sets(ctx, from: start, to: ctx.argumentCount, forWrite: store != nil)
        let members = try compute(operation, of: sets, in: keyspace)
        guard let store else {
            ctx.reply.setHeader(members.count)
            for member in members { member.withUnsafeBytes { ctx.reply.bulk($0) } }
            return
        }
        let destinationKey = ctx.argument(1)
        var (destination, replaced) = try keyspace.replaceWithCollection(destinationKey, .set)
        guard !members.isEmpty else {
            if replaced { ctx.notify(.generic, "del", key: destinationKey) }
            return ctx.reply.integer(0)
        }
        for member in members {
            let buffer = ByteBuffer(bytes: member)
            keyspace.putElement(&destination, kind: Self.member, buffer, value: ByteBuffer(), event: .setAdd)
            CollectionEncoding.noteSetAdd(&destination, member: buffer)
        }
        destination.count = members.count
        CollectionEncoding.noteSize(&destination)
        try keyspace.save(&destination)
        ctx.notify(.set, store, key: destinationKey)
        ctx.reply.integer(members.count)
    }

    /// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the intersection, counting up to LIMIT (0: all).
    static func intersectionCardinality(_ ctx: CommandContext) throws {
        let numkeysError = CommandError("ERR numkeys should be greater than 0")
        let count = try ctx.integerArgument(1, error: numkeysError)
        guard count > 0 else { throw numkeysError }
        guard count <= ctx.argumentCount - 2 else {
            throw CommandError("ERR Number of keys can't be greater than number of args")
        }
        var limit = 0
        var index = 2 + count
        while index < ctx.argumentCount {
            guard ctx.argument(index, is: "limit"), index + 1 < ctx.argumentCount else { throw CommandError.syntax }
            let limitError = CommandError("ERR LIMIT can't be negative")
            limit = try ctx.integerArgument(index + 1, error: limitError)
            guard limit >= 0 else { throw limitError }
            index += 2
        }
        let sets = try sets(ctx, from: 2, to: 2 + count, forWrite: false)
        ctx.reply.integer(try compute(.intersection, of: sets, in: ctx.keyspace, limit: limit).count)
    }
}
