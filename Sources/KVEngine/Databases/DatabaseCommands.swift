import KVStore
import NIOCore
import RESP

/// MOVE and SWAPDB: commands between numbered databases (SELECT is the connection family's, FLUSHDB and FLUSHALL
/// the server family's, COPY ... DB the key family's).
struct DatabaseCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.move, handler: move),
        CommandSpec(.swapdb, handler: swapdb),
    ]

    /// `MOVE key db`: moves the key, with its expiry, unless the destination has it; 1 when it moved. A collection
    /// of any size moves in O(1).
    static func move(_ ctx: CommandContext) throws {
        let keyspace = ctx.keyspace
        let target = try ctx.databaseArgument(2)
        guard target != keyspace.selectedDatabase else { throw CommandError.sameObject }
        let key = ctx.argument(1)
        guard try keyspace.move(key, toDatabase: target) else { return ctx.reply.integer(0) }
        ctx.notify(.generic, "move_from", key: key)
        ctx.notify(.generic, "move_to", key: key, database: target)
        ctx.reply.integer(1)
    }

    /// `SWAPDB index1 index2`: the two databases exchange their keys, for every client at once. O(1): kvnode swaps
    /// which stored database each number names (docs/storage-format.md, "Numbered databases"); blocked clients of
    /// either database are served if their keys now hold lists, and WATCHes of either fail their EXEC.
    static func swapdb(_ ctx: CommandContext) throws {
        let first = try ctx.databaseArgument(1, notInteger: CommandError("ERR invalid first DB index"))
        let second = try ctx.databaseArgument(2, notInteger: CommandError("ERR invalid second DB index"))
        ctx.keyspace.swapDatabases(first, second)
        ctx.reply.ok()
    }
}
