import KVStore
import NIOCore
import RESP

/// LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS, LMOVE,
/// RPOPLPUSH and LMPOP: the list family, on a collection record with head and tail positions plus one element record
/// per item (`ListLayout`). Pushes, pops, LINDEX, LSET and LLEN are O(1) lookups; LRANGE streams from one seek. Every
/// item pushed, popped, set, inserted or removed is a change-log event (`rpush`, `lpop`, `lset`, `linsert`, `lrem`;
/// LTRIM logs the `lpop`/`rpop` of each item it drops). The blocking forms are in `BlockingListCommands`.
struct ListCommands: CommandFamily {
    var commands: [CommandSpec] {
        [
            CommandSpec(.lpush) { try Self.push($0, at: .head, onlyIfExists: false) },
            CommandSpec(.rpush) { try Self.push($0, at: .tail, onlyIfExists: false) },
            CommandSpec(.lpushx) { try Self.push($0, at: .head, onlyIfExists: true) },
            CommandSpec(.rpushx) { try Self.push($0, at: .tail, onlyIfExists: true) },
            CommandSpec(.lpop) { try Self.pop($0, from: .head) },
            CommandSpec(.rpop) { try Self.pop($0, from: .tail) },
            CommandSpec(.llen) { try CollectionReads.count($0, .list) },
            CommandSpec(.lrange, handler: Self.range),
            CommandSpec(.lindex, handler: Self.index),
            CommandSpec(.lset, handler: Self.set),
            CommandSpec(.linsert, handler: Self.insert),
            CommandSpec(.lrem, handler: Self.remove),
            CommandSpec(.ltrim, handler: Self.trim),
            CommandSpec(.lpos, handler: Self.position),
            CommandSpec(.lmove) { ctx in
                try Self.move(ctx, from: ListArguments.end(ctx, 3), to: ListArguments.end(ctx, 4))
            },
            CommandSpec(.rpoplpush) { try Self.move($0, from: .tail, to: .head) },
            CommandSpec(.lmpop, handler: Self.multiPop),
        ]
    }

    // MARK: Pushing and popping

