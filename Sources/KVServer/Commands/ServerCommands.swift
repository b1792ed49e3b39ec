import KVStore
import Logging
import NIOCore
import RESP

/// FLUSHDB, FLUSHALL, DBSIZE, SHUTDOWN: the server family.
enum ServerCommands {
    static let all: [CommandSpec] = [
        CommandSpec("flushdb", arity: -1, flags: [.write], categories: ["keyspace", "write", "slow", "dangerous"],
                    handler: flush),
        CommandSpec("flushall", arity: -1, flags: [.write], categories: ["keyspace", "write", "slow", "dangerous"],
                    handler: flush),
        CommandSpec("dbsize", arity: 1, flags: [.readonly, .fast], categories: ["keyspace", "read", "fast"]) { client in
            client.reply.integer(try client.keyspace.liveCount())
        },
        CommandSpec("shutdown", arity: -1, flags: [.admin, .noscript, .loading, .stale, .noMulti, .allowBusy],
                    categories: ["admin", "slow", "dangerous"], handler: shutdown),
    ]

    /// `FLUSHDB [ASYNC | SYNC]`; both modes remove every key before replying.
    static func flush(_ client: Client) throws {
        guard client.argumentCount <= 2 else { throw CommandError.syntax }
        if client.argumentCount == 2 && !client.argument(1, is: "async") && !client.argument(1, is: "sync") {
            throw CommandError.syntax
        }
        try client.keyspace.removeAll()
        client.reply.ok()
    }

    /// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE]`: replies nothing, as Redis; the server stops gracefully and exits 0.
    static func shutdown(_ client: Client) throws {
        for index in 1..<max(client.argumentCount, 1) {
            if client.argument(index, is: "abort") { throw CommandError("ERR No shutdown in progress.") }
            guard client.argument(index, is: "nosave") || client.argument(index, is: "save")
                || client.argument(index, is: "now") || client.argument(index, is: "force")
            else { throw CommandError.syntax }
        }
        client.server.logger.info("SHUTDOWN requested by client", metadata: ["client": "\(client.address)"])
        client.closeAfterReply = true
        client.server.requestShutdown()
    }
}
