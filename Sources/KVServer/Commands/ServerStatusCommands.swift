import KVStore
import NIOCore
import RESP

/// INFO, TIME and WAIT: what monitoring tools and client libraries ask the server about itself.
enum ServerStatusCommands {
    static let all: [CommandSpec] = [
        CommandSpec("info", arity: -1, flags: [.loading, .stale], categories: ["slow", "dangerous"], handler: info),
        CommandSpec("time", arity: 1, flags: [.loading, .stale, .fast], categories: ["fast"]) { client in
            let now = WallClock.microseconds()
            client.reply.arrayHeader(2)
            client.reply.bulk(decimal: Int(now / 1_000_000))
            client.reply.bulk(decimal: Int(now % 1_000_000))
        },
        CommandSpec("wait", arity: 3, flags: [.noscript], categories: ["slow", "connection"], handler: wait),
    ]

    /// `INFO [section ...]`: a verbatim string in RESP3, a bulk string in RESP2.
    static func info(_ client: Client) throws {
        let sections = (1..<max(client.argumentCount, 1)).map { client.argumentText($0).lowercased() }
        client.reply.verbatim(InfoReport.text(for: sections, context: InfoContext(client: client)))
    }

    /// `WAIT numreplicas timeout`: kvnode has no replicas, so it acknowledges at once with 0.
    static func wait(_ client: Client) throws {
        _ = try client.integerArgument(1)
        let timeout = try client.integerArgument(2, error: CommandError("ERR timeout is not an integer or out of range"))
        guard timeout >= 0 else { throw CommandError("ERR timeout is negative") }
        client.reply.integer(0)
    }
}
