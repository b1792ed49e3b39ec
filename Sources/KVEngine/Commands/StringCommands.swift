import KVStore
import Logging
import NIOCore
import RESP

/// SET, GET, MSET, MGET, SETNX, MSETNX, GETSET, GETDEL: whole-value string commands (counters and ranges have
/// their own files).
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

    /// SET's key and how it is accessed, which depends on GET (Redis's `setGetKeys`): read and updated with GET,
    /// overwritten without.
    static func setKeys(_ arguments: CommandArguments) -> [KeyReference] {
        let withGet = (3..<max(arguments.count, 3)).contains { arguments.argument($0, is: "get") }
        return [KeyReference(position: 1, flags: withGet ? [.readWrite, .access, .update] : [.overwrite, .update])]
    }

    static func get(_ ctx: CommandContext) throws {
        let found = try ctx.readKey(1) { value, _ in ctx.reply.bulk(value); return true }
        if found == nil { ctx.reply.null() }
    }

    static func mget(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        ctx.reply.arrayHeader(ctx.argumentCount - 1)
        for index in 1..<ctx.argumentCount {
            let found = try keyspace.read(ctx.argument(index)) { value, _ in ctx.reply.bulk(value); return true }
            if found == nil { ctx.reply.null() }
        }
    }

    /// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`, with Redis 7's option rules.
    static func set(_ ctx: CommandContext) throws {
        let options = try SetOptions.parse(ctx, from: 3)
        let keyspace = ctx.keyspace
        let expireAt = try options.expiry.absoluteTime(now: keyspace.now, command: "set")
        let key = ctx.argument(1)

        let previousExpiry: Int64?
        if options.returnPrevious {
            previousExpiry = try keyspace.read(key) { value, expireAt in
                ctx.reply.bulk(value)
                return expireAt
            }
            if previousExpiry == nil { ctx.reply.null() }
        } else {
            previousExpiry = try keyspace.expiry(of: key)
        }

        switch options.condition {
        case .ifMissing where previousExpiry != nil, .ifExists where previousExpiry == nil:
            if !options.returnPrevious { ctx.reply.null() }
            return
        default:
            break
        }
        let newExpiry = options.expiry.keepsTTL ? (previousExpiry ?? 0) : expireAt
        try keyspace.set(key, value: ctx.argument(2), expireAt: newExpiry, previousExpiry: previousExpiry)
        ctx.notify(.string, "set", key: key)
        if expireAt > 0 { ctx.notify(.generic, "expire", key: key) }
        if !options.returnPrevious { ctx.reply.ok() }
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
