import KVStore
import NIOCore

/// BZPOPMIN, BZPOPMAX and BZMPOP: the sorted set pops that wait for data (`BlockingPopCommand`), served by the
/// command that makes one of their keys a non-empty sorted set (ZADD, ZINCRBY, a STORE, RENAME...).
struct BlockingSortedSetCommands: CommandFamily {
    let blocking: BlockingPopCommand

    init(pops: BlockingPops) {
        blocking = BlockingPopCommand(pops: pops)
    }

    var commands: [CommandSpec] {
        [
            CommandSpec(.bzpopmin) { try popOne($0, highest: false) },
            CommandSpec(.bzpopmax) { try popOne($0, highest: true) },
            CommandSpec(.bzmpop) { ctx in
                let request = try SortedSetPops.multiPopArguments(ctx, numberIndex: 2)
                try blocking.run(
                    ctx, keys: request.keys, timeoutIndex: 1,
                    operation: .sortedSet(highest: request.highest, count: request.count, multiple: true))
            },
        ]
    }

    /// `BZPOPMIN|BZPOPMAX key [key ...] timeout`: `[key, member, score]`, or a null array at the timeout.
    private func popOne(_ ctx: CommandContext, highest: Bool) throws {
        try blocking.run(
            ctx, keys: 1..<(ctx.argumentCount - 1), timeoutIndex: ctx.argumentCount - 1,
            operation: .sortedSet(highest: highest, count: 1, multiple: false))
    }
}
