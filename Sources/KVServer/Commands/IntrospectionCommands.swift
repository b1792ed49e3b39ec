import KVStore
import Logging
import NIOCore
import RESP

/// COMMAND and its subcommands, generated from the command table so every command shows up by itself.
enum IntrospectionCommands {
    private static let flags: CommandFlags = [.loading, .stale]
    private static let categories = ["slow", "connection"]

    static let all: [CommandSpec] = [
        CommandSpec("command", arity: -1, flags: flags, categories: categories, subcommands: [
            CommandSpec("count", of: "command", arity: 2, flags: flags, categories: categories) { client in
                client.reply.integer(client.server.commands.commands.count)
            },
            CommandSpec("info", of: "command", arity: -2, flags: flags, categories: categories, handler: info),
        ], handler: list),
    ]

    /// `COMMAND`: the description of every command.
    static func list(_ client: Client) throws {
        let commands = client.server.commands.commands
        client.reply.arrayHeader(commands.count)
        for command in commands { describe(command, to: client) }
    }

    /// `COMMAND INFO [name ...]`: descriptions of the named commands, null for unknown ones.
    static func info(_ client: Client) throws {
        let table = client.server.commands
        if client.argumentCount == 2 {
            try list(client)
            return
        }
        client.reply.arrayHeader(client.argumentCount - 2)
        for index in 2..<client.argumentCount {
            if let command = client.request.withArgument(index, { table.lookup($0) }) {
                describe(command, to: client)
            } else {
                client.reply.nullArray()
            }
        }
    }

    /// The 10-element description Redis 7 gives: name, arity, flags, first key, last key, step, ACL categories,
    /// tips, key specifications, subcommands.
    static func describe(_ command: CommandSpec, to client: Client) {
        client.reply.arrayHeader(10)
        client.reply.bulk(command.fullName)
        client.reply.integer(command.arity)
        let flagNames = command.flags.names
        client.reply.setHeader(flagNames.count)
        for flag in flagNames { client.reply.simpleString(flag) }
        client.reply.integer(command.firstKey)
        client.reply.integer(command.lastKey)
        client.reply.integer(command.keyStep)
        client.reply.setHeader(command.categories.count)
        for category in command.categories { client.reply.simpleString("@" + category) }
        client.reply.setHeader(0)
        client.reply.arrayHeader(0)
        client.reply.arrayHeader(command.subcommands.count)
        for sub in command.subcommands { describe(sub, to: client) }
    }
}
