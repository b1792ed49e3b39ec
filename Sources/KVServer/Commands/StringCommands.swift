import KVStore
import Logging
import NIOCore
import RESP

/// SET, GET, MSET, MGET, SETNX, MSETNX, GETSET, GETDEL: whole-value string commands (counters and ranges have
/// their own files).
enum StringCommands {
    static let all: [CommandSpec] = [
        CommandSpec("get", arity: 2, flags: [.readonly, .fast], keys: (1, 1, 1),
                    categories: ["read", "string", "fast"], handler: get),
        CommandSpec("set", arity: -3, flags: [.write, .denyOOM], keys: (1, 1, 1),
                    categories: ["write", "string", "slow"], handler: set),
        CommandSpec("mget", arity: -2, flags: [.readonly, .fast], keys: (1, -1, 1),
                    categories: ["read", "string", "fast"], handler: mget),
        CommandSpec("mset", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 2),
                    categories: ["write", "string", "slow"], handler: mset),
        CommandSpec("setnx", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1),
                    categories: ["write", "string", "fast"], handler: setnx),
        CommandSpec("msetnx", arity: -3, flags: [.write, .denyOOM], keys: (1, -1, 2),
                    categories: ["write", "string", "slow"], handler: msetnx),
        CommandSpec("getset", arity: 3, flags: [.write, .denyOOM, .fast], keys: (1, 1, 1),
                    categories: ["write", "string", "fast"], handler: getset),
        CommandSpec("getdel", arity: 2, flags: [.write, .fast], keys: (1, 1, 1),
                    categories: ["write", "string", "fast"], handler: getdel),
    ]

    static func get(_ client: Client) throws {
        let found = try client.readKey(1) { value, _ in client.reply.bulk(value); return true }
        if found == nil { client.reply.null() }
    }

    static func mget(_ client: Client) throws {
        let keyspace = client.keyspace
        client.reply.arrayHeader(client.argumentCount - 1)
        for index in 1..<client.argumentCount {
            let found = try keyspace.read(client.argument(index)) { value, _ in client.reply.bulk(value); return true }
            if found == nil { client.reply.null() }
        }
    }

    /// `SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL]`, with Redis 7's option rules.
    static func set(_ client: Client) throws {
        let options = try SetOptions.parse(client, from: 3)
        let keyspace = client.keyspace
        let expireAt = try options.expiry.absoluteTime(now: keyspace.now, command: "set")
        let key = client.argument(1)

        let previousExpiry: Int64?
        if options.returnPrevious {
            previousExpiry = try keyspace.read(key) { value, expireAt in
                client.reply.bulk(value)
                return expireAt
            }
            if previousExpiry == nil { client.reply.null() }
        } else {
            previousExpiry = try keyspace.expiry(of: key)
        }

        switch options.condition {
        case .ifMissing where previousExpiry != nil, .ifExists where previousExpiry == nil:
            if !options.returnPrevious { client.reply.null() }
            return
        default:
            break
        }
        let newExpiry = options.expiry.keepsTTL ? (previousExpiry ?? 0) : expireAt
        try keyspace.set(key, value: client.argument(2), expireAt: newExpiry, previousExpiry: previousExpiry)
        client.notify(.string, "set", key: key)
        if expireAt > 0 { client.notify(.generic, "expire", key: key) }
        if !options.returnPrevious { client.reply.ok() }
    }

    static func mset(_ client: Client) throws {
        guard client.argumentCount % 2 == 1 else { throw CommandError.wrongArity("mset") }
        let keyspace = client.keyspace
        for index in stride(from: 1, to: client.argumentCount, by: 2) {
            let key = client.argument(index)
            try keyspace.set(key, value: client.argument(index + 1))
            client.notify(.string, "set", key: key)
        }
        client.reply.ok()
    }

    static func setnx(_ client: Client) throws {
        let keyspace = client.keyspace
        let key = client.argument(1)
        guard try !keyspace.exists(key) else { return client.reply.integer(0) }
        try keyspace.set(key, value: client.argument(2), expireAt: 0, previousExpiry: nil)
        client.notify(.string, "set", key: key)
        client.reply.integer(1)
    }

    /// Sets every pair, or none when any of the keys exists.
    static func msetnx(_ client: Client) throws {
        guard client.argumentCount % 2 == 1 else { throw CommandError.wrongArity("msetnx") }
        let keyspace = client.keyspace
        for index in stride(from: 1, to: client.argumentCount, by: 2) where try keyspace.exists(client.argument(index)) {
            return client.reply.integer(0)
        }
        for index in stride(from: 1, to: client.argumentCount, by: 2) {
            let key = client.argument(index)
            try keyspace.set(key, value: client.argument(index + 1))
            client.notify(.string, "set", key: key)
        }
        client.reply.integer(1)
    }

    /// Replies the old value and sets the new one, dropping any expiry.
    static func getset(_ client: Client) throws {
        let keyspace = client.keyspace
        let key = client.argument(1)
        let previousExpiry = try keyspace.read(key) { value, expireAt in
            client.reply.bulk(value)
            return expireAt
        }
        if previousExpiry == nil { client.reply.null() }
        try keyspace.set(key, value: client.argument(2), expireAt: 0, previousExpiry: previousExpiry)
        client.notify(.string, "set", key: key)
    }

    static func getdel(_ client: Client) throws {
        let keyspace = client.keyspace
        let key = client.argument(1)
        let found: Void? = try keyspace.read(key) { value, _ in client.reply.bulk(value) }
        if found == nil { return client.reply.null() }
        try keyspace.delete(key)
        client.notify(.generic, "del", key: key)
    }
}
