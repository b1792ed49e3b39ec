import KVStore
import Logging
import NIOCore
import RESP

/// PING, ECHO, QUIT, HELLO, SELECT, RESET: the connection family.
struct ConnectionCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.ping, kvnodeFlags: .allowedWhileSubscribed, handler: ping),
        CommandSpec(.echo, handler: echo),
        CommandSpec(.quit, kvnodeFlags: [.allowedWhileSubscribed, .transactionControl], handler: quit),
        CommandSpec(.hello, handler: hello),
        CommandSpec(.select, handler: select),
        CommandSpec(.reset, kvnodeFlags: [.allowedWhileSubscribed, .transactionControl]) { ctx in
            ctx.session.resetConnectionState()
            ctx.reply.simpleString("RESET")
        },
    ]

    static func ping(_ ctx: CommandContext) throws {
        if ctx.session.isSubscribed && ctx.reply.version == .resp2 {
            // A RESP2 subscriber can only receive arrays, so PING answers in the shape of a message.
            guard ctx.argumentCount <= 2 else { throw CommandError.wrongArity("ping") }
            ctx.reply.arrayHeader(2)
            ctx.reply.bulk("pong")
            if ctx.argumentCount == 2 { ctx.reply.bulk(ctx.argument(1)) } else { ctx.reply.bulk("") }
            return
        }
        switch ctx.argumentCount {
        case 1: ctx.reply.simpleString("PONG")
        case 2: ctx.reply.bulk(ctx.argument(1))
        default: throw CommandError.wrongArity("ping")
        }
    }

    static func echo(_ ctx: CommandContext) throws {
        ctx.reply.bulk(ctx.argument(1))
    }

    static func quit(_ ctx: CommandContext) throws {
        ctx.reply.ok()
        ctx.closeAfterReply()
    }

    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`: authenticates, switches the protocol and describes the
    /// server.
    static func hello(_ ctx: CommandContext) throws {
        var version: ProtocolVersion?
        var index = 1
        if ctx.argumentCount >= 2 {
            let requested = try ctx.integerArgument(
                1, error: CommandError("ERR Protocol version is not an integer or out of range"))
            guard let supported = ProtocolVersion(rawValue: requested) else {
                throw CommandError("NOPROTO unsupported protocol version")
            }
            version = supported
            index = 2
        }
        var credentials: (name: [UInt8], password: [UInt8])?
        var newName: [UInt8]?
        while index < ctx.argumentCount {
            let remaining = ctx.argumentCount - 1 - index
            if ctx.argument(index, is: "auth") && remaining >= 2 {
                credentials = (Array(ctx.argument(index + 1).readableBytesView), Array(ctx.argument(index + 2).readableBytesView))
                index += 3
            } else if ctx.argument(index, is: "setname") && remaining >= 1 {
                let name = Array(ctx.argument(index + 1).readableBytesView)
                try ClientCommands.checkName(name)
                newName = name
                index += 2
            } else {
                throw CommandError("ERR Syntax error in HELLO option '\(ctx.argumentText(index))'")
            }
        }
        // As Redis 7.0: authenticate, then require to be authenticated, and only then set the name and protocol.
        if let credentials { try AclCommands.authenticate(ctx, name: credentials.name, password: credentials.password) }
        guard ctx.session.authenticated else {
            throw CommandError(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> "
                    + "<pass> option can be used to authenticate the client and select the RESP protocol version at "
                    + "the same time")
        }
        if let newName { ctx.session.name = newName }
        if let version { ctx.reply.version = version }

        ctx.reply.mapHeader(7)
        ctx.reply.bulk("server")
        ctx.reply.bulk("redis")
        ctx.reply.bulk("version")
        ctx.reply.bulk(ServerInfo.redisVersion)
        ctx.reply.bulk("proto")
        ctx.reply.integer(ctx.reply.version.rawValue)
        ctx.reply.bulk("id")
        ctx.reply.integer(ctx.session.id)
        ctx.reply.bulk("mode")
        ctx.reply.bulk("standalone")
        ctx.reply.bulk("role")
        ctx.reply.bulk("master")
        ctx.reply.bulk("modules")
        ctx.reply.arrayHeader(0)
    }

    /// `SELECT index`: the connection's commands run in database `index` (0 to `databases - 1`) from now on.
    static func select(_ ctx: CommandContext) throws {
        ctx.session.database = try ctx.databaseArgument(1)
        ctx.reply.ok()
    }
}

/// Facts about the server that several commands report.
enum ServerInfo {
    /// The Redis version kvnode reports: clients enable features (RESP3, CLIENT SETINFO) by it.
    static let redisVersion = "7.2.0"
    /// kvnode's own version.
    static let kvnodeVersion = "0.1.0"
}
