import CLua
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RESP

/// The Lua interpreter scripts run in, one for the server as in Redis, with the script cache (SHA1 → compiled
/// function, kept in the Lua registry as `f_<sha>`).
///
/// A script runs with the lock held, inside a command that holds the store's lease (EVAL and friends have the
/// `keyspace` flag), so scripts run one at a time and no other client sees part of one. The lock is always taken
/// after the lease, never the other way round; SCRIPT LOAD, EXISTS and FLUSH take only the lock.
///
/// Lua errors unwind with longjmp, which must never cross a Swift frame: every function Lua calls into Swift returns
/// normally and lets the C trampoline raise (`kvlua_trampoline`), Lua code runs only inside `lua_pcall`, and the
/// Swift side reads tables with raw accesses, which call no metamethod and cannot raise.
final class LuaInterpreter: @unchecked Sendable {
    private let lock = NIOLock()
    private let logger: Logger
    /// The interpreter; replaced by SCRIPT FLUSH.
    private var state: OpaquePointer
    /// Flags of every cached script (its shebang's), by lower-case SHA1 hex.
    private var scripts: [String: ScriptFlags] = [:]
    /// The script running now, for `redis.call` and the other functions that need it.
    private var current: ScriptRun?

    init(logger: Logger) {
        self.logger = logger
        self.state = luaL_newstate()
        setUp()
    }

    deinit {
        lua_close(state)
    }

    /// Number of scripts in the cache (INFO `number_of_cached_scripts`). Kept apart from the lock: INFO may run
    /// inside a script.
    var cachedScripts: Int { statistics.withLockedValue { $0.scripts } }

    /// Bytes the interpreter uses (INFO `used_memory_lua`), as of the last script or change to the cache.
    var memoryBytes: Int { statistics.withLockedValue { $0.memory } }

    private let statistics = NIOLockedValueBox((scripts: 0, memory: 0))

    /// Publishes the statistics INFO reads; called with the lock held.
    private func updateStatistics() {
        let memory = Int(lua_gc(state, LUA_GCCOUNT, 0)) * 1024 + Int(lua_gc(state, LUA_GCCOUNTB, 0))
        let scripts = scripts.count
        statistics.withLockedValue { $0 = (scripts, memory) }
    }

    // MARK: Commands

    /// Compiles `body` into the cache unless it is there (SCRIPT LOAD, EVAL); returns its SHA1.
    func load(_ body: ByteBuffer) throws(CommandError) -> String {
        let sha = body.withUnsafeReadableBytes { SHA1.hexDigest($0) }
        lock.lock()
        defer { lock.unlock() }
        _ = try compileIfNeeded(sha, body)
        return sha
    }

    /// Which of `shas` are cached (SCRIPT EXISTS; any case).
    func contains(_ shas: [String]) -> [Bool] {
        lock.withLock { shas.map { scripts[$0.lowercased()] != nil } }
    }

    /// Empties the cache and starts a new interpreter (SCRIPT FLUSH), as Redis does.
    func flush() {
        lock.withLock {
            lua_close(state)
            scripts = [:]
            state = luaL_newstate()
            setUp()
        }
    }

    /// Whether `request` is an EVAL or EVALSHA whose script may write (no `no-writes` shebang flag): CLIENT PAUSE
    /// WRITE holds it back, as Redis holds back its "may replicate" commands. EVAL_RO and EVALSHA_RO never write.
    func mayWrite(_ spec: CommandSpec, _ request: Request) -> Bool {
        guard spec.name == "eval" || spec.name == "evalsha", request.count > 1 else { return false }
        let flags: ScriptFlags
        if spec.name == "eval" {
            flags = (try? ScriptFlags.parseShebang(request[1]).0) ?? []
        } else {
            let sha = request.withArgument(1) { String(decoding: $0, as: UTF8.self) }.lowercased()
            flags = lock.withLock { scripts[sha] } ?? []
        }
        return !flags.contains(.noWrites)
    }

    /// Runs a script for EVAL, EVALSHA and their `_RO` forms: `ctx`'s arguments are the script (or its SHA1),
    /// numkeys, the keys and the other arguments.
    func eval(_ ctx: CommandContext, bySHA: Bool, readOnly: Bool) throws(CommandError) {
        if bySHA && ctx.request.length(of: 1) != 40 { throw .noScript }
        let keyCount = try ctx.integerArgument(2)
        if keyCount > ctx.argumentCount - 3 {
            throw CommandError("ERR Number of keys can't be greater than number of args")
        }
        if keyCount < 0 { throw CommandError("ERR Number of keys can't be negative") }
        let body = ctx.argument(1)
        let sha = bySHA ? ctx.argumentText(1).lowercased() : body.withUnsafeReadableBytes { SHA1.hexDigest($0) }
        lock.lock()
        defer { lock.unlock() }
        let flags: ScriptFlags
        if bySHA {
            guard let cached = scripts[sha] else { throw .noScript }
            flags = cached
        } else {
            flags = try compileIfNeeded(sha, body)
        }
        run(ctx, sha: sha, keyCount: keyCount, readOnly: readOnly || flags.contains(.noWrites))
    }

