import KVStore
import NIOCore
import RESP

/// BLPOP, BRPOP, BLMPOP, BLMOVE and BRPOPLPUSH: the list pops that wait for data (`BlockingPopCommand`), served by
/// the command that makes one of their keys a non-empty list.
struct BlockingListCommands: CommandFamily {
    let blocking: BlockingPopCommand

    init(pops: BlockingPops) {
        blocking = BlockingPopCommand(pops: pops)
    }

    var commands: [CommandSpec] {
        [
            CommandSpec(.blpop) { try run($0, keys: 1..<($0.argumentCount - 1), .pop(.head, count: 1, multiple: false)) },
            CommandSpec(.brpop) { try run($0, keys: 1..<($0.argumentCount - 1), .pop(.tail, count: 1, multiple: false)) },
            CommandSpec(.brpoplpush) { ctx in
                try run(ctx, keys: 1..<2, .move(destination: ctx.argument(2), from: .tail, to: .head))
            },
            CommandSpec(.blmove) { ctx in
                let from = try ListArguments.end(ctx, 3)
                let to = try ListArguments.end(ctx, 4)
                try run(ctx, keys: 1..<2, .move(destination: ctx.argument(2), from: from, to: to))
            },
            CommandSpec(.blmpop) { ctx in
                let request = try ListArguments.multiPop(ctx, numberIndex: 2)
                try blocking.run(
                    ctx, keys: 3..<(3 + request.keys.count), timeoutIndex: 1,
                    operation: .list(.pop(request.end, count: request.count, multiple: true)))
            },
        ]
    }

    /// A form whose timeout is its last argument.
    private func run(_ ctx: CommandContext, keys: Range<Int>, _ operation: BlockedPop.ListOperation) throws {
        try blocking.run(ctx, keys: keys, timeoutIndex: ctx.argumentCount - 1, operation: .list(operation))
    }

    /// Pops for `operation` from the first non-empty list of `keys`, writing its reply.
    /// - Returns: false when every list was empty (nothing written).
    /// - Throws: `WrongTypeError` for a key of another type met first (or a BLMOVE destination), before any change.
    static func serve(
        _ operation: BlockedPop.ListOperation, keys: [ByteBuffer], keyspace: Keyspace, notify: EventNotify,
        reply: inout ReplyWriter
    ) throws -> Bool {
        switch operation {
        case .pop(let end, let count, let multiple):
            let request = ListArguments.MultiPop(keys: keys, end: end, count: count)
            guard let (key, items) = try ListPops.popFirst(request, keyspace: keyspace, notify: notify) else {
                return false
            }
            if multiple {
                ListPops.writeKeyAndItems(&reply, key: key, items: items)
            } else {
                reply.arrayHeader(2)
                reply.bulk(key)
                reply.bulk(items[0])
            }
            return true
        case .move(let destination, let from, let to):
            guard let item = try ListPops.move(
                source: keys[0], destination: destination, from: from, to: to, keyspace: keyspace, notify: notify)
            else { return false }
            reply.bulk(item)
            return true
        }
    }
}
