import CLua
import NIOCore
import RESP

/// Conversions between replies and Lua values, as Redis 7.0 makes them (script_lua.c).
///
/// Command reply → Lua: integer → number; bulk → string; null bulk and null array → false; array → table (a nil
/// inside, from a RESP3 null, ends it for `#`); status → `{ok=...}`; error → `{err=...}`. RESP3 (`redis.setresp(3)`):
/// null → nil, boolean → boolean, double → `{double=n}`, map → `{map={k=v}}`, set → `{set={m=true}}`, big number →
/// `{big_number=s}`, verbatim → `{verbatim_string={format=, string=}}`; attributes are dropped.
///
/// Lua → reply (the script's result): string → bulk; number → integer (truncated); true → `:1` and false → null
/// (under `setresp(3)`: booleans); a table with `err` → error, `ok` → status, `double`, `big_number`,
/// `verbatim_string`, `map`, `set`; any other table → array of its elements 1, 2, ... up to the first nil; anything
/// else → null.
///
/// Every table access here is raw: it calls no metamethod, so nothing can raise a Lua error through Swift frames.
enum LuaReplies {
    // MARK: Lua → reply

    /// How deep a reply may nest before it is cut with Redis's `reached lua stack limit`. Lua's own stack limit
    /// (LUAI_MAXCSTACK, the same as Redis's) stops a self-referencing table at 7995 levels in release builds; debug
    /// builds, whose Swift frames are much larger, stop earlier rather than overflow the thread's stack.
    #if DEBUG
    static let maximumDepth = 1000
    #else
    static let maximumDepth = Int.max
    #endif

    /// Writes the value on top of the stack (consumed) into `writer`.
    static func writeReply(
        _ L: OpaquePointer, into writer: inout ReplyWriter, luaProtocol: ProtocolVersion, depth: Int = 0
    ) {
        defer { lua_settop(L, -2) }
        guard depth < maximumDepth, lua_checkstack(L, 4) != 0 else {
            writer.error("ERR reached lua stack limit")
            return
        }
        switch lua_type(L, -1) {
        case LUA_TSTRING:
            var length = 0
            let bytes = lua_tolstring(L, -1, &length)
            writer.bulk(UnsafeRawBufferPointer(start: bytes, count: length))
        case LUA_TBOOLEAN:
            let value = lua_toboolean(L, -1) != 0
            if luaProtocol == .resp2 {
                if value { writer.integer(1) } else { writer.null() }
            } else {
                writer.boolean(value)
            }
        case LUA_TNUMBER:
            writer.integer(truncated(lua_tonumber(L, -1)))
        case LUA_TTABLE:
            writeTable(L, into: &writer, luaProtocol: luaProtocol, depth: depth + 1)
        default:
            writer.null()
        }
    }

