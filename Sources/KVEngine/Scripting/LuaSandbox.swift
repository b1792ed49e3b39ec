/// The Lua side of the sandbox Redis 7.0 gives scripts, run once when an interpreter is made, after the libraries
/// and the `redis` table are in the globals.
///
/// - `dofile`, `loadfile`, `print` and `debug` are removed (`io`, `os` and `package` are never loaded);
/// - the globals scripts see are a read-only view: assigning any global raises `Attempt to modify a readonly table`,
///   reading one that does not exist raises `Script attempted to access nonexistent global variable 'x'`, both with
///   the script's line (error level 2); the library tables (`redis`, `string`, ...) are read-only views too;
/// - `pcall` returns the message of an error raised as a table (`redis.call`'s `{err=...}`), as Redis's does;
/// - the error handler turns every error into `{err=..., source=..., line=...}`, from which EVAL's reply is made.
///
/// The chunk returns the read-only globals (which become the interpreter's globals), the real globals table (where
/// KEYS and ARGV are set) and the error handler.
enum LuaSandbox {
    static let prelude = """
        local G = _G
        local dbg = debug
        local type, tostring, rawget, error, setmetatable, rawpcall = type, tostring, rawget, error, setmetatable, pcall

        local function error_handler(err)
          -- The frame that raised: past a C function (error, redis.call) and the sandbox's own metamethods.
          local level = 2
          local i = dbg.getinfo(level, 'nSl')
          while i and (i.what == 'C' or i.source == '=kvnode_sandbox') and level < 6 do
            level = level + 1
            i = dbg.getinfo(level, 'nSl')
          end
          if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
          if i then
            err['source'] = i.source
            err['line'] = i.currentline
          end
          return err
        end

        local function pcall_result(ok, ...)
          if ok then return ok, ... end
          local e = ...
          if type(e) == 'table' then
            local message = rawget(e, 'err')
            if type(message) == 'string' or type(message) == 'number' then e = message end
          end
          return false, e
        end
        G.pcall = function(...) return pcall_result(rawpcall(...)) end

        local function refuse_change() error('Attempt to modify a readonly table', 2) end
        local function readonly(t)
          return setmetatable({}, {__index = t, __newindex = refuse_change, __metatable = false})
        end

        G.dofile, G.loadfile, G.print, G.debug = nil, nil, nil, nil
        for _, name in ipairs({'redis', 'string', 'math', 'table', 'coroutine', 'cjson', 'bit'}) do
          G[name] = readonly(G[name])
        end
        local view = readonly(G)
        G._G = view
        setmetatable(G, {__index = function(_, name)
          error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
        end})
        return view, G, error_handler
        """
}
