import KVStore
import Logging
import NIOCore
import RESP

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, GETEX, SETEX, PSETEX: the
/// expiry family, with Redis 7's rules. Every expiry is stored as Unix milliseconds; a time that has already passed
/// deletes the key.
struct ExpiryCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.expire) { try expire($0, unit: .seconds, name: "expire") },
        CommandSpec(.pexpire) { try expire($0, unit: .milliseconds, name: "pexpire") },
        CommandSpec(.expireat) { try expire($0, unit: .unixSeconds, name: "expireat") },
        CommandSpec(.pexpireat) { try expire($0, unit: .unixMilliseconds, name: "pexpireat") },
        CommandSpec(.ttl) { try timeToLive($0, milliseconds: false, absolute: false) },
        CommandSpec(.pttl) { try timeToLive($0, milliseconds: true, absolute: false) },
        CommandSpec(.expiretime) { try timeToLive($0, milliseconds: false, absolute: true) },
        CommandSpec(.pexpiretime) { try timeToLive($0, milliseconds: true, absolute: true) },
        CommandSpec(.persist, handler: persist),
        CommandSpec(.getex, handler: getex),
        CommandSpec(.setex) { try setex($0, unit: .seconds, name: "setex") },
        CommandSpec(.psetex) { try setex($0, unit: .milliseconds, name: "psetex") },
    ]

    /// `EXPIRE key time [NX | XX | GT | LT]` and its millisecond and absolute forms. A key without an expiry counts
    /// as expiring never: GT fails on it and LT succeeds.
    static func expire(_ ctx: CommandContext, unit: ExpiryOption.Unit, name: String) throws {
        let condition = try ExpireCondition(ctx, from: 3)
        var when = try ctx.integerArgument(2)
        let invalid = CommandError.invalidExpireTime(name)
        if unit == .seconds || unit == .unixSeconds {
            guard when <= Int.max / 1000 && when >= Int.min / 1000 else { throw invalid }
            when *= 1000
        }
        let keyspace = ctx.keyspace
        if unit == .seconds || unit == .milliseconds {
            guard when <= Int.max - Int(keyspace.now) else { throw invalid }
            when += Int(keyspace.now)
        }
        let key = ctx.argument(1)
        guard let current = try keyspace.expiry(of: key) else { return ctx.reply.integer(0) }
        guard condition.allows(Int64(when), current: current) else { return ctx.reply.integer(0) }
        if when <= keyspace.now {
            try keyspace.delete(key)
            ctx.notify(.generic, "del", key: key)
        } else {
            try keyspace.updateExpiry(of: key, to: Int64(when))
            ctx.notify(.generic, "expire", key: key)
        }
        ctx.reply.integer(1)
    }

    /// TTL / PTTL (remaining time) and EXPIRETIME / PEXPIRETIME (Unix time): -2 for a missing key, -1 for a key
    /// without expiry; seconds are rounded to the nearest, as Redis does.
    static func timeToLive(_ ctx: CommandContext, milliseconds: Bool, absolute: Bool) throws {
        let keyspace = ctx.keyspace
        guard let expireAt = try keyspace.expiry(of: ctx.argument(1)) else { return ctx.reply.integer(-2) }
        guard expireAt > 0 else { return ctx.reply.integer(-1) }
        let time = max(absolute ? expireAt : expireAt - keyspace.now, 0)
        ctx.reply.integer(Int(milliseconds ? time : (time + 500) / 1000))
    }

    static func persist(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let key = ctx.argument(1)
        guard let expireAt = try keyspace.expiry(of: key), expireAt > 0 else { return ctx.reply.integer(0) }
        try keyspace.updateExpiry(of: key, to: 0)
        ctx.notify(.generic, "persist", key: key)
        ctx.reply.integer(1)
    }

    /// `GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]`: GET that also sets or removes the expiry.
    static func getex(_ ctx: CommandContext) throws {
        var expiry = ExpiryOption.none
        var persist = false
        var index = 2
        while index < ctx.argumentCount {
            if ctx.argument(index, is: "persist"), case .none = expiry {
                persist = true
            } else if let unit = ExpiryOption.Unit(ctx, index), index + 1 < ctx.argumentCount, !persist,
                expiry.allows(unit)
            {
                expiry = .pending(unit, argument: index + 1)
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        expiry = try expiry.resolved(ctx)
        let keyspace = ctx.keyspace
        let expireAt = try expiry.absoluteTime(now: keyspace.now, command: "getex")
        let key = ctx.argument(1)
        let currentExpiry = try keyspace.read(key) { value, currentExpiry in
            ctx.reply.bulk(value)
            return currentExpiry
        }
        guard let currentExpiry else { return ctx.reply.null() }
        if persist && currentExpiry > 0 {
            try keyspace.updateExpiry(of: key, to: 0)
            ctx.notify(.generic, "persist", key: key)
        } else if expireAt > 0 && expireAt <= keyspace.now {
            // An EXAT / PXAT time already past deletes the key at once, announced as `del`, as in Redis.
            try keyspace.delete(key)
            ctx.notify(.generic, "del", key: key)
        } else if expireAt > 0 {
            try keyspace.updateExpiry(of: key, to: expireAt)
            ctx.notify(.generic, "expire", key: key)
        }
    }

    /// `SETEX key seconds value` / `PSETEX key milliseconds value`.
    static func setex(_ ctx: CommandContext, unit: ExpiryOption.Unit, name: String) throws {
        let expiry = ExpiryOption.value(unit, try ctx.integerArgument(2))
        let keyspace = ctx.keyspace
        let expireAt = try expiry.absoluteTime(now: keyspace.now, command: name)
        let key = ctx.argument(1)
        try keyspace.set(key, value: ctx.argument(3), expireAt: expireAt)
        ctx.notify(.string, "set", key: key)
        ctx.notify(.generic, "expire", key: key)
        ctx.reply.ok()
    }
}

/// The NX | XX | GT | LT condition of EXPIRE and friends.
struct ExpireCondition {
    var ifNoExpiry = false
    var ifExpiry = false
    var ifGreater = false
    var ifLess = false

    init(_ ctx: CommandContext, from start: Int) throws {
        for index in start..<max(start, ctx.argumentCount) {
            if ctx.argument(index, is: "nx") { ifNoExpiry = true }
            else if ctx.argument(index, is: "xx") { ifExpiry = true }
            else if ctx.argument(index, is: "gt") { ifGreater = true }
            else if ctx.argument(index, is: "lt") { ifLess = true }
            else { throw CommandError("ERR Unsupported option \(ctx.argumentText(index))") }
        }
        if ifNoExpiry && (ifExpiry || ifGreater || ifLess) {
            throw CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
        }
        if ifGreater && ifLess {
            throw CommandError("ERR GT and LT options at the same time are not compatible")
        }
    }

    /// Whether the new expiry `when` may replace `current` (0 = none, which counts as infinitely far).
    func allows(_ when: Int64, current: Int64) -> Bool {
        if ifNoExpiry && current != 0 { return false }
        if ifExpiry && current == 0 { return false }
        if ifGreater && (current == 0 || when <= current) { return false }
        if ifLess && current != 0 && when >= current { return false }
        return true
    }
}
