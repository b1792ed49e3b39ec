import KVStore
import NIOCore
import RESP
import Synchronization
import NIOConcurrencyHelpers

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
            switch parameter.mutability {
            case .mutable:
                break
            case .immutable:
                throw failure(parameter, "can't set immutable config")
            case .protected(let alwaysFromLocal):
                let isLocal = ctx.session.handle.isLoopback
                guard (alwaysFromLocal && isLocal) || ctx.engine.configuration.protectedConfigs.allows(
                    fromLocalConnection: isLocal)
                else { throw failure(parameter, "can't set protected config") }
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
        if let tlsChange = try tlsChange(ctx, parameters) { changes.append(tlsChange) }
        for change in changes { change() }
        ctx.reply.ok()
    }

    /// The `tls-*` values of one CONFIG SET, checked together by the TLS layer (it builds the new context) before
    /// anything changes; a failure is reported as Redis does, the details going to the log only, as they name files.
    private static func tlsChange(
        _ ctx: CommandContext, _ parameters: [(ConfigParameter, value: String)]
    ) throws -> ConfigParameter.Change? {
        let edits = parameters.filter { $0.0.editTLS != nil }
        guard let first = edits.first?.0 else { return nil }
        var settings = ctx.engine.tlsSettings
        for (parameter, value) in edits {
            do {
                try parameter.editTLS!(&settings, value)
            } catch {
                throw failure(parameter, error.reason)
            }
        }
        let install: (@Sendable () -> Void)?
        do {
            install = try ctx.engine.settings.tlsReloader.withLockedValue { $0 }?.prepare(settings)
        } catch {
            throw failure(first, "Unable to update TLS configuration. Check server logs.")
        }
        let engine = ctx.engine
        return { [settings] in
            engine.settings.tls.withLockedValue { $0 = settings }
            install?()
        }
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
