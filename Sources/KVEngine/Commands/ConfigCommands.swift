import KVStore
import NIOCore
import RESP
import Synchronization

/// CONFIG GET / SET / RESETSTAT / REWRITE / HELP over the `ConfigRegistry`.
struct ConfigCommands: CommandFamily {
    var commands: [CommandSpec] { Self.all }

    static let all: [CommandSpec] = [
        CommandSpec(.config, subcommands: [
            CommandSpec(.configGet, handler: get),
            CommandSpec(.configSet, handler: set),
            // RESETSTAT zeroes the keyspace's statistics under a lease.
            CommandSpec(.configResetstat, kvnodeFlags: .keyspace, handler: resetStat),
            CommandSpec(.configRewrite) { _ in throw CommandError("ERR The server is running without a config file") },
            CommandSpec(.configHelp) { ctx in
                HelpText.reply(to: ctx, command: "CONFIG", lines: [
                    "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                    "SET <directive> <value>", "    Set the configuration <directive> to <value>.",
                    "RESETSTAT", "    Reset statistics reported by the INFO command.",
                    "REWRITE", "    Rewrite the configuration file.",
                ])
            },
        ]),
    ]

    /// `CONFIG GET pattern [pattern ...]`: a map of every matching parameter. An exact name is echoed as given, and a
    /// parameter matched twice appears once, as in Redis.
    static func get(_ ctx: CommandContext) throws {
        let registry = ctx.engine.config
        var seen = Set<String>()
        var result: [(name: String, value: String)] = []
        for index in 2..<ctx.argumentCount {
            let pattern = ctx.argumentText(index)
            let matches: [(name: String, parameter: ConfigParameter)]
            if pattern.utf8.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }) {
                matches = registry.matching(pattern)
            } else {
                matches = registry.lookup(pattern).map { [(pattern, $0)] } ?? []
            }
            for (name, parameter) in matches where seen.insert(name.lowercased()).inserted {
                result.append((name, parameter.get(ctx.engine)))
            }
        }
        ctx.reply.mapHeader(result.count)
        for (name, value) in result {
            ctx.reply.bulk(name)
            ctx.reply.bulk(value)
        }
    }

    /// `CONFIG SET name value [name value ...]`: all or nothing. Names are checked first (unknown, immutable,
    /// repeated), then every value, and only then is anything changed.
    static func set(_ ctx: CommandContext) throws {
        guard ctx.argumentCount % 2 == 0 else { throw CommandError.syntax }
        let registry = ctx.engine.config
        var parameters: [(ConfigParameter, value: String)] = []
        var names = Set<String>()
        for index in stride(from: 2, to: ctx.argumentCount, by: 2) {
            let name = ctx.argumentText(index)
            guard let parameter = registry.lookup(name) else {
                throw CommandError("ERR Unknown option or number of arguments for CONFIG SET - '\(name)'")
            }
            guard parameter.mutability == .mutable else {
                throw failure(parameter, "can't set immutable config")
            }
            guard names.insert(name.lowercased()).inserted else { throw failure(parameter, "duplicate parameter") }
            parameters.append((parameter, ctx.argumentText(index + 1)))
        }
        var changes: [ConfigParameter.Change] = []
        for (parameter, value) in parameters {
            do {
                changes.append(try parameter.parse(ctx.engine, value))
            } catch let error as ConfigValueError {
                throw failure(parameter, error.reason)
            }
        }
        for change in changes { change() }
        ctx.reply.ok()
    }

    private static func failure(_ parameter: ConfigParameter, _ reason: String) -> CommandError {
        CommandError("ERR CONFIG SET failed (possibly related to argument '\(parameter.name)') - \(reason)")
    }

    /// `CONFIG RESETSTAT`: zeroes what INFO counts (commands, errors, connections, keyspace hits and misses,
    /// expired keys, snapshots started).
    static func resetStat(_ ctx: CommandContext) throws {
        ctx.engine.metrics.reset()
        ctx.engine.snapshots.resetStatistics()
        let keyspace = ctx.keyspace
        keyspace.resetStatistics()
        ctx.engine.keyspaceEvents.resetStatistics()
        ctx.reply.ok()
    }
}

/// The replies of the HELP subcommands, in Redis's layout.
enum HelpText {
    static func reply(to ctx: CommandContext, command: String, lines: [String]) {
        let all = ["\(command) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"] + lines
            + ["HELP", "    Prints this help."]
        ctx.reply.arrayHeader(all.count)
        for line in all { ctx.reply.simpleString(line) }
    }
}
