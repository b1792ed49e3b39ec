import NIOCore
import RESP

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP, over the server's one Lua
/// interpreter (`LuaInterpreter`).
///
/// A script runs under the lease of the command that runs it, as one unit (`CommandContext.runAsOneUnit`, as EXEC):
/// no other client sees part of it, its writes reach LevelDB in one batch as one revision, and each command it
/// runs goes through the command table like a direct one (its checks, keyspace notifications, statistics).
struct ScriptingCommands: CommandFamily {
    let lua: LuaInterpreter

    var commands: [CommandSpec] {
        let lua = self.lua
        return [
            // EVAL and EVALSHA are neither `write` nor `readonly` in Redis's table: the lease is asked for here.
            CommandSpec(.eval, kvnodeFlags: .keyspace) { try lua.eval($0, bySHA: false, readOnly: false) },
            CommandSpec(.evalsha, kvnodeFlags: .keyspace) { try lua.eval($0, bySHA: true, readOnly: false) },
            CommandSpec(.evalRo) { try lua.eval($0, bySHA: false, readOnly: true) },
            CommandSpec(.evalshaRo) { try lua.eval($0, bySHA: true, readOnly: true) },
            CommandSpec(.script, subcommands: [
                CommandSpec(.scriptLoad) { ctx in ctx.reply.bulk(try lua.load(ctx.argument(2))) },
                CommandSpec(.scriptExists) { ctx in
                    let found = lua.contains((2..<ctx.argumentCount).map { ctx.argumentText($0) })
                    ctx.reply.arrayHeader(found.count)
                    for exists in found { ctx.reply.integer(exists ? 1 : 0) }
                },
                CommandSpec(.scriptFlush) { ctx in
                    guard ctx.argumentCount == 2 || (ctx.argumentCount == 3
                        && (ctx.argument(2, is: "sync") || ctx.argument(2, is: "async")))
                    else { throw CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option") }
                    lua.flush()
                    ctx.reply.ok()
                },
                // A script holds the lease until it ends, so no other command ever sees one running.
                CommandSpec(.scriptKill) { _ in throw CommandError("NOTBUSY No scripts in execution right now.") },
                CommandSpec(.scriptHelp) { ctx in
                    HelpText.reply(to: ctx, command: "SCRIPT", lines: [
                        "EXISTS <sha1> [<sha1> ...]",
                        "    Return information about the existence of the scripts in the script cache.",
                        "FLUSH [ASYNC|SYNC]",
                        "    Flush the Lua scripts cache. Very dangerous on replicas.",
                        "    When called without the optional mode argument, the behavior is determined by the",
                        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
                        "    * ASYNC: Asynchronously flush the scripts cache.",
                        "    * SYNC: Synchronously flush the scripts cache.",
                        "KILL", "    Kill the currently executing Lua script.",
                        "LOAD <script>", "    Load a script into the scripts cache without executing it.",
                    ])
                },
            ]),
        ]
    }
}
