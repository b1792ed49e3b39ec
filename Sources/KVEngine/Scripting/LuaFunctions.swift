import CLua
import Logging

/// The functions of the `redis` table that do not need the running script, with Redis 7.0's checks and texts.
enum LuaFunctions {
    /// The version scripts see, the one INFO reports.
    static let redisVersion = ServerInfo.redisVersion
    /// `REDIS_VERSION_NUM`: 0x00MMmmpp.
    static var redisVersionNumber: Int {
        let parts = redisVersion.split(separator: ".").map { Int($0) ?? 0 } + [0, 0, 0]
        return parts[0] << 16 | parts[1] << 8 | parts[2]
    }

    /// `redis.LOG_*`, Redis's log levels.
    static let logLevels: [(String, Int)] = [
        ("LOG_DEBUG", 0), ("LOG_VERBOSE", 1), ("LOG_NOTICE", 2), ("LOG_WARNING", 3),
    ]

    /// `redis.REPL_*`, Redis's propagation flags.
    static let replicationFlags: [(String, Int)] = [
        ("REPL_NONE", 0), ("REPL_AOF", 1), ("REPL_SLAVE", 2), ("REPL_REPLICA", 2), ("REPL_ALL", 3),
    ]
    static let replicationAll = 3

    /// `redis.sha1hex(s)`.
    static func sha1hex(_ L: OpaquePointer) -> Int32 {
        guard lua_gettop(L) == 1 else {
            LuaReplies.pushError(L, "wrong number of arguments")
            return -1
        }
        var length = 0
        let bytes = lua_tolstring(L, 1, &length)
        lua_pushstring(L, SHA1.hexDigest(UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : length)))
        return 1
    }

    /// `redis.error_reply(s)`: `{err=s}`, with `ERR ` before a message that has no error code.
    static func errorReply(_ L: OpaquePointer) -> Int32 {
        guard lua_gettop(L) == 1, lua_type(L, -1) == LUA_TSTRING else {
            LuaReplies.pushError(L, "wrong number or type of arguments")
            return 1
        }
        var length = 0
        let bytes = UnsafeRawBufferPointer(start: lua_tolstring(L, 1, &length), count: length)
        // Redis adds a `-` when missing, then reads `-CODE message` back.
        let line = bytes.first == UInt8(ascii: "-") ? UnsafeRawBufferPointer(rebasing: bytes.dropFirst()) : bytes
        LuaReplies.pushError(L, line: line)
        lua_pushnil(L)
        lua_setfield(L, -2, "ignore_error_stats_update")
        return 1
    }

    /// `redis.status_reply(s)`: `{ok=s}`.
    static func statusReply(_ L: OpaquePointer) -> Int32 {
        guard lua_gettop(L) == 1, lua_type(L, -1) == LUA_TSTRING else {
            LuaReplies.pushError(L, "wrong number or type of arguments")
            return 1
        }
        lua_createtable(L, 0, 1)
        lua_pushvalue(L, 1)
        lua_setfield(L, -2, "ok")
        return 1
    }

    /// `redis.log(level, message, ...)`: the arguments joined by spaces, at the matching server log level.
    static func log(_ L: OpaquePointer, _ logger: Logger) -> Int32 {
        let count = lua_gettop(L)
        guard count >= 2 else {
            LuaReplies.pushError(L, "redis.log() requires two arguments or more.")
            return -1
        }
        guard lua_isnumber(L, 1) != 0 else {
            LuaReplies.pushError(L, "First argument must be a number (log level).")
            return -1
        }
        let level = Int(lua_tonumber(L, 1))
        guard (0...3).contains(level) else {
            LuaReplies.pushError(L, "Invalid debug level.")
            return -1
        }
        var parts: [String] = []
        for index in 2...count where lua_isstring(L, index) != 0 { parts.append(LuaReplies.string(L, index)) }
        let message = Logger.Message(stringLiteral: parts.joined(separator: " "))
        switch level {
        case 0: logger.debug(message)
        case 1: logger.info(message)
        case 2: logger.notice(message)
        default: logger.warning(message)
        }
        return 0
    }
}
