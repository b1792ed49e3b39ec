import KVStore
import Logging
import NIOCore
import RESP

/// CLIENT and its subcommands: connection bookkeeping that client libraries send on connect.
enum ClientCommands {
    private static let categories = ["slow", "connection"]
    private static let flags: CommandFlags = [.noscript, .loading, .stale]

    static let all: [CommandSpec] = [
        CommandSpec("client", arity: -2, flags: [], categories: categories, subcommands: [
            CommandSpec("id", of: "client", arity: 2, flags: flags, categories: categories) { client in
                client.reply.integer(client.id)
            },
            CommandSpec("setname", of: "client", arity: 3, flags: flags, categories: categories) { client in
                try setName(client, to: Array(client.argument(2).readableBytesView))
                client.reply.ok()
            },
            CommandSpec("getname", of: "client", arity: 2, flags: flags, categories: categories) { client in
                if client.name.isEmpty {
                    client.reply.null()
                } else {
                    client.name.withUnsafeBytes { client.reply.bulk($0) }
                }
            },
            CommandSpec("setinfo", of: "client", arity: 4, flags: flags, categories: categories, handler: setInfo),
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
}
