import KVStore
import Logging
import NIOCore
import RESP

/// COMMAND and its subcommands, answered from the command table's rows, so every command shows up by itself.
struct IntrospectionCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.command, subcommands: [
            CommandSpec(.commandCount) { ctx in ctx.reply.integer(ctx.engine.commands.commands.count) },
            CommandSpec(.commandInfo, handler: info),
            CommandSpec(.commandDocs, handler: docs),
            CommandSpec(.commandList, handler: list),
            CommandSpec(.commandGetkeys) { ctx in try getKeys(ctx, withFlags: false) },
            CommandSpec(.commandGetkeysandflags) { ctx in try getKeys(ctx, withFlags: true) },
            CommandSpec(.commandHelp) { ctx in HelpText.reply(to: ctx, command: "COMMAND", lines: helpLines) },
        ], handler: describeAll),
    ]

    /// `COMMAND`: the description of every command.
    static func describeAll(_ ctx: CommandContext) throws {
        let commands = ctx.engine.commands.commands
        ctx.reply.arrayHeader(commands.count)
        for command in commands { describe(command, to: ctx) }
    }

    /// `COMMAND INFO [name ...]`: descriptions of the named commands (`get`, `client|list`), null for unknown ones.
    static func info(_ ctx: CommandContext) throws {
        if ctx.argumentCount == 2 {
            try describeAll(ctx)
            return
        }
        ctx.reply.arrayHeader(ctx.argumentCount - 2)
        for index in 2..<ctx.argumentCount {
            if let command = ctx.engine.commands.lookup(fullName: ctx.argumentText(index)) {
                describe(command, to: ctx)
            } else {
                ctx.reply.null()
            }
        }
    }

    /// The 10-element description Redis 7 gives: name, arity, flags, first key, last key, step, ACL categories,
    /// tips, key specifications, subcommands.
    static func describe(_ command: CommandSpec, to ctx: CommandContext) {
        let metadata = command.metadata
        ctx.reply.arrayHeader(10)
        ctx.reply.bulk(metadata.fullName)
        ctx.reply.integer(metadata.arity)
        let flagNames = metadata.flags.names
        ctx.reply.setHeader(flagNames.count)
        for flag in flagNames { ctx.reply.simpleString(flag) }
        ctx.reply.integer(metadata.keys.first)
        ctx.reply.integer(metadata.keys.last)
        ctx.reply.integer(metadata.keys.step)
        let categories = metadata.categories.names
        ctx.reply.setHeader(categories.count)
        for category in categories { ctx.reply.simpleString("@" + category) }
        ctx.reply.setHeader(metadata.tips.count)
        for tip in metadata.tips { ctx.reply.bulk(tip) }
        ctx.reply.setHeader(metadata.keySpecs.count)
        for spec in metadata.keySpecs { spec.write(to: &ctx.reply) }
        // Redis sends an array of subcommands, or an empty set when there are none.
        if command.subcommands.isEmpty {
            ctx.reply.setHeader(0)
        } else {
            ctx.reply.arrayHeader(command.subcommands.count)
            for sub in command.subcommands { describe(sub, to: ctx) }
        }
    }

    /// `COMMAND DOCS [name ...]`: a map of name → documentation; unknown names are left out.
    static func docs(_ ctx: CommandContext) throws {
        let table = ctx.engine.commands
        let commands = ctx.argumentCount == 2
            ? table.commands
            : (2..<ctx.argumentCount).compactMap { table.lookup(fullName: ctx.argumentText($0)) }
        ctx.reply.mapHeader(commands.count)
        for command in commands {
            ctx.reply.bulk(command.fullName)
            command.metadata.doc.write(
                to: &ctx.reply, subcommands: command.subcommands.map { ($0.fullName, $0.metadata.doc) })
        }
    }

    /// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`: every command name, subcommands
    /// included (`client|list`).
    static func list(_ ctx: CommandContext) throws {
        var filter: (CommandSpec) -> Bool = { _ in true }
        if ctx.argumentCount != 2 {
            guard ctx.argumentCount == 5, ctx.argument(2, is: "filterby") else { throw CommandError.syntax }
            let value = ctx.argumentText(4)
            if ctx.argument(3, is: "module") {
                filter = { _ in false }  // kvnode has no modules
            } else if ctx.argument(3, is: "aclcat") {
                // An unknown category matches nothing, as in Redis.
                let category = ACLCategories(name: value)
                filter = { command in category.map { command.categories.contains($0) } ?? false }
            } else if ctx.argument(3, is: "pattern") {
                let pattern = GlobPattern(value.lowercased().utf8)
                filter = { pattern.matches($0.fullName.utf8) }
            } else {
                throw CommandError.syntax
            }
        }
        let names = ctx.engine.commands.commands.flatMap { [$0] + $0.subcommands }.filter(filter).map(\.fullName)
        ctx.reply.arrayHeader(names.count)
        for name in names { ctx.reply.bulk(name) }
    }

    /// `COMMAND GETKEYS command arg ...`: the keys the command would access, found from its row as access control
    /// finds them; `COMMAND GETKEYSANDFLAGS` adds how each key is accessed. Checks and errors in Redis's order.
    static func getKeys(_ ctx: CommandContext, withFlags: Bool) throws {
        let arguments = CommandArguments(ctx.request, from: 2)
        guard let command = ctx.engine.commands.lookup(arguments) else {
            throw CommandError("ERR Invalid command specified")
        }
        guard command.hasKeys else { throw CommandError("ERR The command has no key arguments") }
        guard command.accepts(argumentCount: arguments.count) else {
            throw CommandError("ERR Invalid number of arguments specified for command")
        }
        let keys = command.keyPositions(in: arguments)
        if keys.isEmpty && !command.flags.contains(.noMandatoryKeys) {
            throw CommandError("ERR Invalid arguments specified for command")
        }
        ctx.reply.arrayHeader(keys.count)
        for key in keys {
            if withFlags {
                ctx.reply.arrayHeader(2)
                ctx.reply.bulk(ctx.argument(key.position + 2))
                let flags = key.flags.names
                ctx.reply.setHeader(flags.count)
                for flag in flags { ctx.reply.simpleString(flag) }
            } else {
                ctx.reply.bulk(ctx.argument(key.position + 2))
            }
        }
    }

    private static let helpLines = [
        "(no subcommand)", "    Return details about all Redis commands.",
        "COUNT", "    Return the total number of commands in this Redis server.",
        "LIST", "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all", "    commands are returned.",
        "DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all", "    commands are returned.",
        "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command.",
    ]
}