    /// `LPUSH|RPUSH key element [element ...]`, and the X forms that push only onto an existing list: the length.
    static func push(_ ctx: CommandContext, at end: ListEnd, onlyIfExists: Bool) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        var list: StoredCollection
        if let existing = try keyspace.collectionForWrite(key, .list) {
            list = existing
        } else {
            guard !onlyIfExists else { return ctx.reply.integer(0) }
            list = keyspace.createList(key)
        }
        for index in 2..<ctx.argumentCount { keyspace.pushItem(&list, ctx.argument(index), at: end) }
        try keyspace.save(&list)
        ctx.notify(.list, end == .head ? "lpush" : "rpush", key: key)
        ctx.reply.integer(list.count)
    }

    /// `LPOP|RPOP key [count]`: an item, or with a count an array of up to that many (null for a missing key).
    static func pop(_ ctx: CommandContext, from end: ListEnd) throws {
        guard ctx.argumentCount <= 3 else { throw CommandError.wrongArity(ctx.argument(0, is: "lpop") ? "lpop" : "rpop") }
        let counted = ctx.argumentCount == 3
        var count = 1
        if counted {
            let positive = CommandError("ERR value is out of range, must be positive")
            count = try ctx.integerArgument(2, error: positive)
            guard count >= 0 else { throw positive }
        }
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        guard var list = try keyspace.collectionForWrite(key, .list) else {
            return counted ? ctx.reply.nullArray() : ctx.reply.null()
        }
        if counted && count == 0 { return ctx.reply.arrayHeader(0) }
        let items = try ListPops.pop(&list, from: end, count: count, keyspace: keyspace, notify: ctx.eventNotify)
        if counted { ctx.reply.arrayHeader(items.count) }
        for item in items { ctx.reply.bulk(item) }
    }

    /// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`: `[key, [items]]` from the first non-empty list, or
    /// null.
    static func multiPop(_ ctx: CommandContext) throws {
        let request = try ListArguments.multiPop(ctx, numberIndex: 1)
        guard let (key, items) = try ListPops.popFirst(request, keyspace: ctx.keyspace, notify: ctx.eventNotify) else {
            return ctx.reply.nullArray()
        }
        ListPops.writeKeyAndItems(&ctx.reply, key: key, items: items)
    }

    /// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT` and `RPOPLPUSH`: the item moved, or null when the source is
    /// empty. The destination's type is checked before anything is popped.
    static func move(_ ctx: CommandContext, from: ListEnd, to: ListEnd) throws {
        let moved = try ListPops.move(
            source: ctx.argument(1), destination: ctx.argument(2), from: from, to: to, keyspace: ctx.keyspace,
            notify: ctx.eventNotify)
        if let moved { ctx.reply.bulk(moved) } else { ctx.reply.null() }
    }

    // MARK: Reading

    /// `LRANGE key start stop`: the items between two indices (negative from the tail), streamed from one seek.
    static func range(_ ctx: CommandContext) throws {
        let start = try ctx.integerArgument(2)
        let stop = try ctx.integerArgument(3)
        guard let list = try ctx.keyspace.collection(ctx.argument(1), .list),
            let (first, last) = ListArguments.clamp(start, stop, count: list.count)
        else { return ctx.reply.arrayHeader(0) }
        ctx.reply.arrayHeader(last - first + 1)
        try ctx.keyspace.forEachItem(of: list, from: first, through: last) { _, item in
            ctx.reply.bulk(item)
            return true
        }
    }

    /// `LINDEX key index`: the item, or null.
    static func index(_ ctx: CommandContext) throws {
        let index = try ctx.integerArgument(2)
        guard let list = try ctx.keyspace.collection(ctx.argument(1), .list) else { return ctx.reply.null() }
        let resolved = index < 0 ? list.count + index : index
        let found: Void? = try ctx.keyspace.listItem(list, at: resolved) { ctx.reply.bulk($0) }
        if found == nil { ctx.reply.null() }
    }

    /// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`: the index of a match, or with COUNT an
    /// array of them; RANK picks the n-th match (from the tail when negative), MAXLEN bounds the items compared.
    static func position(_ ctx: CommandContext) throws {
        var rank = 1
        var count: Int?
        var maxLength = 0
        var index = 3
        while index < ctx.argumentCount {
            guard index + 1 < ctx.argumentCount else { throw CommandError.syntax }
            let value = try ctx.integerArgument(index + 1)
            if ctx.argument(index, is: "rank") {
                guard value != 0 else {
                    throw CommandError(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "
                            + "negative to start from the end of the list")
                }
                rank = value
            } else if ctx.argument(index, is: "count") {
                guard value >= 0 else { throw CommandError("ERR COUNT can't be negative") }
                count = value
            } else if ctx.argument(index, is: "maxlen") {
                guard value >= 0 else { throw CommandError("ERR MAXLEN can't be negative") }
                maxLength = value
            } else {
                throw CommandError.syntax
            }
            index += 2
        }
        guard let list = try ctx.keyspace.collection(ctx.argument(1), .list) else {
            return count == nil ? ctx.reply.null() : ctx.reply.arrayHeader(0)
        }
        let wanted = ctx.argument(2)
        // Matches to skip before the first reported one (rank magnitude - 1; LONG_MIN's magnitude saturates).
        var skip = rank == .min ? Int.max : abs(rank) - 1
        let limit = count.map { $0 == 0 ? Int.max : $0 } ?? 1
        var matches: [Int] = []
        var compared = 0
        try ctx.keyspace.forEachItem(
            of: list, from: 0, through: list.count - 1, order: rank > 0 ? .ascending : .descending
        ) { itemIndex, item in
            compared += 1
            if wanted.withUnsafeReadableBytes({ $0.elementsEqual(item) }) {
                if skip > 0 { skip -= 1 } else { matches.append(itemIndex) }
            }
            return matches.count < limit && (maxLength == 0 || compared < maxLength)
        }
        if count == nil {
            if let first = matches.first { ctx.reply.integer(first) } else { ctx.reply.null() }
        } else {
            ctx.reply.arrayHeader(matches.count)
            for match in matches { ctx.reply.integer(match) }
        }
    }

    // MARK: Changing items in place

    /// `LSET key index element`.
    static func set(_ ctx: CommandContext) throws {
        let index = try ctx.integerArgument(2)
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        guard var list = try keyspace.collectionForWrite(key, .list) else { throw CommandError.noSuchKey }
        let resolved = index < 0 ? list.count + index : index
        guard resolved >= 0, resolved < list.count else { throw CommandError("ERR index out of range") }
        keyspace.setItem(&list, at: resolved, ctx.argument(3))
        try keyspace.save(&list)
        ctx.notify(.list, "lset", key: key)
        ctx.reply.ok()
    }

    /// `LINSERT key BEFORE|AFTER pivot element`: the new length, -1 when the pivot is absent, 0 for a missing key.
    static func insert(_ ctx: CommandContext) throws {
        let after: Bool
        if ctx.argument(2, is: "after") {
            after = true
        } else if ctx.argument(2, is: "before") {
            after = false
        } else {
            throw CommandError.syntax
        }
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        guard var list = try keyspace.collectionForWrite(key, .list) else { return ctx.reply.integer(0) }
        let pivot = ctx.argument(3)
        var found: Int?
        try keyspace.forEachItem(of: list, from: 0, through: list.count - 1) { index, item in
            if pivot.withUnsafeReadableBytes({ $0.elementsEqual(item) }) { found = index }
            return found == nil
        }
        guard let pivotIndex = found else { return ctx.reply.integer(-1) }
        try keyspace.insertItem(&list, ctx.argument(4), at: after ? pivotIndex + 1 : pivotIndex, pivot: pivot, after: after)
        try keyspace.save(&list)
        ctx.notify(.list, "linsert", key: key)
        ctx.reply.integer(list.count)
    }

    /// `LREM key count element`: removes the first `count` occurrences (from the tail when negative, all for 0).
    static func remove(_ ctx: CommandContext) throws {
        let count = try ctx.integerArgument(2)
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        guard var list = try keyspace.collectionForWrite(key, .list) else { return ctx.reply.integer(0) }
        let wanted = ctx.argument(3)
        let limit = count == 0 ? Int.max : count == .min ? Int.max : abs(count)
        var indices: [Int] = []
        try keyspace.forEachItem(
            of: list, from: 0, through: list.count - 1, order: count < 0 ? .descending : .ascending
        ) { index, item in
            if wanted.withUnsafeReadableBytes({ $0.elementsEqual(item) }) { indices.append(index) }
            return indices.count < limit
        }
        guard !indices.isEmpty else { return ctx.reply.integer(0) }
        if count < 0 { indices.reverse() }
        try keyspace.removeItems(&list, at: indices, item: wanted, fromTail: count < 0)
        try keyspace.save(&list)
        ctx.notify(.list, "lrem", key: key)
        if list.count == 0 { ctx.notify(.generic, "del", key: key) }
        ctx.reply.integer(indices.count)
    }

    /// `LTRIM key start stop`: keeps the items between two indices.
    static func trim(_ ctx: CommandContext) throws {
        let start = try ctx.integerArgument(2)
        let stop = try ctx.integerArgument(3)
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        guard var list = try keyspace.collectionForWrite(key, .list) else { return ctx.reply.ok() }
        let count = list.count
        if let (first, last) = ListArguments.clamp(start, stop, count: count) {
            try keyspace.trimList(&list, head: first, tail: count - 1 - last)
        } else {
            try keyspace.trimList(&list, head: count, tail: 0)
        }
        try keyspace.save(&list)
        ctx.notify(.list, "ltrim", key: key)
        if list.count == 0 { ctx.notify(.generic, "del", key: key) }
        ctx.reply.ok()
    }
}

