import KVStore
import Logging
import NIOCore
import RESP

/// SET, GET, MSET, MGET, SETNX, MSETNX, GETSET, GETDEL: whole-value string commands (counters and ranges have
/// their own files; DIGEST, DELEX and SET's value conditions are in CompareAndSet.swift).
struct StringCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.get, kvnodeFlags: .readsCommitted, handler: get),
        CommandSpec(.set, keyFinder: setKeys, handler: set),
        CommandSpec(.mget, handler: mget),
        CommandSpec(.mset, handler: mset),
        CommandSpec(.setnx, handler: setnx),
        CommandSpec(.msetnx, handler: msetnx),
        CommandSpec(.getset, handler: getset),
        CommandSpec(.getdel, handler: getdel),
    ]

    /// SET's key and how it is accessed, which depends on its options (Redis's `setGetKeys`): read, returned and
    /// updated with GET; read and updated with a value condition (IFEQ...); overwritten blindly otherwise.
    static func setKeys(_ arguments: CommandArguments) -> [KeyReference] {
        var withGet = false
        var compares = false
        var index = 3
        while index < arguments.count {
            if arguments.argument(index, is: "get") {
                withGet = true
            } else if ["ifeq", "ifne", "ifdeq", "ifdne"].contains(where: { arguments.argument(index, is: $0) }) {
                compares = true
                index += 1  // the compared value, which may well be the word "get"
            }
            index += 1
        }
        let flags: KeySpec.Flags =
            withGet ? [.readWrite, .access, .update] : compares ? [.readWrite, .update] : [.overwrite, .update]
        return [KeyReference(position: 1, flags: flags)]
    }

    static func get(_ ctx: CommandContext) throws {
        let found = try ctx.readKey(1) { value, _ in ctx.reply.bulk(value); return true }
        if found == nil { ctx.reply.null() }
    }

    /// MGET answers null for a key of another type, as Redis does, rather than WRONGTYPE.
    static func mget(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        ctx.reply.arrayHeader(ctx.argumentCount - 1)
        for index in 1..<ctx.argumentCount {
            let found = try keyspace.readAny(ctx.argument(index)) { type, value, _ in
                guard type == .string else { return false }
                ctx.reply.bulk(value)
                return true
            }
            if found != true { ctx.reply.null() }
        }
    }

    /// `SET key value [NX | XX | IFEQ value | IFNE value | IFDEQ digest | IFDNE digest] [GET]
    /// [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`, with Redis 8.4's option rules. A condition that fails replies
    /// nil (with GET, the old value) and writes nothing.
    static func set(_ ctx: CommandContext) throws {
        let options = try SetOptions.parse(ctx, from: 3)
        let keyspace = ctx.keyspace
        let expireAt = try options.expiry.absoluteTime(now: keyspace.now, command: "set")
        let key = ctx.argument(1)

        // One lookup: the previous value goes out with GET and is compared under a condition. GET reads as GET does
        // (counting a hit or miss); a condition alone reads as Redis's `lookupKeyWrite`.
        let comparison = options.condition.comparison
        let previous: (expireAt: Int64, holds: Bool)?
        if options.returnPrevious {
            previous = try keyspace.read(key) { try inspectPrevious($0, $1, comparison, ctx, reply: true) }
            if previous == nil { ctx.reply.null() }
        } else if comparison != nil {
            previous = try keyspace.readForWrite(key) { try inspectPrevious($0, $1, comparison, ctx, reply: false) }
        } else {
            previous = try keyspace.expiry(of: key).map { ($0, true) }
        }

        let writes = switch options.condition {
        case .always: true
        case .ifMissing: previous == nil
        case .ifExists: previous != nil
        case .compare(let condition): previous?.holds ?? condition.passesWhenMissing
        }
        guard writes else {
            if !options.returnPrevious { ctx.reply.null() }
            return
        }
        let previousExpiry = previous?.expireAt
        let newExpiry = options.expiry.keepsTTL ? (previousExpiry ?? 0) : expireAt
        try keyspace.set(key, value: ctx.argument(2), expireAt: newExpiry, previousExpiry: previousExpiry)
        ctx.notify(.string, "set", key: key)
        if expireAt > 0 { ctx.notify(.generic, "expire", key: key) }
        if !options.returnPrevious { ctx.reply.ok() }
    }

    /// SET's look at the value it may replace: the type check and the condition, then the value itself for GET.
    ///
    /// Redis replies GET's value before it checks a digest's length, and so sends two replies (the value, then the
    /// error) when the digest is malformed; kvnode checks first and sends only the error.
    private static func inspectPrevious(
        _ value: UnsafeRawBufferPointer, _ expireAt: Int64, _ comparison: ValueCondition?, _ ctx: CommandContext,
        reply: Bool
    ) throws -> (expireAt: Int64, holds: Bool) {
        try StoredValue.requireString(value)
        var holds = true
        if let comparison {
            try comparison.validate(ctx)
            holds = comparison.holds(for: value, in: ctx)
        }
        if reply { ctx.reply.bulk(value) }
        return (expireAt, holds)
    }

    static func mset(_ ctx: CommandContext) throws {
        guard ctx.argumentCount % 2 == 1 else { throw CommandError.wrongArity("mset") }
        let keyspace = ctx.keyspace
        for index in stride(from: 1, to: ctx.argumentCount, by: 2) {
            let key = ctx.argument(index)
            try keyspace.set(key, value: ctx.argument(index + 1))
            ctx.notify(.string, "set", key: key)
        }
        ctx.reply.ok()
    }

    static func setnx(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        guard try !keyspace.exists(key) else { return ctx.reply.integer(0) }
        try keyspace.set(key, value: ctx.argument(2), expireAt: 0, previousExpiry: nil)
        ctx.notify(.string, "set", key: key)
        ctx.reply.integer(1)
    }

    /// Sets every pair, or none when any of the keys exists.
    static func msetnx(_ ctx: CommandContext) throws {
        guard ctx.argumentCount % 2 == 1 else { throw CommandError.wrongArity("msetnx") }
        let keyspace = ctx.keyspace
        for index in stride(from: 1, to: ctx.argumentCount, by: 2) where try keyspace.exists(ctx.argument(index)) {
            return ctx.reply.integer(0)
        }
        for index in stride(from: 1, to: ctx.argumentCount, by: 2) {
            let key = ctx.argument(index)
            try keyspace.set(key, value: ctx.argument(index + 1))
            ctx.notify(.string, "set", key: key)
        }
        ctx.reply.integer(1)
    }

    /// Replies the old value and sets the new one, dropping any expiry.
    static func getset(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let previousExpiry = try keyspace.read(key) { value, expireAt in
            ctx.reply.bulk(value)
            return expireAt
        }
        if previousExpiry == nil { ctx.reply.null() }
        try keyspace.set(key, value: ctx.argument(2), expireAt: 0, previousExpiry: previousExpiry)
        ctx.notify(.string, "set", key: key)
    }

    static func getdel(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        let found: Void? = try keyspace.read(key) { value, _ in ctx.reply.bulk(value) }
        if found == nil { return ctx.reply.null() }
        try keyspace.delete(key)
        ctx.notify(.generic, "del", key: key)
    }
}
