import KVStore
import Logging
import NIOCore
import RESP

/// FLUSHDB, FLUSHALL, DBSIZE, SHUTDOWN: the server family (MOVE and SWAPDB are in `DatabaseCommands`).
struct ServerCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.flushdb) { try flush($0, allDatabases: false) },
        CommandSpec(.flushall) { try flush($0, allDatabases: true) },
        CommandSpec(.dbsize) { ctx in ctx.reply.integer(try ctx.keyspace.liveCount()) },
        CommandSpec(.shutdown, handler: shutdown),
    ]

    /// `FLUSHDB [ASYNC | SYNC]` (the selected database) and `FLUSHALL [ASYNC | SYNC]` (every database); both modes
    /// remove the keys before replying.
    static func flush(_ ctx: CommandContext, allDatabases: Bool) throws {
        guard ctx.argumentCount <= 2 else { throw CommandError.syntax }
        if ctx.argumentCount == 2 && !ctx.argument(1, is: "async") && !ctx.argument(1, is: "sync") {
            throw CommandError.syntax
        }
        if allDatabases { try ctx.keyspace.removeAllDatabases() } else { try ctx.keyspace.removeAll() }
        ctx.reply.ok()
    }

    /// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE]`: replies nothing, as Redis; the server stops gracefully and exits 0.
    static func shutdown(_ ctx: CommandContext) throws {
        for index in 1..<max(ctx.argumentCount, 1) {
            if ctx.argument(index, is: "abort") { throw CommandError("ERR No shutdown in progress.") }
            guard ctx.argument(index, is: "nosave") || ctx.argument(index, is: "save")
                || ctx.argument(index, is: "now") || ctx.argument(index, is: "force")
            else { throw CommandError.syntax }
        }
        ctx.engine.logger.info("SHUTDOWN requested by client", metadata: ["client": "\(ctx.session.address)"])
        ctx.closeAfterReply()
        ctx.engine.requestShutdown()
    }
}