    private static func writeTable(
        _ L: OpaquePointer, into writer: inout ReplyWriter, luaProtocol: ProtocolVersion, depth: Int
    ) {
        if rawField(L, "err", type: LUA_TSTRING) {
            writer.error(string(L, -1))
            return lua_settop(L, -2)
        }
        if rawField(L, "ok", type: LUA_TSTRING) {
            writer.simpleString(string(L, -1))
            return lua_settop(L, -2)
        }
        if rawField(L, "double", type: LUA_TNUMBER) {
            var text = ByteBuffer()
            writeDouble(lua_tonumber(L, -1), into: &text)
            text.withUnsafeReadableBytes { writer.double(bytes: $0) }
            return lua_settop(L, -2)
        }
        if rawField(L, "big_number", type: LUA_TSTRING) {
            let text = string(L, -1).map { $0 == "\r" || $0 == "\n" ? " " : $0 }
            if writer.version == .resp3 {
                writer.buffer.writeString("(" + String(text) + "\r\n")
            } else {
                writer.bulk(String(text))
            }
            return lua_settop(L, -2)
        }
        if rawField(L, "verbatim_string", type: LUA_TTABLE) {
            defer { lua_settop(L, -2) }
            if rawField(L, "format", type: LUA_TSTRING) {
                let format = string(L, -1)
                lua_settop(L, -2)
                if rawField(L, "string", type: LUA_TSTRING) {
                    var length = 0
                    let bytes = UnsafeRawBufferPointer(start: lua_tolstring(L, -1, &length), count: length)
                    lua_settop(L, -2)
                    if writer.version == .resp3 {
                        writer.buffer.writeString("=\(length + 4)\r\n\(format.prefix(3)):")
                        writer.buffer.writeBytes(bytes)
                        writer.buffer.writeString("\r\n")
                    } else {
                        writer.bulk(bytes)
                    }
                    return
                }
            }
            // A malformed verbatim table is an array, as in Redis.
        }
        if rawField(L, "map", type: LUA_TTABLE) {
            writer.mapHeader(pairCount(L))
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                lua_pushvalue(L, -2)
                writeReply(L, into: &writer, luaProtocol: luaProtocol, depth: depth)  // the key
                writeReply(L, into: &writer, luaProtocol: luaProtocol, depth: depth)  // the value
            }
            return lua_settop(L, -2)
        }
        if rawField(L, "set", type: LUA_TTABLE) {
            writer.setHeader(pairCount(L))
            lua_pushnil(L)
            while lua_next(L, -2) != 0 {
                lua_settop(L, -2)
                lua_pushvalue(L, -1)
                writeReply(L, into: &writer, luaProtocol: luaProtocol, depth: depth)
            }
            return lua_settop(L, -2)
        }
        var count: Int32 = 0
        while true {
            lua_rawgeti(L, -1, count + 1)
            defer { lua_settop(L, -2) }
            if lua_type(L, -1) == LUA_TNIL { break }
            count += 1
        }
        writer.arrayHeader(Int(count))
        for index in 0..<count {
            lua_rawgeti(L, -1, index + 1)
            writeReply(L, into: &writer, luaProtocol: luaProtocol, depth: depth)
        }
    }

    /// Pushes field `name` of the table on top when it has type `type` (true); pushes nothing otherwise.
    private static func rawField(_ L: OpaquePointer, _ name: String, type: Int32) -> Bool {
        lua_pushstring(L, name)
        lua_rawget(L, -2)
        if lua_type(L, -1) == type { return true }
        lua_settop(L, -2)
        return false
    }

    /// Number of key/value pairs of the table on top.
    private static func pairCount(_ L: OpaquePointer) -> Int {
        var count = 0
        lua_pushnil(L)
        while lua_next(L, -2) != 0 {
            lua_settop(L, -2)
            count += 1
        }
        return count
    }

    /// A Lua number as Redis's `(long long)` cast gives it for finite values in range; the minimum otherwise.
    static func truncated(_ value: Double) -> Int {
        value.isFinite && value > -9.223_372_036_854_775_808e18 && value < 9.223_372_036_854_775_808e18
            ? Int(value) : Int.min
    }

    /// `%.17g`, as Redis formats a Lua number passed to a command.
    static func writeNumber(_ value: Double, into buffer: inout ByteBuffer) {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { scratch in
            let count = Int(kvlua_format_number(value, scratch.baseAddress, 64))
            buffer.writeBytes(UnsafeRawBufferPointer(start: scratch.baseAddress, count: min(count, 63)))
        }
    }

    /// A double reply's text: `inf`, `-inf`, `nan` or `%.17g`.
    private static func writeDouble(_ value: Double, into buffer: inout ByteBuffer) {
        if value.isInfinite {
            buffer.writeString(value > 0 ? "inf" : "-inf")
        } else if value.isNaN {
            buffer.writeString("nan")
        } else {
            writeNumber(value, into: &buffer)
        }
    }

    // MARK: Reply → Lua

    /// Pushes the reply in `reply` as a Lua value; true when it is an error.
    static func pushReply(_ L: OpaquePointer, _ reply: ByteBuffer) -> Bool {
        reply.withUnsafeReadableBytes { bytes in
            var parser = ReplyParser(bytes: bytes)
            parser.push(L)
            return bytes.first == UInt8(ascii: "-")
        }
    }

    /// Reads one complete RESP2/RESP3 reply a command wrote and pushes it (or, with no state, skips it).
    private struct ReplyParser {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        mutating func line() -> UnsafeRawBufferPointer {
            let start = position
            while position + 1 < bytes.count && !(bytes[position] == 0x0D && bytes[position + 1] == 0x0A) {
                position += 1
            }
            defer { position += 2 }
            return UnsafeRawBufferPointer(rebasing: bytes[start..<min(position, bytes.count)])
        }

        mutating func number() -> Int { RESPInteger.parse(line()) ?? 0 }

        mutating func blob(_ length: Int) -> UnsafeRawBufferPointer {
            let start = position
            position = min(position + length + 2, bytes.count)
            return UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + length, bytes.count)])
        }

        /// Pushes the next value, or skips it when `L` is nil.
        mutating func push(_ L: OpaquePointer?) {
            guard position < bytes.count else {
                if let L { lua_pushnil(L) }
                return
            }
            let type = bytes[position]
            position += 1
            if let L { precondition(lua_checkstack(L, 5) != 0, "lua stack limit reached converting a reply") }
            switch type {
            case UInt8(ascii: "+"):
                let text = line()
                if let L { pushWrapped(L, text, as: "ok") }
            case UInt8(ascii: "-"):
                let text = line()
                guard let L else { return }
                LuaReplies.pushError(L, line: text)
            case UInt8(ascii: ":"):
                let value = number()
                if let L { lua_pushnumber(L, Double(value)) }
            case UInt8(ascii: "$"):
                let length = number()
                if length < 0 {
                    if let L { lua_pushboolean(L, 0) }
                } else {
                    let text = blob(length)
                    if let L { pushBytes(L, text) }
                }
            case UInt8(ascii: "*"), UInt8(ascii: ">"):
                let count = number()
                if count < 0 {
                    if let L { lua_pushboolean(L, 0) }
                    return
                }
                if let L { lua_createtable(L, Int32(clamping: count), 0) }
                for index in 0..<count {
                    push(L)
                    if let L { lua_rawseti(L, -2, Int32(clamping: index + 1)) }
                }
            case UInt8(ascii: "%"):
                pushKeyed(L, count: number(), field: "map") { parser in parser.push(L) }
            case UInt8(ascii: "~"):
                pushKeyed(L, count: number(), field: "set") { _ in if let L { lua_pushboolean(L, 1) } }
            case UInt8(ascii: "_"):
                _ = line()
                if let L { lua_pushnil(L) }
            case UInt8(ascii: "#"):
                let value = line().first == UInt8(ascii: "t")
                if let L { lua_pushboolean(L, value ? 1 : 0) }
            case UInt8(ascii: ","):
                let text = String(decoding: line(), as: UTF8.self)
                guard let L else { return }
                lua_createtable(L, 0, 1)
                lua_pushnumber(L, Double(text) ?? (text.hasPrefix("-") ? -.infinity : .infinity))
                lua_setfield(L, -2, "double")
            case UInt8(ascii: "("):
                let text = line()
                if let L { pushWrapped(L, text, as: "big_number") }
            case UInt8(ascii: "="):
                let text = blob(number())
                guard let L else { return }
                lua_createtable(L, 0, 1)
                lua_createtable(L, 0, 2)
                pushBytes(L, UnsafeRawBufferPointer(rebasing: text[min(4, text.count)...]))
                lua_setfield(L, -2, "string")
                pushBytes(L, UnsafeRawBufferPointer(rebasing: text[..<min(3, text.count)]))
                lua_setfield(L, -2, "format")
                lua_setfield(L, -2, "verbatim_string")
            case UInt8(ascii: "|"):
                let count = number()
                for _ in 0..<(count * 2) { push(nil) }
                push(L)
            default:
                if let L { lua_pushnil(L) }
            }
        }

        /// Pushes `{<field>=text}` (a status, a big number).
        private func pushWrapped(_ L: OpaquePointer, _ text: UnsafeRawBufferPointer, as field: String) {
            lua_createtable(L, 0, 1)
            pushBytes(L, text)
            lua_setfield(L, -2, field)
        }

        /// Pushes `{<field>={k=v, ...}}` of `count` entries: each key parsed, then its value made by `value` (a map's
        /// parsed value, a set's `true`).
        private mutating func pushKeyed(
            _ L: OpaquePointer?, count: Int, field: String, value: (inout ReplyParser) -> Void
        ) {
            if let L {
                lua_createtable(L, 0, 1)
                lua_createtable(L, 0, Int32(clamping: count))
            }
            for _ in 0..<count {
                push(L)
                value(&self)
                if let L { setPair(L) }
            }
            if let L { lua_setfield(L, -2, field) }
        }

        /// Sets key → value (the two values on top) in the table below them; a nil key is dropped, as a raw set of
        /// it would raise.
        private func setPair(_ L: OpaquePointer) {
            if lua_type(L, -2) == LUA_TNIL {
                lua_settop(L, -3)
            } else {
                lua_rawset(L, -3)
            }
        }
    }

    // MARK: Errors

    /// Pushes `{err=...}` for a command's error reply line: `CODE message` as it is, a line without a space after
    /// `ERR ` (Redis's `luaPushErrorBuff`). Marked as already counted in the error statistics.
    static func pushError(_ L: OpaquePointer, line: UnsafeRawBufferPointer) {
        lua_createtable(L, 0, 2)
        if !line.contains(UInt8(ascii: " ")) { lua_pushstring(L, "ERR ") }
        pushBytes(L, line)
        if !line.contains(UInt8(ascii: " ")) { lua_concat(L, 2) }
        lua_setfield(L, -2, "err")
        lua_pushboolean(L, 1)
        lua_setfield(L, -2, "ignore_error_stats_update")
    }

    /// Pushes `{err="ERR <message>"}` (Redis's `luaPushError`); `fromCommand` marks it as counted already.
    static func pushError(_ L: OpaquePointer, _ message: String, fromCommand: Bool = false) {
        lua_createtable(L, 0, 2)
        lua_pushstring(L, "ERR " + message)
        lua_setfield(L, -2, "err")
        if fromCommand {
            lua_pushboolean(L, 1)
            lua_setfield(L, -2, "ignore_error_stats_update")
        }
    }

    // MARK: Strings

    static func pushBytes(_ L: OpaquePointer, _ bytes: UnsafeRawBufferPointer) {
        lua_pushlstring(L, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    /// The string (or number, converted) at `index`; empty for other types.
    static func string(_ L: OpaquePointer, _ index: Int32) -> String {
        var length = 0
        guard let bytes = lua_tolstring(L, index, &length) else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: length), as: UTF8.self)
    }

    /// Field `name` of the table on top, when it is a string or a number.
    static func field(_ L: OpaquePointer, _ name: String) -> String? {
        lua_pushstring(L, name)
        lua_rawget(L, -2)
        defer { lua_settop(L, -2) }
        return lua_isstring(L, -1) != 0 ? string(L, -1) : nil
    }
}
