import KVStore
import Logging
import NIOCore
import RESP
import Synchronization

/// CLIENT and its subcommands: connection bookkeeping that client libraries send on connect, and the CLIENT LIST /
/// KILL / PAUSE tools operators use.
struct ClientCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.client, subcommands: [
            CommandSpec(.clientId) { ctx in ctx.reply.integer(ctx.session.id) },
            CommandSpec(.clientSetname) { ctx in
                try setName(ctx, to: Array(ctx.argument(2).readableBytesView))
                ctx.reply.ok()
            },
            CommandSpec(.clientGetname) { ctx in
                let name = ctx.session.name
                if name.isEmpty {
                    ctx.reply.null()
                } else {
                    name.withUnsafeBytes { ctx.reply.bulk($0) }
                }
            },
            // SETINFO and NO-TOUCH are Redis 7.2's (CommandMetadata+kvnode.swift).
            CommandSpec(.clientSetinfo, handler: setInfo),
            CommandSpec(.clientInfo) { ctx in
                ctx.reply.verbatim(ClientListFormat.line(for: ctx.session.handle, commandsBySlot: ctx.engine.commandsBySlot))
            },
            CommandSpec(.clientList, handler: list),
            CommandSpec(.clientKill, handler: ClientKill.run),
            CommandSpec(.clientUnblock, handler: unblock),
            CommandSpec(.clientReply, handler: reply),
            CommandSpec(.clientNoEvict) { ctx in
                ctx.session.handle.setFlag(.noEvict, try onOff(ctx, 2))
                ctx.reply.ok()
            },
            CommandSpec(.clientNoTouch) { ctx in
                ctx.session.handle.setFlag(.noTouch, try onOff(ctx, 2))
                ctx.reply.ok()
            },
            CommandSpec(.clientPause, handler: pause),
            CommandSpec(.clientUnpause) { ctx in
                ctx.engine.pause.unpause()
                for handle in ctx.engine.clients.all { handle.wakeIfPostponed() }
                ctx.reply.ok()
            },
            CommandSpec(.clientGetredir) { ctx in ctx.reply.integer(-1) },  // no client-side caching redirection
            CommandSpec(.clientHelp) { ctx in HelpText.reply(to: ctx, command: "CLIENT", lines: helpLines) },
        ]),
    ]

    /// Sets the connection's name; an empty name clears it. Names are printable ASCII without spaces, as in Redis.
    static func setName(_ ctx: CommandContext, to name: [UInt8]) throws {
        try checkName(name)
        ctx.session.name = name
    }

    /// Refuses a name with spaces, newlines or other characters outside `!`...`~`, as Redis does.
    static func checkName(_ name: [UInt8]) throws {
        guard isValidAttribute(name) else {
            throw CommandError("ERR Client names cannot contain spaces, newlines or special characters.")
        }
    }

    /// `CLIENT SETINFO LIB-NAME name | LIB-VER version`.
    static func setInfo(_ ctx: CommandContext) throws {
        let value = Array(ctx.argument(3).readableBytesView)
        let attribute: ReferenceWritableKeyPath<Session, [UInt8]>
        if ctx.argument(2, is: "lib-name") {
            attribute = \.libraryName
        } else if ctx.argument(2, is: "lib-ver") {
            attribute = \.libraryVersion
        } else {
            throw CommandError("ERR Unrecognized option '\(ctx.argumentText(2))'")
        }
        guard isValidAttribute(value) else {
            throw CommandError("ERR \(ctx.argumentText(2)) cannot contain spaces, newlines or special characters.")
        }
        ctx.session[keyPath: attribute] = value
        ctx.reply.ok()
    }

    private static func isValidAttribute(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 >= UInt8(ascii: "!") && $0 <= UInt8(ascii: "~") }
    }

    /// `CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID id [id ...]]`.
    static func list(_ ctx: CommandContext) throws {
        var type: ClientType?
        var ids: Set<Int>?
        var index = 2
        while index < ctx.argumentCount {
            if ctx.argument(index, is: "type") && index + 1 < ctx.argumentCount {
                type = try ClientType(ctx.argumentText(index + 1))
                index += 2
            } else if ctx.argument(index, is: "id") && index + 1 < ctx.argumentCount {
                var wanted = Set<Int>()
                index += 1
                while index < ctx.argumentCount {
                    guard let id = RESPInteger.parse(bytes: ctx.argument(index).readableBytesView), id > 0 else {
                        throw CommandError("ERR Invalid client ID")
                    }
                    wanted.insert(id)
                    index += 1
                }
                ids = wanted
            } else {
                throw CommandError.syntax
            }
        }
        var text = ""
        for handle in ctx.engine.clients.all {
            if let ids, !ids.contains(handle.id) { continue }
            if let type, !type.matches(handle) { continue }
            text += ClientListFormat.line(for: handle, commandsBySlot: ctx.engine.commandsBySlot)
        }
        ctx.reply.verbatim(text)
    }

    /// `CLIENT REPLY ON|OFF|SKIP`. Only ON replies; OFF and SKIP take effect at once, on their own reply too.
    /// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: 1 when the client was blocked in a blocking pop (it then answers as if
    /// timed out, or `-UNBLOCKED`), else 0.
    static func unblock(_ ctx: CommandContext) throws {
        guard ctx.argumentCount <= 4 else { throw CommandError.syntax }
        let id = try ctx.integerArgument(2)
        var error = false
        if ctx.argumentCount == 4 {
            if ctx.argument(3, is: "error") {
                error = true
            } else if !ctx.argument(3, is: "timeout") {
                throw CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
            }
        }
        ctx.reply.integer(ctx.engine.blockingPops.unblock(clientID: id, error: error) ? 1 : 0)
    }

    static func reply(_ ctx: CommandContext) throws {
        if ctx.argument(2, is: "on") {
            ctx.session.replyMode = .on
            ctx.reply.ok()
        } else if ctx.argument(2, is: "off") {
            ctx.session.replyMode = .off
        } else if ctx.argument(2, is: "skip") {
            if ctx.session.replyMode == .on { ctx.session.replyMode = .skipNext }
        } else {
            throw CommandError.syntax
        }
    }

    /// `CLIENT PAUSE timeout [WRITE|ALL]`.
    static func pause(_ ctx: CommandContext) throws {
        let timeout = try ctx.integerArgument(2, error: CommandError("ERR timeout is not an integer or out of range"))
        guard timeout >= 0 else { throw CommandError("ERR timeout is negative") }
        var mode = ClientPause.Mode.all
        if ctx.argumentCount == 4 {
            if ctx.argument(3, is: "write") {
                mode = .write
            } else if !ctx.argument(3, is: "all") {
                throw CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
            }
        } else if ctx.argumentCount > 4 {
            throw CommandError.syntax
        }
        ctx.engine.pause.pause(milliseconds: Int64(timeout), mode: mode)
        ctx.reply.ok()
    }

    /// `ON` / `OFF` (any case), else a syntax error.
    static func onOff(_ ctx: CommandContext, _ index: Int) throws -> Bool {
        if ctx.argument(index, is: "on") { return true }
        if ctx.argument(index, is: "off") { return false }
        throw CommandError.syntax
    }

    private static let helpLines = [
        "GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME", "    Return the name of the current connection.",
        "ID", "    Return the ID of the current connection.",
        "INFO", "    Return information about the current client connection.",
        "KILL <ip:port>", "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)", "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Kill connections by type.",
        "    * USER <username>", "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)", "      Skip killing current connection (default: yes).",
        "    * ID <client-id>", "      Kill connections by client id.",
        "    * MAXAGE <maxage>", "      Kill connections older than the specified age.",
        "LIST [options ...]", "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)", "      Return clients of specified type.",
        "UNPAUSE", "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]", "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
        "SETNAME <name>", "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>", "    Set client meta attr. Options are:",
        "    * LIB-NAME: the client lib name.", "    * LIB-VER: the client lib version.",
        "NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
        "NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on.",
    ]
}

/// The TYPE filter of CLIENT LIST and CLIENT KILL.
enum ClientType {
    case normal, master, replica, pubsub

    init(_ text: String) throws {
        switch text.lowercased() {
        case "normal": self = .normal
        case "master": self = .master
        case "replica", "slave": self = .replica
        case "pubsub": self = .pubsub
        default: throw CommandError("ERR Unknown client type '\(text)'")
        }
    }

    /// kvnode has no replication links: a client is a Pub/Sub client while it subscribes to something, else normal.
    func matches(_ handle: ClientHandle) -> Bool {
        switch self {
        case .normal: !handle.isPubSubClient
        case .pubsub: handle.isPubSubClient
        case .master, .replica: false
        }
    }
}
