import KVStore
import NIOCore

/// The options of SET, parsed with Redis's rules: each option may repeat, conflicting options are
/// a syntax error, and an expiry or a compared value needs a value after it.
struct SetOptions {
    /// When SET writes: always, with NX or XX, or with one of Redis 8.4's value conditions (IFEQ, IFNE, IFDEQ,
    /// IFDNE). They exclude one another; the same one repeated is allowed, the last value winning, as in Redis.
    enum Condition {
        case always, ifMissing, ifExists
        case compare(ValueCondition)

        /// Whether `other` may follow this condition on one command line.
        func allows(_ other: Condition) -> Bool {
            switch (self, other) {
            case (.always, _), (.ifMissing, .ifMissing), (.ifExists, .ifExists): true
            case (.compare(let current), .compare(let next)): current.kind == next.kind
            default: false
            }
        }

        /// The value condition, if this is one.
        var comparison: ValueCondition? {
            if case .compare(let condition) = self { condition } else { nil }
        }
    }

    var condition = Condition.always
    var returnPrevious = false
    var expiry = ExpiryOption.none

    static func parse(_ ctx: CommandContext, from start: Int) throws -> SetOptions {
        var options = SetOptions()
        var index = start
        while index < ctx.argumentCount {
            let hasNext = index + 1 < ctx.argumentCount
            if ctx.argument(index, is: "nx") && options.condition.allows(.ifMissing) {
                options.condition = .ifMissing
            } else if ctx.argument(index, is: "xx") && options.condition.allows(.ifExists) {
                options.condition = .ifExists
            } else if let kind = ValueCondition.Kind(ctx, index), hasNext,
                case let next = Condition.compare(ValueCondition(kind, argument: index + 1)),
                options.condition.allows(next)
            {
                options.condition = next
                index += 1
            } else if ctx.argument(index, is: "get") {
                options.returnPrevious = true
            } else if ctx.argument(index, is: "keepttl") && options.expiry.allows(.keep) {
                options.expiry = .keep
            } else if let unit = ExpiryOption.Unit(ctx, index), hasNext, options.expiry.allows(unit) {
                options.expiry = .pending(unit, argument: index + 1)
                index += 1
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
        options.expiry = try options.expiry.resolved(ctx)
        return options
    }
}

/// An expiry given as a command option: relative or absolute, in seconds or milliseconds.
enum ExpiryOption {
    enum Unit: Equatable {
        case seconds, milliseconds, unixSeconds, unixMilliseconds

        init?(_ ctx: CommandContext, _ index: Int) {
            if ctx.argument(index, is: "ex") { self = .seconds }
            else if ctx.argument(index, is: "px") { self = .milliseconds }
            else if ctx.argument(index, is: "exat") { self = .unixSeconds }
            else if ctx.argument(index, is: "pxat") { self = .unixMilliseconds }
            else { return nil }
        }
    }

    case none
    case keep
    case pending(Unit, argument: Int)
    case value(Unit, Int)

    var keepsTTL: Bool { if case .keep = self { true } else { false } }

    /// The option with its amount parsed, once every option has been read (Redis reports syntax errors first).
    func resolved(_ ctx: CommandContext) throws -> ExpiryOption {
        guard case .pending(let unit, let argument) = self else { return self }
        return .value(unit, try ctx.integerArgument(argument))
    }

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