    // MARK: Running a script

    private func run(_ ctx: CommandContext, sha: String, keyCount: Int, readOnly: Bool) {
        let L = state
        lua_settop(L, 0)
        lua_getfield(L, kvlua_registry_index(), "kvnode.error_handler")
        lua_getfield(L, kvlua_registry_index(), "f_" + sha)
        lua_getfield(L, kvlua_registry_index(), "kvnode.globals")
        setArray(L, name: "KEYS", from: 3, count: keyCount, ctx)
        setArray(L, name: "ARGV", from: 3 + keyCount, count: ctx.argumentCount - 3 - keyCount, ctx)
        lua_settop(L, 2)
        let run = ScriptRun(context: ctx, sha: sha, readOnly: readOnly)
        current = run
        let status = ctx.runAsOneUnit(mayWrite: !readOnly) { lua_pcall(L, 0, 1, 1) }
        current = nil
        if status == 0 {
            LuaReplies.writeReply(L, into: &ctx.reply, luaProtocol: run.protocol)
        } else {
            let (text, fromCommand) = Self.scriptErrorText(L, sha: sha)
            // An error a command replied inside the script was counted when that command failed.
            if fromCommand { ctx.reply.error(text) } else { ctx.session.replyError(CommandError(text)) }
        }
        lua_settop(L, 0)
        lua_gc(L, LUA_GCSTEP, 1)
        updateStatistics()
    }

    /// Sets global `name` (in the real globals table at index 3) to a Lua array of `count` arguments from `first`.
    private func setArray(_ L: OpaquePointer, name: String, from first: Int, count: Int, _ ctx: CommandContext) {
        lua_createtable(L, Int32(clamping: count), 0)
        for index in 0..<count {
            ctx.request.withArgument(first + index) { bytes in
                lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
            }
            lua_rawseti(L, -2, Int32(index + 1))
        }
        lua_setfield(L, 3, name)  // a raw set: the real globals table has only an __index metamethod
    }

    /// The reply of a script that raised an error: Redis 7.0's `-<err> script: <sha>, on <source>:<line>.`; and
    /// whether the error is one a command replied.
    private static func scriptErrorText(_ L: OpaquePointer, sha: String) -> (String, Bool) {
        guard lua_type(L, -1) == LUA_TTABLE else {
            let message = lua_isstring(L, -1) != 0 ? LuaReplies.string(L, -1) : "execution failure"
            return ("ERR Error running script \(sha), \(message.prefix(100))", false)
        }
        let message = LuaReplies.field(L, "err") ?? "ERR unknown error"
        var text = message
        if let source = LuaReplies.field(L, "source"), let line = LuaReplies.field(L, "line") {
            text += " script: \(sha), on \(source):\(line)."
        }
        lua_pushstring(L, "ignore_error_stats_update")
        lua_rawget(L, -2)
        let fromCommand = lua_toboolean(L, -1) != 0
        lua_settop(L, -2)
        return (text, fromCommand)
    }

    /// Compiles `body` as `f_<sha>` unless cached; returns its shebang flags.
    private func compileIfNeeded(_ sha: String, _ body: ByteBuffer) throws(CommandError) -> ScriptFlags {
        if let flags = scripts[sha] { return flags }
        let (flags, shebangLength) = try ScriptFlags.parseShebang(body)
        let L = state
        let status = body.withUnsafeReadableBytes { bytes in
            // A shebang line is skipped but its line feed kept, so line numbers stay the user's.
            let code = UnsafeRawBufferPointer(rebasing: bytes[shebangLength...])
            return luaL_loadbuffer(L, code.baseAddress?.assumingMemoryBound(to: CChar.self), code.count, "@user_script")
        }
        guard status == 0 else {
            let message = LuaReplies.string(L, -1)
            lua_settop(L, 0)
            throw CommandError("ERR Error compiling script (new function): \(message)")
        }
        lua_setfield(L, kvlua_registry_index(), "f_" + sha)
        scripts[sha] = flags
        updateStatistics()
        return flags
    }

    // MARK: Setting up an interpreter

