import KVStore
import NIOCore
import RESP

/// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD, as Redis 7.0's `zunionInterDiffGenericCommand`: the
/// inputs may be sorted sets or sets (whose members score 1), WEIGHTS multiply each input's scores, AGGREGATE
/// SUM|MIN|MAX combines them, and the result is in score order.
///
/// Inputs are taken from the smallest, as Redis does: an intersection walks the smallest input and looks its members
/// up in the others; a union reads every input; a difference walks the first and looks its members up in the rest.
enum SortedSetAlgebra {
    static var commands: [CommandSpec] {
        [
            CommandSpec(.zunion) { try run($0, .union, name: "zunion", store: nil) },
            CommandSpec(.zinter) { try run($0, .intersection, name: "zinter", store: nil) },
            CommandSpec(.zdiff) { try run($0, .difference, name: "zdiff", store: nil) },
            CommandSpec(.zunionstore) { try run($0, .union, name: "zunionstore", store: "zunionstore") },
            CommandSpec(.zinterstore) { try run($0, .intersection, name: "zinterstore", store: "zinterstore") },
            CommandSpec(.zdiffstore) { try run($0, .difference, name: "zdiffstore", store: "zdiffstore") },
            CommandSpec(.zintercard) { try run($0, .intersection, name: "zintercard", store: nil, cardinalityOnly: true) },
        ]
    }

    enum Operation {
        case union, intersection, difference
    }

    enum Aggregate {
        case sum, min, max

        /// Redis's `zunionInterAggregate`: a NaN sum (inf + -inf) is 0.
        func combine(_ a: Double, _ b: Double) -> Double {
            switch self {
            case .sum:
                let sum = a + b
                return sum.isNaN ? 0 : sum
            case .min: return Swift.min(a, b)
            case .max: return Swift.max(a, b)
            }
        }
    }

    /// One input: a sorted set or a set (nil: a missing key, an empty input), and its weight.
    struct Input {
        var collection: StoredCollection?
        var weight = 1.0

        var count: Int { collection?.count ?? 0 }

        /// The member's score, weighted (a NaN product, 0 × inf, is 0), or nil when the input lacks it.
        func score(of member: UnsafeRawBufferPointer, _ keyspace: Keyspace) throws -> Double? {
            guard let collection else { return nil }
            let score: Double
            if collection.type == .set {
                guard try keyspace.hasElement(of: collection, kind: ElementLayout.setMember, member) else { return nil }
                score = 1
            } else {
                guard let found = try keyspace.score(of: collection, member) else { return nil }
                score = found
            }
            return Input.weighted(score, weight)
        }

        /// Visits every member with its weighted score.
        func forEach(_ keyspace: Keyspace, _ body: (UnsafeRawBufferPointer, Double) throws -> Bool) throws {
            guard let collection else { return }
            if collection.type == .set {
                try keyspace.forEachElement(of: collection, kind: ElementLayout.setMember) { member, _ in
                    try body(member, Input.weighted(1, weight))
                }
            } else {
                try keyspace.forEachScored(of: collection) { member, score in try body(member, Input.weighted(score, weight)) }
            }
        }

        static func weighted(_ score: Double, _ weight: Double) -> Double {
            let product = score * weight
            return product.isNaN ? 0 : product
        }
    }