/// The pops and moves the plain and blocking list commands share (LPOP, LMPOP, LMOVE, and serving BLPOP, BLMPOP,
/// BLMOVE): each pops, pushes, saves and notifies as Redis does.
enum ListPops {
    /// Pops up to `count` items, saving the list (deleted when emptied) and notifying `lpop`/`rpop` (and `del`).
    static func pop(
        _ list: inout StoredCollection, from end: ListEnd, count: Int, keyspace: Keyspace, notify: EventNotify
    ) throws -> [ByteBuffer] {
        var items: [ByteBuffer] = []
        items.reserveCapacity(min(count, list.count))
        while items.count < count, let item = try keyspace.popItem(&list, from: end) { items.append(item) }
        try keyspace.save(&list)
        notify(.list, end == .head ? "lpop" : "rpop", list.key)
        if list.count == 0 { notify(.generic, "del", list.key) }
        return items
    }

    /// LMPOP's work: pops from the first non-empty list of `request.keys` (a key of another type is WRONGTYPE).
    /// - Returns: the key and its items, or nil when every list was empty.
    static func popFirst(
        _ request: ListArguments.MultiPop, keyspace: Keyspace, notify: EventNotify
    ) throws -> (key: ByteBuffer, items: [ByteBuffer])? {
        for key in request.keys {
            guard var list = try keyspace.collectionForWrite(key, .list) else { continue }
            return (key, try pop(&list, from: request.end, count: request.count, keyspace: keyspace, notify: notify))
        }
        return nil
    }

