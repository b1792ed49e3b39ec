import KVStore
import Logging
import NIOCore
import RESP
import Synchronization

/// CLIENT and its subcommands: connection bookkeeping that client libraries send on connect, and the CLIENT LIST /
/// KILL / PAUSE tools operators use.
enum ClientCommands {
    private static let categories = ["slow", "connection"]
    private static let flags: CommandFlags = [.noscript, .loading, .stale]
    private static let adminCategories = ["admin", "slow", "dangerous", "connection"]
    private static let adminFlags: CommandFlags = [.admin, .noscript, .loading, .stale]

    static let all: [CommandSpec] = [
        CommandSpec("client", arity: -2, flags: [], categories: ["slow"], subcommands: [
            CommandSpec("id", of: "client", arity: 2, flags: flags, categories: categories) { client in
                client.reply.integer(client.id)
            },
            CommandSpec("setname", of: "client", arity: 3, flags: flags, categories: categories) { client in
                try setName(client, to: Array(client.argument(2).readableBytesView))
                client.reply.ok()
            },
            CommandSpec("getname", of: "client", arity: 2, flags: flags, categories: categories) { client in
                let name = client.name
                if name.isEmpty {
                    client.reply.null()
                } else {
                    name.withUnsafeBytes { client.reply.bulk($0) }
                }
            },
            CommandSpec("setinfo", of: "client", arity: 4, flags: flags, categories: categories, handler: setInfo),
            CommandSpec("info", of: "client", arity: 2, flags: flags, categories: categories) { client in
                client.reply.verbatim(ClientListFormat.line(for: client.handle, server: client.server))
            },
            CommandSpec("list", of: "client", arity: -2, flags: adminFlags, categories: adminCategories,
                        handler: list),
            CommandSpec("kill", of: "client", arity: -3, flags: adminFlags, categories: adminCategories,
                        handler: ClientKill.run),
            CommandSpec("reply", of: "client", arity: 3, flags: flags, categories: categories, handler: reply),
            CommandSpec("no-evict", of: "client", arity: 3, flags: adminFlags, categories: adminCategories) { client in
                client.handle.setFlag(.noEvict, try onOff(client, 2))
                client.reply.ok()
            },
            CommandSpec("no-touch", of: "client", arity: 3, flags: flags, categories: categories) { client in
                client.handle.setFlag(.noTouch, try onOff(client, 2))
                client.reply.ok()
            },
            CommandSpec("pause", of: "client", arity: -3, flags: adminFlags, categories: adminCategories,
                        handler: pause),
            CommandSpec("unpause", of: "client", arity: 2, flags: adminFlags, categories: adminCategories) { client in
                client.server.pause.unpause()
                for handle in client.server.clients.all { handle.wakeIfPostponed() }
                client.reply.ok()
            },
            CommandSpec("getredir", of: "client", arity: 2, flags: flags, categories: categories) { client in
                client.reply.integer(-1)  // no client-side caching redirection
            },
            CommandSpec("help", of: "client", arity: 2, flags: [.loading, .stale], categories: categories) { client in
                HelpText.reply(to: client, command: "CLIENT", lines: helpLines)
            },
        ]),
    ]

    /// Sets the connection's name; an empty name clears it. Names are printable ASCII without spaces, as in Redis.
    static func setName(_ client: Client, to name: [UInt8]) throws {
        guard isValidAttribute(name) else {
            throw CommandError("ERR Client names cannot contain spaces, newlines or special characters.")
        }
        client.name = name
    }

    /// `CLIENT SETINFO LIB-NAME name | LIB-VER version`.
    static func setInfo(_ client: Client) throws {
        let value = Array(client.argument(3).readableBytesView)
        let attribute: ReferenceWritableKeyPath<Client, [UInt8]>
        if client.argument(2, is: "lib-name") {
            attribute = \.libraryName
        } else if client.argument(2, is: "lib-ver") {
            attribute = \.libraryVersion
        } else {
            throw CommandError("ERR Unrecognized option '\(client.argumentText(2))'")
        }
        guard isValidAttribute(value) else {
            throw CommandError("ERR \(client.argumentText(2)) cannot contain spaces, newlines or special characters.")
        }
        client[keyPath: attribute] = value
        client.reply.ok()
    }

    private static func isValidAttribute(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 >= UInt8(ascii: "!") && $0 <= UInt8(ascii: "~") }
    }

    /// `CLIENT LIST [TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID id [id ...]]`.
    static func list(_ client: Client) throws {
        var type: ClientType?
        var ids: Set<Int>?
        var index = 2
        while index < client.argumentCount {
            if client.argument(index, is: "type") && index + 1 < client.argumentCount {
                type = try ClientType(client.argumentText(index + 1))
                index += 2
            } else if client.argument(index, is: "id") && index + 1 < client.argumentCount {
                var wanted = Set<Int>()
                index += 1
                while index < client.argumentCount {
                    guard let id = RESPInteger.parse(bytes: client.argument(index).readableBytesView), id > 0 else {
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
        for handle in client.server.clients.all {
            if let ids, !ids.contains(handle.id) { continue }
            if let type, !type.matches(handle) { continue }
            text += ClientListFormat.line(for: handle, server: client.server)
        }
        client.reply.verbatim(text)
    }

    /// `CLIENT REPLY ON|OFF|SKIP`. Only ON replies; OFF and SKIP take effect at once, on their own reply too.
    static func reply(_ client: Client) throws {
        if client.argument(2, is: "on") {
            client.replyMode = .on
            client.reply.ok()
        } else if client.argument(2, is: "off") {
            client.replyMode = .off
        } else if client.argument(2, is: "skip") {
            if client.replyMode == .on { client.replyMode = .skipNext }
        } else {
            throw CommandError.syntax
        }
    }

    /// `CLIENT PAUSE timeout [WRITE|ALL]`.
    static func pause(_ client: Client) throws {
        let timeout = try client.integerArgument(2, error: CommandError("ERR timeout is not an integer or out of range"))
        guard timeout >= 0 else { throw CommandError("ERR timeout is negative") }
        var mode = ClientPause.Mode.all
        if client.argumentCount == 4 {
            if client.argument(3, is: "write") {
                mode = .write
            } else if !client.argument(3, is: "all") {
                throw CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
            }
        } else if client.argumentCount > 4 {
            throw CommandError.syntax
        }
        client.server.pause.pause(milliseconds: Int64(timeout), mode: mode)
        client.reply.ok()
    }

    /// `ON` / `OFF` (any case), else a syntax error.
    static func onOff(_ client: Client, _ index: Int) throws -> Bool {
        if client.argument(index, is: "on") { return true }
        if client.argument(index, is: "off") { return false }
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
        case .normal: handle.subscriptionCounts.isEmpty
        case .pubsub: !handle.subscriptionCounts.isEmpty
        case .master, .replica: false
        }
    }
}
