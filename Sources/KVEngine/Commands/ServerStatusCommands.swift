import KVStore
import NIOCore
import RESP

/// INFO, TIME and WAIT: what monitoring tools and client libraries ask the server about itself.
struct ServerStatusCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        // INFO reads the keyspace's statistics under a lease.
        CommandSpec(.info, kvnodeFlags: .keyspace, handler: info),
        CommandSpec(.time) { ctx in
            let now = WallClock.microseconds()
            ctx.reply.arrayHeader(2)
            ctx.reply.bulk(decimal: Int(now / 1_000_000))
            ctx.reply.bulk(decimal: Int(now % 1_000_000))
        },
        CommandSpec(.wait, handler: wait),
    ]

    /// `INFO [section ...]`: a verbatim string in RESP3, a bulk string in RESP2.
    static func info(_ ctx: CommandContext) throws {
        let sections = (1..<max(ctx.argumentCount, 1)).map { ctx.argumentText($0).lowercased() }
        ctx.reply.verbatim(InfoReport.text(for: sections, context: InfoContext(ctx)))
    }

    /// `WAIT numreplicas timeout`: kvnode has no replicas, so it acknowledges at once with 0.
    static func wait(_ ctx: CommandContext) throws {
        _ = try ctx.integerArgument(1)
        let timeout = try ctx.integerArgument(2, error: CommandError("ERR timeout is not an integer or out of range"))
        guard timeout >= 0 else { throw CommandError("ERR timeout is negative") }
        ctx.reply.integer(0)
    }
}
