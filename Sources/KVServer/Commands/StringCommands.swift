import KVStore
import Logging
import NIOCore
import RESP

/// SET, GET, MSET, MGET: the string family.
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
    ]

    static func get(_ client: Client) throws {
        let found = try client.keyspace.read(client.argument(1)) { value, _ in client.reply.bulk(value); return true }
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
        if previousExpiry == nil { client.notify(.new, "new", key: key) }
        client.notify(.string, "set", key: key)
        if expireAt > 0 { client.notify(.generic, "expire", key: key) }
        if !options.returnPrevious { client.reply.ok() }
    }

    static func mset(_ client: Client) throws {
        guard client.argumentCount % 2 == 1 else { throw CommandError.wrongArity("mset") }
        let keyspace = client.keyspace
        for index in stride(from: 1, to: client.argumentCount, by: 2) {
            let key = client.argument(index)
            if try !keyspace.set(key, value: client.argument(index + 1)) { client.notify(.new, "new", key: key) }
            client.notify(.string, "set", key: key)
        }
        client.reply.ok()
    }
}

/// The options of SET (and, later, GETEX), parsed with Redis's rules: each option may repeat, conflicting options are
/// a syntax error, and an expiry needs a value after it.
struct SetOptions {
    enum Condition { case always, ifMissing, ifExists }

    var condition = Condition.always
    var returnPrevious = false
    var expiry = ExpiryOption.none

    static func parse(_ client: Client, from start: Int) throws -> SetOptions {
        var options = SetOptions()
        var index = start
        while index < client.argumentCount {
            let hasNext = index + 1 < client.argumentCount
            if client.argument(index, is: "nx") && options.condition != .ifExists {
                options.condition = .ifMissing
            } else if client.argument(index, is: "xx") && options.condition != .ifMissing {
                options.condition = .ifExists
            } else if client.argument(index, is: "get") {
                options.returnPrevious = true
            } else if client.argument(index, is: "keepttl") && options.expiry.allows(.keep) {
                options.expiry = .keep
            } else if let unit = ExpiryOption.Unit(client, index), hasNext, options.expiry.allows(unit) {
                options.expiry = .pending(unit, argument: index + 1)
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        if case .pending(let unit, let argument) = options.expiry {
            options.expiry = .value(unit, try client.integerArgument(argument))
        }
        return options
    }
}

/// An expiry given as a command option: relative or absolute, in seconds or milliseconds.
enum ExpiryOption {
    enum Unit: Equatable {
        case seconds, milliseconds, unixSeconds, unixMilliseconds

        init?(_ client: Client, _ index: Int) {
            if client.argument(index, is: "ex") { self = .seconds }
            else if client.argument(index, is: "px") { self = .milliseconds }
            else if client.argument(index, is: "exat") { self = .unixSeconds }
            else if client.argument(index, is: "pxat") { self = .unixMilliseconds }
            else { return nil }
        }
    }

    case none
    case keep
    case pending(Unit, argument: Int)
    case value(Unit, Int)

    var keepsTTL: Bool { if case .keep = self { true } else { false } }

    /// Redis accepts the same expiry option repeated (the last wins) but not two different ones, nor one with KEEPTTL.
    func allows(_ unit: Unit) -> Bool {
        switch self {
        case .none: true
        case .pending(let current, _), .value(let current, _): current == unit
        case .keep: false
        }
    }

    func allows(_ keep: ExpiryOption) -> Bool {
        switch self {
        case .none, .keep: true
        default: false
        }
    }

    /// The expiry as Unix milliseconds (0 for none), or Redis's "invalid expire time" error.
    func absoluteTime(now: Int64, command: String) throws -> Int64 {
        guard case .value(let unit, let amount) = self else { return 0 }
        let invalid = CommandError.invalidExpireTime(command)
        guard amount > 0 else { throw invalid }
        var milliseconds = Int64(amount)
        if unit == .seconds || unit == .unixSeconds {
            guard milliseconds <= Int64.max / 1000 else { throw invalid }
            milliseconds *= 1000
        }
        if unit == .seconds || unit == .milliseconds {
            let (sum, overflow) = milliseconds.addingReportingOverflow(now)
            guard !overflow else { throw invalid }
            milliseconds = sum
        }
        return milliseconds
    }
}