    /// Loads the libraries, the `redis` table and the sandbox into a new interpreter.
    private func setUp() {
        let L = state
        kvlua_open_libraries(L)
        let context = Unmanaged.passUnretained(self).toOpaque()
        lua_createtable(L, 0, 24)
        func function(_ name: String, _ body: kvlua_function) {
            kvlua_push_function(L, body, context)
            lua_setfield(L, -2, name)
        }
        func number(_ name: String, _ value: Double) {
            lua_pushnumber(L, value)
            lua_setfield(L, -2, name)
        }
        function("call") { L, context in LuaInterpreter.from(context).call(L!, raisesErrors: true) }
        function("pcall") { L, context in LuaInterpreter.from(context).call(L!, raisesErrors: false) }
        function("sha1hex") { L, _ in LuaFunctions.sha1hex(L!) }
        function("error_reply") { L, _ in LuaFunctions.errorReply(L!) }
        function("status_reply") { L, _ in LuaFunctions.statusReply(L!) }
        function("log") { L, context in LuaFunctions.log(L!, LuaInterpreter.from(context).logger) }
        function("setresp") { L, context in LuaInterpreter.from(context).setProtocol(L!) }
        function("set_repl") { L, context in LuaInterpreter.from(context).setReplication(L!) }
        function("acl_check_cmd") { L, context in LuaInterpreter.from(context).checkPermission(L!) }
        // Without the script debugger (SCRIPT DEBUG) these do what Redis's do when it is off.
        function("breakpoint") { L, _ in lua_pushboolean(L, 0); return 1 }
        function("debug") { _, _ in 0 }
        function("replicate_commands") { L, _ in lua_pushboolean(L, 1); return 1 }
        for (name, level) in LuaFunctions.logLevels { number(name, Double(level)) }
        for (name, flags) in LuaFunctions.replicationFlags { number(name, Double(flags)) }
        lua_pushstring(L, LuaFunctions.redisVersion)
        lua_setfield(L, -2, "REDIS_VERSION")
        number("REDIS_VERSION_NUM", Double(LuaFunctions.redisVersionNumber))
        lua_setfield(L, kvlua_globals_index(), "redis")

        var prelude = LuaSandbox.prelude
        let loaded = prelude.withUTF8 { code in
            code.withMemoryRebound(to: CChar.self) { luaL_loadbuffer(L, $0.baseAddress, $0.count, "=kvnode_sandbox") }
        }
        precondition(loaded == 0 && lua_pcall(L, 0, 3, 0) == 0, "the Lua sandbox failed: \(LuaReplies.string(L, -1))")
        lua_setfield(L, kvlua_registry_index(), "kvnode.error_handler")
        lua_setfield(L, kvlua_registry_index(), "kvnode.globals")
        lua_replace(L, kvlua_globals_index())  // scripts see the read-only view
        lua_settop(L, 0)
        updateStatistics()
    }

    static func from(_ context: UnsafeMutableRawPointer?) -> LuaInterpreter {
        Unmanaged<LuaInterpreter>.fromOpaque(context!).takeUnretainedValue()
    }

    // MARK: Functions that need the running script

    /// `redis.call` and `redis.pcall`: runs a command through the command table, as the caller's user, and converts
    /// its reply; an error is raised (call) or returned as `{err=...}` (pcall).
    private func call(_ L: OpaquePointer, raisesErrors: Bool) -> Int32 {
        guard let run = current else {
            LuaReplies.pushError(L, "redis.call/pcall can only be called inside a script invocation")
            return -1
        }
        let failed: Bool
        switch run.request(from: L) {
        case .refused(let message):
            LuaReplies.pushError(L, message)
            failed = true
        case .request(let request):
            let reply = run.execute(request)
            failed = LuaReplies.pushReply(L, reply)
        }
        return failed && raisesErrors ? -1 : 1
    }

    /// `redis.acl_check_cmd(command, ...)`: whether the caller's user may run the command with these arguments.
    private func checkPermission(_ L: OpaquePointer) -> Int32 {
        guard let run = current else {
            LuaReplies.pushError(L, "redis.acl_check_cmd can only be called inside a script invocation")
            return -1
        }
        switch run.request(from: L) {
        case .refused(let message):
            LuaReplies.pushError(L, message)
            return -1
        case .request(let request):
            guard let permitted = run.permits(request) else {
                LuaReplies.pushError(L, "Invalid command passed to redis.acl_check_cmd()")
                return -1
            }
            lua_pushboolean(L, permitted ? 1 : 0)
            return 1
        }
    }

    /// `redis.setresp(2|3)`: the protocol command replies are converted from, and Lua booleans are returned in.
    private func setProtocol(_ L: OpaquePointer) -> Int32 {
        guard let run = current else {
            LuaReplies.pushError(L, "redis.setresp can only be called inside a script invocation")
            return -1
        }
        guard lua_gettop(L) == 1 else {
            LuaReplies.pushError(L, "redis.setresp() requires one argument.")
            return -1
        }
        switch Int(lua_tonumber(L, 1)) {
        case 2: run.protocol = .resp2
        case 3: run.protocol = .resp3
        default:
            LuaReplies.pushError(L, "RESP version must be 2 or 3.")
            return -1
        }
        return 0
    }

    /// `redis.set_repl(flags)`: accepted (there are no replicas or AOF to propagate to), with Redis's checks.
    private func setReplication(_ L: OpaquePointer) -> Int32 {
        guard current != nil else {
            LuaReplies.pushError(L, "redis.set_repl can only be called inside a script invocation")
            return -1
        }
        guard lua_gettop(L) == 1 else {
            LuaReplies.pushError(L, "redis.set_repl() requires two arguments.")
            return -1
        }
        let flags = Int(lua_tonumber(L, -1))
        guard flags & ~LuaFunctions.replicationAll == 0 else {
            LuaReplies.pushError(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
            return -1
        }
        return 0
    }
}

extension CommandError {
    /// EVALSHA of a script that is not cached.
    static let noScript = CommandError("NOSCRIPT No matching script. Please use EVAL.")
}
