import KVStore
import Logging
import NIOCore
import RESP

/// PING, ECHO, QUIT, HELLO, SELECT, RESET: the connection family.
enum ConnectionCommands {
    static let all: [CommandSpec] = [
        CommandSpec("ping", arity: -1, flags: [.fast], categories: ["fast", "connection"], handler: ping),
        CommandSpec("echo", arity: 2, flags: [.loading, .stale, .fast], categories: ["fast", "connection"],
                    handler: echo),
        CommandSpec("quit", arity: -1, flags: [.allowBusy, .noAuth, .noscript, .loading, .stale, .fast],
                    categories: ["fast", "connection"], handler: quit),
        CommandSpec("hello", arity: -1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy],
                    categories: ["fast", "connection"], handler: hello),
        CommandSpec("select", arity: 2, flags: [.loading, .stale, .fast], categories: ["fast", "connection"],
                    handler: select),
        CommandSpec("reset", arity: 1, flags: [.noscript, .loading, .stale, .fast, .noAuth, .allowBusy],
                    categories: ["fast", "connection"]) { client in
            client.resetConnectionState()
            client.reply.simpleString("RESET")
        },
    ]

    static func ping(_ client: Client) throws {
        if client.isSubscribed && client.reply.version == .resp2 {
            // A RESP2 subscriber can only receive arrays, so PING answers in the shape of a message.
            guard client.argumentCount <= 2 else { throw CommandError.wrongArity("ping") }
            client.reply.arrayHeader(2)
            client.reply.bulk("pong")
            if client.argumentCount == 2 { client.reply.bulk(client.argument(1)) } else { client.reply.bulk("") }
            return
        }
        switch client.argumentCount {
        case 1: client.reply.simpleString("PONG")
        case 2: client.reply.bulk(client.argument(1))
        default: throw CommandError.wrongArity("ping")
        }
    }

    static func echo(_ client: Client) throws {
        client.reply.bulk(client.argument(1))
    }

    static func quit(_ client: Client) throws {
        client.reply.ok()
        client.closeAfterReply = true
    }

    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`: switches the protocol and describes the server.
    static func hello(_ client: Client) throws {
        var version: ProtocolVersion?
        var index = 1
        if client.argumentCount >= 2 {
            let requested = try client.integerArgument(
                1, error: CommandError("ERR Protocol version is not an integer or out of range"))
            guard let supported = ProtocolVersion(rawValue: requested) else {
                throw CommandError("NOPROTO unsupported protocol version")
            }
            version = supported
            index = 2
        }
        var newName: [UInt8]?
        while index < client.argumentCount {
            let remaining = client.argumentCount - 1 - index
            if client.argument(index, is: "auth") && remaining >= 2 {
                // No users or passwords are configured, so the default user with any password is accepted, as in
                // Redis without requirepass.
                guard client.argument(index + 1, is: "default") else {
                    throw CommandError("WRONGPASS invalid username-password pair or user is disabled.")
                }
                index += 3
            } else if client.argument(index, is: "setname") && remaining >= 1 {
                newName = Array(client.argument(index + 1).readableBytesView)
                index += 2
            } else {
                throw CommandError("ERR Syntax error in HELLO option '\(client.argumentText(index))'")
            }
        }
        if let newName { try ClientCommands.setName(client, to: newName) }
        if let version { client.reply.version = version }

        client.reply.mapHeader(7)
        client.reply.bulk("server")
        client.reply.bulk("redis")
        client.reply.bulk("version")
        client.reply.bulk(ServerInfo.redisVersion)
        client.reply.bulk("proto")
        client.reply.integer(client.reply.version.rawValue)
        client.reply.bulk("id")
        client.reply.integer(client.id)
        client.reply.bulk("mode")
        client.reply.bulk("standalone")
        client.reply.bulk("role")
        client.reply.bulk("master")
        client.reply.bulk("modules")
        client.reply.arrayHeader(0)
    }

    /// kvnode has one database: SELECT 0 succeeds, any other index is out of range.
    static func select(_ client: Client) throws {
        let index = try client.integerArgument(1)
        guard index == 0 else { throw CommandError.dbIndexOutOfRange }
        client.reply.ok()
    }
}

/// Facts about the server that several commands report.
enum ServerInfo {
    /// The Redis version kvnode reports: clients enable features (RESP3, CLIENT SETINFO) by it.
    static let redisVersion = "7.2.0"
    /// kvnode's own version.
    static let kvnodeVersion = "0.1.0"
}
