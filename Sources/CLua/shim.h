// Lua 5.1 as Redis embeds it (Debian's liblua5.1-0-dev), with the cjson and bit libraries Redis gives scripts
// (lua-cjson-dev, lua-bitop-dev). Swift cannot use Lua's function-like macros or let a Lua error unwind through
// Swift frames, so the few macros needed are wrapped here and every Swift function Lua calls goes through
// `kvlua_trampoline`, which raises the error only after the Swift code has returned.
#include <lua5.1/lua.h>
#include <lua5.1/lauxlib.h>
#include <lua5.1/lualib.h>
#include <lua5.1/lua-cjson.h>
#include <lua5.1/lua-bitop.h>
#include <stdio.h>

/// A function implemented in Swift: returns the number of results it pushed, or -1 to raise the value on top of the
/// stack as a Lua error.
typedef int (*kvlua_function)(lua_State *L, void *context);

static int kvlua_trampoline(lua_State *L) {
    kvlua_function function = (kvlua_function)lua_touserdata(L, lua_upvalueindex(1));
    int results = function(L, lua_touserdata(L, lua_upvalueindex(2)));
    if (results < 0) return lua_error(L);
    return results;
}

/// Pushes a Lua function that calls `function` with `context`.
static inline void kvlua_push_function(lua_State *L, kvlua_function function, void *context) {
    lua_pushlightuserdata(L, (void *)function);
    lua_pushlightuserdata(L, context);
    lua_pushcclosure(L, kvlua_trampoline, 2);
}

static inline int kvlua_globals_index(void) { return LUA_GLOBALSINDEX; }
static inline int kvlua_registry_index(void) { return LUA_REGISTRYINDEX; }

/// Formats a number as Redis does for command arguments and RESP3 doubles ("%.17g").
static inline int kvlua_format_number(double number, char *buffer, int size) {
    return snprintf(buffer, (size_t)size, "%.17g", number);
}

static inline void kvlua_open(lua_State *L, lua_CFunction open, const char *name) {
    lua_pushcfunction(L, open);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

/// The libraries Redis loads (base, table, string, math, debug, cjson, bit); not io, os, package.
static inline void kvlua_open_libraries(lua_State *L) {
    kvlua_open(L, luaopen_base, "");
    kvlua_open(L, luaopen_table, LUA_TABLIBNAME);
    kvlua_open(L, luaopen_string, LUA_STRLIBNAME);
    kvlua_open(L, luaopen_math, LUA_MATHLIBNAME);
    kvlua_open(L, luaopen_debug, LUA_DBLIBNAME);
    // lua-cjson sets no global unless built with ENABLE_CJSON_GLOBAL, as Redis builds it.
    lua_pushcfunction(L, luaopen_cjson);
    lua_pushstring(L, "cjson");
    lua_call(L, 1, 1);
    lua_setglobal(L, "cjson");
    kvlua_open(L, luaopen_bit, "bit");
}