    /// Parses and runs one command of the family. `store` is the STORE form's event (destination in argument 1).
    static func run(
        _ ctx: CommandContext, _ operation: Operation, name: String, store: StaticString?, cardinalityOnly: Bool = false
    ) throws {
        let numkeysIndex = store == nil ? 1 : 2
        let inputCount = try ctx.integerArgument(numkeysIndex)
        guard inputCount >= 1 else { throw CommandError("ERR at least 1 input key is needed for '\(name)' command") }
        guard inputCount <= ctx.argumentCount - numkeysIndex - 1 else { throw CommandError.syntax }
        let keyspace = ctx.keyspace
        let firstKey = numkeysIndex + 1
        var inputs = try (firstKey..<(firstKey + inputCount)).map { index in
            Input(collection: try lookUp(ctx.argument(index), forWrite: store != nil, keyspace))
        }
        var aggregate = Aggregate.sum
        var withScores = false
        var limit = 0
        var index = firstKey + inputCount
        while index < ctx.argumentCount {
            let remaining = ctx.argumentCount - index
            if cardinalityOnly {
                guard remaining >= 2, ctx.argument(index, is: "limit") else { throw CommandError.syntax }
                let limitError = CommandError("ERR LIMIT can't be negative")
                limit = try ctx.integerArgument(index + 1, error: limitError)
                guard limit >= 0 else { throw limitError }
                index += 2
            } else if operation != .difference && remaining >= inputCount + 1 && ctx.argument(index, is: "weights") {
                for offset in 0..<inputCount {
                    inputs[offset].weight = try ctx.scoreArgument(
                        index + 1 + offset, error: CommandError("ERR weight value is not a float"))
                }
                index += 1 + inputCount
            } else if operation != .difference && remaining >= 2 && ctx.argument(index, is: "aggregate") {
                if ctx.argument(index + 1, is: "sum") {
                    aggregate = .sum
                } else if ctx.argument(index + 1, is: "min") {
                    aggregate = .min
                } else if ctx.argument(index + 1, is: "max") {
                    aggregate = .max
                } else {
                    throw CommandError.syntax
                }
                index += 2
            } else if store == nil && ctx.argument(index, is: "withscores") {
                withScores = true
                index += 1
            } else {
                throw CommandError.syntax
            }
        }
        let items = try compute(operation, of: inputs, aggregate: aggregate, limit: limit, keyspace)
        if cardinalityOnly { return ctx.reply.integer(items.count) }
        let ordered = items.sorted(by: ScoredMember.ordered)
        if let store {
            try keyspace.storeSortedSet(ordered, at: ctx.argument(1), event: store, ctx)
        } else {
            ctx.reply.scoredMembers(ordered, withScores: withScores)
        }
    }

    /// A sorted set or set input; nil for a missing key. Any other type is WRONGTYPE.
    private static func lookUp(_ key: ByteBuffer, forWrite: Bool, _ keyspace: Keyspace) throws -> StoredCollection? {
        do {
            return forWrite ? try keyspace.collectionForWrite(key, .sortedSet) : try keyspace.collection(key, .sortedSet)
        } catch let error as WrongTypeError where error.found == .set {
            return forWrite ? try keyspace.collectionForWrite(key, .set) : try keyspace.collection(key, .set)
        }
    }

    /// The result's members with their scores, in no particular order; an intersection stops at `limit` (0: none).
    private static func compute(
        _ operation: Operation, of inputs: [Input], aggregate: Aggregate, limit: Int, _ keyspace: Keyspace
    ) throws -> [ScoredMember] {
        var items: [ScoredMember] = []
        switch operation {
        case .intersection:
            // Smallest first (a missing key is empty, and so is the result then); Redis aggregates in that order.
            let ordered = inputs.enumerated().sorted { ($0.element.count, $0.offset) < ($1.element.count, $1.offset) }
                .map(\.element)
            guard let smallest = ordered.first, smallest.count > 0 else { return [] }
            try smallest.forEach(keyspace) { member, score in
                var total = score
                for other in ordered.dropFirst() {
                    guard let found = try other.score(of: member, keyspace) else { return true }
                    total = aggregate.combine(total, found)
                }
                items.append(ScoredMember(member: Array(member), score: total))
                return limit == 0 || items.count < limit
            }
        case .union:
            var positions: [[UInt8]: Int] = [:]
            let ordered = inputs.enumerated().sorted { ($0.element.count, $0.offset) < ($1.element.count, $1.offset) }
            for input in ordered.map(\.element) {
                try input.forEach(keyspace) { member, score in
                    let key = Array(member)
                    if let position = positions[key] {
                        items[position].score = aggregate.combine(items[position].score, score)
                    } else {
                        positions[key] = items.count
                        items.append(ScoredMember(member: key, score: score))
                    }
                    return true
                }
            }
        case .difference:
            guard let first = inputs.first, first.count > 0 else { return [] }
            let others = inputs.dropFirst().filter { $0.count > 0 }
            try first.forEach(keyspace) { member, score in
                for other in others where try other.score(of: member, keyspace) != nil { return true }
                items.append(ScoredMember(member: Array(member), score: score))
                return true
            }
        }
        return items
    }
}
