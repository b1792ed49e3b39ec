import KVStore
import Logging
import NIOCore
import RESP

/// COMMAND and its subcommands, generated from the command table (plus the Redis reference data in
/// `CommandReferences`), so every command shows up by itself.
struct IntrospectionCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    private static let flags: CommandFlags = [.loading, .stale]
    private static let categories = ["slow", "connection"]

    static let all: [CommandSpec] = [
        CommandSpec("command", arity: -1, flags: flags, categories: categories, subcommands: [
            CommandSpec("count", of: "command", arity: 2, flags: flags, categories: categories) { ctx in
                ctx.reply.integer(ctx.engine.commands.commands.count)
            },
            CommandSpec("info", of: "command", arity: -2, flags: flags, categories: categories, handler: info),
            CommandSpec("docs", of: "command", arity: -2, flags: flags, categories: categories, handler: docs),
            CommandSpec("list", of: "command", arity: -2, flags: flags, categories: categories, handler: list),
            CommandSpec("getkeys", of: "command", arity: -4, flags: flags, categories: categories) { ctx in
                try getKeys(ctx, withFlags: false)
            },
            CommandSpec("getkeysandflags", of: "command", arity: -4, flags: flags, categories: categories) { ctx in
                try getKeys(ctx, withFlags: true)
            },
            CommandSpec("help", of: "command", arity: 2, flags: flags, categories: categories) { ctx in
                HelpText.reply(to: ctx, command: "COMMAND", lines: helpLines)
            },
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
        let reference = CommandReferences.all[command.fullName]
        ctx.reply.arrayHeader(10)
        ctx.reply.bulk(command.fullName)
        ctx.reply.integer(command.arity)
        let flagNames = command.flags.names
        ctx.reply.setHeader(flagNames.count)
        for flag in flagNames { ctx.reply.simpleString(flag) }
        ctx.reply.integer(command.firstKey)
        ctx.reply.integer(command.lastKey)
        ctx.reply.integer(command.keyStep)
        ctx.reply.setHeader(command.categories.count)
        for category in command.categories { ctx.reply.simpleString("@" + category) }
        let tips = reference?.tips ?? []
        ctx.reply.setHeader(tips.count)
        for tip in tips { ctx.reply.bulk(tip) }
        let keySpecs = reference?.keySpecs ?? []
        ctx.reply.setHeader(keySpecs.count)
        for spec in keySpecs { spec.write(to: &ctx.reply) }
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
            let doc = CommandReferences.all[command.fullName]?.doc
            let subcommands = command.subcommands.map { ($0.fullName, CommandReferences.all[$0.fullName]?.doc) }
            if let doc {
                doc.write(to: &ctx.reply, subcommands: subcommands)
            } else {
                CommandDoc.write(nil, to: &ctx.reply)
            }
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
                let category = value.lowercased()
                filter = { $0.categories.contains(category) }
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

    /// `COMMAND GETKEYS command arg ...`: the keys a command would touch, from its key positions;
    /// `COMMAND GETKEYSANDFLAGS` adds each key's access flags from the command's first key specification.
    static func getKeys(_ ctx: CommandContext, withFlags: Bool) throws {
        let table = ctx.engine.commands
        guard var command = ctx.request.withArgument(2, { table.lookup($0) }) else {
            throw CommandError("ERR Invalid command specified")
        }
        if !command.subcommands.isEmpty, ctx.argumentCount > 3,
            let sub = ctx.request.withArgument(3, { CommandTable.subcommand(of: command, named: $0) }) {
            command = sub
        }
        let count = ctx.argumentCount - 2
        guard command.accepts(argumentCount: count) else {
            throw CommandError("ERR Invalid number of arguments specified for command")
        }
        guard command.firstKey > 0 else { throw CommandError("ERR The command has no key arguments") }
        let last = command.lastKey >= 0 ? command.lastKey : count + command.lastKey
        let positions = Array(stride(from: command.firstKey, through: min(last, count - 1), by: max(command.keyStep, 1)))
        let flags = CommandReferences.all[command.fullName]?.keySpecs.first?.flags ?? []
        ctx.reply.arrayHeader(positions.count)
        for position in positions {
            if withFlags {
                ctx.reply.arrayHeader(2)
                ctx.reply.bulk(ctx.argument(position + 2))
                ctx.reply.setHeader(flags.count)
                for flag in flags { ctx.reply.simpleString(flag) }
            } else {
                ctx.reply.bulk(ctx.argument(position + 2))
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

extension CommandTable {
    /// Looks up `get` or `client|list` (any case).
    func lookup(fullName: String) -> CommandSpec? {
        let parts = fullName.lowercased().split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            .map(String.init)
        guard let command = lookup(name: parts[0]) else { return nil }
        guard parts.count == 2 else { return command }
        return command.subcommands.first { $0.name == parts[1] }
    }
}