    /// `[key, [items]]`, LMPOP's reply.
    static func writeKeyAndItems(_ reply: inout ReplyWriter, key: ByteBuffer, items: [ByteBuffer]) {
        reply.arrayHeader(2)
        reply.bulk(key)
        reply.arrayHeader(items.count)
        for item in items { reply.bulk(item) }
    }

    /// Moves one item from `source`'s `from` end to `destination`'s `to` end (the same list rotates), creating the
    /// destination; Redis's order of notifications: the push, then the pop (and `del` of an emptied source).
    /// - Returns: the item, or nil when the source is missing.
    /// - Throws: `WrongTypeError` when either key holds another type, before anything changes.
    static func move(
        source sourceKey: ByteBuffer, destination destinationKey: ByteBuffer, from: ListEnd, to: ListEnd,
        keyspace: Keyspace, notify: EventNotify
    ) throws -> ByteBuffer? {
        guard var source = try keyspace.collectionForWrite(sourceKey, .list) else { return nil }
        if sourceKey == destinationKey {
            guard let item = try keyspace.popItem(&source, from: from) else { return nil }
            keyspace.pushItem(&source, item, at: to)
            try keyspace.save(&source)
            notify(.list, to == .head ? "lpush" : "rpush", destinationKey)
            notify(.list, from == .head ? "lpop" : "rpop", sourceKey)
            return item
        }
        var destination = try keyspace.collectionForWrite(destinationKey, .list) ?? keyspace.createList(destinationKey)
        guard let item = try keyspace.popItem(&source, from: from) else { return nil }
        try keyspace.save(&source)
        keyspace.pushItem(&destination, item, at: to)
        try keyspace.save(&destination)
        notify(.list, to == .head ? "lpush" : "rpush", destinationKey)
        notify(.list, from == .head ? "lpop" : "rpop", sourceKey)
        if source.count == 0 { notify(.generic, "del", sourceKey) }
        return item
    }
}

/// Argument parsing the list commands share.
enum ListArguments {
    /// `LEFT` or `RIGHT` at `index`, or a syntax error.
    static func end(_ ctx: CommandContext, _ index: Int) throws -> ListEnd {
        if ctx.argument(index, is: "left") { return .head }
        if ctx.argument(index, is: "right") { return .tail }
        throw CommandError.syntax
    }

    /// LRANGE's and LTRIM's indices resolved against `count`: nil for an empty range.
    static func clamp(_ start: Int, _ stop: Int, count: Int) -> (first: Int, last: Int)? {
        var first = start < 0 ? count + start : start
        let last = min(stop < 0 ? count + stop : stop, count - 1)
        if first < 0 { first = 0 }
        guard first <= last, first < count else { return nil }
        return (first, last)
    }

    /// LMPOP's and BLMPOP's `numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
    struct MultiPop {
        var keys: [ByteBuffer]
        var end: ListEnd
        var count: Int
    }

    /// Parses `numkeys key... LEFT|RIGHT [COUNT count]` starting at `numberIndex`, with Redis's errors.
    static func multiPop(_ ctx: CommandContext, numberIndex: Int) throws -> MultiPop {
        let numberError = CommandError("ERR numkeys should be greater than 0")
        let keyCount = try ctx.integerArgument(numberIndex, error: numberError)
        guard keyCount > 0 else { throw numberError }
        guard keyCount <= ctx.argumentCount - numberIndex - 2 else { throw CommandError.syntax }
        let keys = (0..<keyCount).map { ctx.argument(numberIndex + 1 + $0) }
        let endIndex = numberIndex + 1 + keyCount
        let end = try end(ctx, endIndex)
        let count = try ctx.multiPopCount(from: endIndex + 1)
        return MultiPop(keys: keys, end: end, count: count ?? 1)
    }
}
