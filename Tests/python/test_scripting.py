"""Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, the redis.* API, reply conversions, errors with their
@user_script line, the sandbox, atomicity, and redis-py's Lock. Byte for byte as Redis 7.0 replies (every expectation
not marked kvnode_only is checked with KVNODE_TARGET=redis)."""

import hashlib
import threading
import time

import pytest
import redis

from conftest import Workers, encode, wait_until
from revision_tools import revision
from test_pubsub import messages_until_marker, notify_server, wait_for  # noqa: F401 (a fixture)


def sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


def script_error(script: str, message: str, line: int = 1) -> bytes:
    """The reply of a script that raised: Redis 7.0's `-<message> script: <sha>, on @user_script:<line>.`"""
    return f"-{message} script: {sha(script)}, on @user_script:{line}.\r\n".encode()


# ---------------------------------------------------------------------------------------------
# EVAL and the Lua → reply conversion (RESP2)

@pytest.mark.parametrize("script, reply", [
    ("return 1", b":1\r\n"),
    ("return 'hello'", b"$5\r\nhello\r\n"),
    ("return 3.99", b":3\r\n"),
    ("return -3.99", b":-3\r\n"),
    ("return true", b":1\r\n"),
    ("return false", b"$-1\r\n"),
    ("return nil", b"$-1\r\n"),
    ("return {}", b"*0\r\n"),
    ("return {1, 2, 3, nil, 4}", b"*3\r\n:1\r\n:2\r\n:3\r\n"),
    ("return {1, 'a', true, false, 3.7, {ok='x'}, {err='e r'}}",
     b"*7\r\n:1\r\n$1\r\na\r\n:1\r\n$-1\r\n:3\r\n+x\r\n-e r\r\n"),
    ("return {{1, {2}}, 'x'}", b"*2\r\n*2\r\n:1\r\n*1\r\n:2\r\n$1\r\nx\r\n"),
    ("return {ok='FINE'}", b"+FINE\r\n"),
    ("return {err='nospace'}", b"-nospace\r\n"),
    ("return {err='MY error'}", b"-MY error\r\n"),
    ("return redis.status_reply('X')", b"+X\r\n"),
    ("return redis.error_reply('FOO bar')", b"-FOO bar\r\n"),
    ("return redis.error_reply('bar')", b"-ERR bar\r\n"),
    ("return redis.error_reply('-bar')", b"-ERR bar\r\n"),
    ("return {double=1.5}", b"$3\r\n1.5\r\n"),
    ("return {map={a=1}}", b"*2\r\n$1\r\na\r\n:1\r\n"),
    ("return {set={a=true}}", b"*1\r\n$1\r\na\r\n"),
    ("return redis.sha1hex('')", b"$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n"),
    ("return redis.sha1hex('abc')", b"$40\r\na9993e364706816aba3e25717850c26c9cd0d89d\r\n"),
    ("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
     b"*4\r\n:0\r\n:1\r\n:2\r\n:3\r\n"),
    ("return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}",
     b"*5\r\n:0\r\n:1\r\n:2\r\n:2\r\n:3\r\n"),
    ("return redis.log(redis.LOG_WARNING, 'from a script', 1)", b"$-1\r\n"),
    ("return redis.set_repl(redis.REPL_ALL)", b"$-1\r\n"),
    ("return redis.setresp(2)", b"$-1\r\n"),
    ("return redis.breakpoint()", b"$-1\r\n"),
    ("return redis.debug('x')", b"$-1\r\n"),
    ("return redis.replicate_commands()", b":1\r\n"),
    ("return redis.acl_check_cmd('set', 'a', 'b')", b":1\r\n"),
    ("return cjson.encode({1, 2, 'x'})", b'$9\r\n[1,2,"x"]\r\n'),
    ("return cjson.decode('[1,2,3]')[3]", b":3\r\n"),
    ("return bit.band(7, 3) + bit.bor(8, 1) + bit.lshift(1, 4)", b":28\r\n"),
    ("return string.format('%d-%s', 5, 'x')", b"$3\r\n5-x\r\n"),
    ("return tostring(math.floor(2.5)) .. table.concat({'a', 'b'}, ',')", b"$4\r\n2a,b\r\n"),
    ("local function f() return 1 end return f()", b":1\r\n"),
    ("return type(KEYS) .. type(ARGV) .. #KEYS .. #ARGV", b"$12\r\ntabletable00\r\n"),
])
def test_lua_values_become_replies(raw, script, reply):
    assert raw().cmd("EVAL", script, 0) == reply


def test_keys_and_argv(raw):
    c = raw()
    assert c.cmd("EVAL", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", 2, "k1", "k2", "a1", "a2") == (
        b"*6\r\n$2\r\nk1\r\n$2\r\nk2\r\n$2\r\na1\r\n$2\r\na2\r\n:2\r\n:2\r\n")
    # Binary-safe, both ways.
    assert c.cmd("EVAL", "return ARGV[1]", 0, b"a\x00\r\n\xff") == b"$5\r\na\x00\r\n\xff\r\n"
    assert c.cmd("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", 1, b"k\x00", b"\x01\x02") == b"+OK\r\n"
    assert c.cmd("GET", b"k\x00") == b"$2\r\n\x01\x02\r\n"
    # KEYS and ARGV of one run are gone in the next.
    assert c.cmd("EVAL", "return #ARGV", 0) == b":0\r\n"


@pytest.mark.parametrize("args, reply", [
    (("return 1", 2, "a"), b"-ERR Number of keys can't be greater than number of args\r\n"),
    (("return 1", -1), b"-ERR Number of keys can't be negative\r\n"),
    (("return 1", "x"), b"-ERR value is not an integer or out of range\r\n"),
    (("return 1",), b"-ERR wrong number of arguments for 'eval' command\r\n"),
])
def test_numkeys_errors(raw, args, reply):
    assert raw().cmd("EVAL", *args) == reply


# ---------------------------------------------------------------------------------------------
# EVALSHA and SCRIPT

def test_script_load_exists_flush_and_evalsha(raw):
    c = raw()
    body = "return 'loaded ' .. ARGV[1]"
    digest = sha(body)
    assert c.cmd("SCRIPT", "FLUSH") == b"+OK\r\n"
    assert c.cmd("EVALSHA", digest, 0, "x") == b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    assert c.cmd("SCRIPT", "LOAD", body) == b"$40\r\n" + digest.encode() + b"\r\n"
    assert c.cmd("EVALSHA", digest, 0, "x") == b"$8\r\nloaded x\r\n"
    # The SHA is accepted in any case.
    assert c.cmd("EVALSHA", digest.upper(), 0, "y") == b"$8\r\nloaded y\r\n"
    assert c.cmd("EVALSHA_RO", digest, 0, "z") == b"$8\r\nloaded z\r\n"
    assert c.cmd("SCRIPT", "EXISTS", digest.upper(), "0" * 40, digest) == b"*3\r\n:1\r\n:0\r\n:1\r\n"
    # EVAL caches what it runs.
    assert c.cmd("EVAL", "return 7", 0) == b":7\r\n"
    assert c.cmd("EVALSHA", sha("return 7"), 0) == b":7\r\n"
    assert c.cmd("SCRIPT", "FLUSH", "ASYNC") == b"+OK\r\n"
    assert c.cmd("SCRIPT", "EXISTS", digest) == b"*1\r\n:0\r\n"
    assert c.cmd("EVALSHA", sha("return 7"), 0) == b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    assert c.cmd("SCRIPT", "FLUSH", "SYNC") == b"+OK\r\n"
    assert c.cmd("SCRIPT", "FLUSH", "LATER") == b"-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"
    assert c.cmd("EVALSHA", "abc", 0) == b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    # A SHA of the wrong length is refused before numkeys is read.
    assert c.cmd("EVALSHA", "abc", "x") == b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    assert c.cmd("SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"
    assert c.cmd("SCRIPT", "LOAD", "syntax(") == (
        b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n")


def test_redis_py_script_object(r2):
    """redis-py's Script (EVALSHA, then SCRIPT LOAD and EVALSHA again after NOSCRIPT), as Lock and Kombu use it."""
    r2.script_flush()
    increment = r2.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert increment(keys=["n"], args=[5]) == 5
    assert increment(keys=["n"], args=[2]) == 7
    r2.script_flush()
    assert increment(keys=["n"], args=[1]) == 8
    assert r2.script_exists(increment.sha) == [True]


# ---------------------------------------------------------------------------------------------
# redis.call and redis.pcall: commands inside scripts, and their replies as Lua values

@pytest.mark.parametrize("setup, script, reply", [
    ([], "return redis.call('set', 'k', 'v')", b"+OK\r\n"),
    ([], "return redis.call('get', 'missing')", b"$-1\r\n"),
    ([], "return type(redis.call('get', 'missing'))", b"$7\r\nboolean\r\n"),
    ([], "return tostring(redis.call('get', 'missing'))", b"$5\r\nfalse\r\n"),
    ([], "return redis.call('set', 'k', 'v').ok", b"$2\r\nOK\r\n"),
    ([], "return redis.call('incr', 'n') + 1", b":2\r\n"),
    ([], "return type(redis.call('incr', 'n'))", b"$6\r\nnumber\r\n"),
    ([("RPUSH", "l", "a", "b")], "return redis.call('lrange', 'l', 0, -1)", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    ([("RPUSH", "l", "a", "b")], "return #redis.call('lrange', 'l', 0, -1)", b":2\r\n"),
    # A missing value is false, not nil: the array goes on.
    ([("SET", "a", "1")], "return redis.call('mget', 'a', 'missing', 'a')",
     b"*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n1\r\n"),
    ([("SET", "a", "1")], "local r = redis.call('mget', 'a', 'missing', 'a') return {r[1], tostring(r[2]), r[3]}",
     b"*3\r\n$1\r\n1\r\n$5\r\nfalse\r\n$1\r\n1\r\n"),
    # Lua numbers become arguments as %.17g.
    ([], "redis.call('set', 'k', 0.1) return redis.call('get', 'k')", b"$19\r\n0.10000000000000001\r\n"),
    ([], "redis.call('set', 'k', 42) return redis.call('get', 'k')", b"$2\r\n42\r\n"),
    ([], "redis.call('set', 'k', 1e20) return redis.call('get', 'k')", b"$5\r\n1e+20\r\n"),
    # Scripts see their own writes.
    ([], "redis.call('set', 'x', 'a') redis.call('append', 'x', 'b') return redis.call('get', 'x')",
     b"$2\r\nab\r\n"),
    ([("SET", "s", "1")], "return redis.pcall('lpush', 's', 'a')",
     b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ([("SET", "s", "1")], "return redis.pcall('lpush', 's', 'a').err",
     b"$65\r\nWRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ([], "return redis.pcall('nosuch')", b"-ERR Unknown Redis command called from script\r\n"),
    ([], "local ok, e = pcall(function() redis.call('nosuch') end) return {tostring(ok), e}",
     b"*2\r\n$5\r\nfalse\r\n$44\r\nERR Unknown Redis command called from script\r\n"),
    ([], "local ok, e = pcall(function() error('x') end) return e", b"$16\r\nuser_script:1: x\r\n"),
    ([], "local ok, e = pcall(function() error({err='T'}) end) return e", b"$1\r\nT\r\n"),
    ([], "return {pcall(function() return 1, 2 end)}", b"*3\r\n:1\r\n:1\r\n:2\r\n"),
])
def test_redis_call_replies_as_lua_values(raw, setup, script, reply):
    c = raw()
    for command in setup:
        c.cmd(*command)
    assert c.cmd("EVAL", script, 0) == reply


def test_resp3_inside_scripts(raw):
    """redis.setresp(3): command replies in RESP3 types; Lua booleans return as booleans."""
    c = raw()
    c.cmd("HSET", "h", "f", "v")
    assert c.cmd("EVAL", "redis.setresp(3) return redis.call('hgetall', 'h').map.f", 0) == b"$1\r\nv\r\n"
    assert c.cmd("EVAL", "redis.setresp(3) return type(redis.call('get', 'missing'))", 0) == b"$3\r\nnil\r\n"
    assert c.cmd("EVAL", "redis.setresp(3) return redis.call('hgetall', 'h')", 0) == (
        b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n")
    c.cmd("SADD", "s", "m")
    assert c.cmd("EVAL", "redis.setresp(3) return redis.call('smembers', 's').set.m", 0) == b":1\r\n"
    assert c.cmd("EVAL", "redis.setresp(3) return redis.call('exists', 'h')", 0) == b":1\r\n"
    assert c.cmd("EVAL", "redis.setresp(3) return false", 0) == b":0\r\n"
    assert c.cmd("EVAL", "redis.setresp(3) return true", 0) == b":1\r\n"
    # A RESP3 client gets RESP3 types.
    assert c.cmd("HELLO", "3").startswith(b"%")
    assert c.cmd("EVAL", "redis.setresp(3) return redis.call('hgetall', 'h')", 0) == (
        b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n")
    assert c.cmd("EVAL", "redis.setresp(3) return false", 0) == b"#f\r\n"
    assert c.cmd("EVAL", "return false", 0) == b"_\r\n"
    assert c.cmd("EVAL", "return {double=1.5}", 0) == b",1.5\r\n"
    assert c.cmd("EVAL", "return {set={a=true}}", 0) == b"~1\r\n$1\r\na\r\n"
    assert c.cmd("EVAL", "return nil", 0) == b"_\r\n"


# ---------------------------------------------------------------------------------------------
# Errors, with the line they were raised on

@pytest.mark.parametrize("script, message, line", [
    ("return redis.call('nosuch')", "ERR Unknown Redis command called from script", 1),
    ("return redis.call('get')", "ERR Wrong number of args calling Redis command from script", 1),
    ("return redis.call('client', 'nosuch')", "ERR Unknown Redis command called from script", 1),
    ("return redis.call('eval', 'return 1', 0)", "ERR This Redis command is not allowed from script", 1),
    ("return redis.call('multi')", "ERR This Redis command is not allowed from script", 1),
    ("return redis.call('subscribe', 'x')", "ERR This Redis command is not allowed from script", 1),
    ("return redis.call('blpop', 'l', 0)", "ERR This Redis command is not allowed from script", 1),
    ("return redis.call('get', {})", "ERR Lua redis lib command arguments must be strings or integers", 1),
    ("return redis.call('get', nil)", "ERR Lua redis lib command arguments must be strings or integers", 1),
    ("return redis.call()", "ERR Please specify at least one argument for this redis lib call", 1),
    ("return redis.call(1.5)", "ERR Unknown Redis command called from script", 1),
    ("local a = 1\nreturn error('boom')", "ERR user_script:2: boom", 2),
    ("return error({err='MY bad'})", "MY bad", 1),
    ("return redis.sha1hex()", "ERR wrong number of arguments", 1),
    ("return redis.log()", "ERR redis.log() requires two arguments or more.", 1),
    ("return redis.log('a', 'b')", "ERR First argument must be a number (log level).", 1),
    ("return redis.log(9, 'b')", "ERR Invalid debug level.", 1),
    ("return redis.set_repl(99)", "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
     1),
    ("return redis.setresp()", "ERR redis.setresp() requires one argument.", 1),
    ("return redis.setresp(4)", "ERR RESP version must be 2 or 3.", 1),
    ("return redis.acl_check_cmd('nosuch')", "ERR Invalid command passed to redis.acl_check_cmd()", 1),
    ("return redis.acl_check_cmd()", "ERR Please specify at least one argument for this redis lib call", 1),
    ("redis.call('set', 'k', 'v')\nredis.call('set', 'k', 'v')\nreturn redis.call('lpush', 'k', 'x')",
     "WRONGTYPE Operation against a key holding the wrong kind of value", 3),
])
def test_errors_raised_in_scripts(raw, script, message, line):
    assert raw().cmd("EVAL", script, 0) == script_error(script, message, line)


def test_error_reply_with_wrong_arguments(raw):
    c = raw()
    assert c.cmd("EVAL", "return redis.error_reply(1)", 0) == b"-ERR wrong number or type of arguments\r\n"
    assert c.cmd("EVAL", "return redis.status_reply()", 0) == b"-ERR wrong number or type of arguments\r\n"


def test_compile_errors(raw):
    c = raw()
    assert c.cmd("EVAL", "syntax(", 0) == (
        b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n")
    assert c.cmd("EVAL", "return 1\nreturn 2", 0) == (
        b"-ERR Error compiling script (new function): user_script:2: '<eof>' expected near 'return'\r\n")


# ---------------------------------------------------------------------------------------------
# Read-only scripts and shebang flags

def test_read_only_scripts_refuse_writes(raw):
    c = raw()
    write = "return redis.call('set', 'a', 'b')"
    assert c.cmd("EVAL_RO", write, 0) == script_error(write, "ERR Write commands are not allowed from read-only scripts.")
    assert c.cmd("SCRIPT", "LOAD", write) == b"$40\r\n" + sha(write).encode() + b"\r\n"
    assert c.cmd("EVALSHA_RO", sha(write), 0) == script_error(
        write, "ERR Write commands are not allowed from read-only scripts.")
    assert c.cmd("EXISTS", "a") == b":0\r\n"
    c.cmd("SET", "a", "1")
    assert c.cmd("EVAL_RO", "return redis.call('get', 'a')", 0) == b"$1\r\n1\r\n"
    no_writes = "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')"
    assert c.cmd("EVAL", no_writes, 0) == script_error(
        no_writes, "ERR Write commands are not allowed from read-only scripts.", 2)
    # The shebang line is skipped, its line feed kept: errors report the user's line numbers.
    missing = "#!lua\nreturn x"
    assert c.cmd("EVAL", missing, 0) == script_error(
        missing, "ERR user_script:2: Script attempted to access nonexistent global variable 'x'", 2)
    assert c.cmd("EVAL", "#!lua flags=no-writes,allow-stale\nreturn redis.call('get', 'a')", 0) == b"$1\r\n1\r\n"


# ---------------------------------------------------------------------------------------------
# The sandbox

@pytest.mark.parametrize("script, message", [
    ("return x", "ERR user_script:1: Script attempted to access nonexistent global variable 'x'"),
    ("x = 1", "ERR user_script:1: Attempt to modify a readonly table"),
    ("function f() return 1 end", "ERR user_script:1: Attempt to modify a readonly table"),
    ("_G.x = 1", "ERR user_script:1: Attempt to modify a readonly table"),
    ("return _G.x", "ERR user_script:1: Script attempted to access nonexistent global variable 'x'"),
    ("redis.call = nil", "ERR user_script:1: Attempt to modify a readonly table"),
    ("return io", "ERR user_script:1: Script attempted to access nonexistent global variable 'io'"),
    ("os.exit()", "ERR user_script:1: Script attempted to access nonexistent global variable 'os'"),
    ("return loadfile", "ERR user_script:1: Script attempted to access nonexistent global variable 'loadfile'"),
    ("return dofile", "ERR user_script:1: Script attempted to access nonexistent global variable 'dofile'"),
    ("return print", "ERR user_script:1: Script attempted to access nonexistent global variable 'print'"),
    ("return debug", "ERR user_script:1: Script attempted to access nonexistent global variable 'debug'"),
    ("return require", "ERR user_script:1: Script attempted to access nonexistent global variable 'require'"),
    ("return package", "ERR user_script:1: Script attempted to access nonexistent global variable 'package'"),
])
def test_sandbox(raw, script, message):
    assert raw().cmd("EVAL", script, 0) == script_error(script, message)


def test_globals_do_not_leak_between_scripts(raw):
    c = raw()
    assert c.cmd("EVAL", "local x = 5 return x", 0) == b":5\r\n"
    assert c.cmd("EVAL", "return x", 0) == script_error(
        "return x", "ERR user_script:1: Script attempted to access nonexistent global variable 'x'")


# ---------------------------------------------------------------------------------------------
# Access control

def test_commands_in_scripts_are_checked_against_the_callers_user(server):
    with server.client() as admin:
        admin.acl_setuser("scripter", enabled=True, nopass=True, commands=["+@all", "-set"], keys=["a*"])
        try:
            with server.client(username="scripter", password="x") as user:
                for script, message in [
                    ("return redis.call('set', 'a', '1')",
                     "ERR The user executing the script can't run this command or subcommand"),
                    ("return redis.call('get', 'b')",
                     "ERR The user executing the script can't access at least one of the keys mentioned in the "
                     "command arguments"),
                ]:
                    with pytest.raises(redis.ResponseError) as error:
                        user.eval(script, 0)
                    # redis-py drops the ERR code from the message.
                    assert "ERR " + str(error.value) == script_error(script, message).decode()[1:-2]
                assert user.eval("return redis.call('get', 'a1')", 0) is None
                assert user.eval("return {redis.acl_check_cmd('get', 'a1'), tostring(redis.acl_check_cmd('set', 'a', "
                                 "'1')), tostring(redis.acl_check_cmd('get', 'b'))}", 0) == [1, b"false", b"false"]
        finally:
            admin.acl_deluser("scripter")


# ---------------------------------------------------------------------------------------------
# Atomicity, revisions, notifications

def test_eval_inside_multi(raw):
    c = raw()
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("EVAL", "return redis.call('incr', KEYS[1])", 1, "n") == b"+QUEUED\r\n"
    assert c.cmd("INCR", "n") == b"+QUEUED\r\n"
    assert c.cmd("EXEC") == b"*2\r\n:1\r\n:2\r\n"


def test_scripts_are_atomic_against_other_clients(server):
    """A script writes `a` then `b`; a client on another connection reading both never sees one without the other,
    and a concurrent INCR never lands between a script's read and write."""
    rounds = 300
    script = "redis.call('incr', KEYS[1]) redis.call('incr', KEYS[2]) return redis.call('get', KEYS[1])"
    read_modify_write = "local v = tonumber(redis.call('get', KEYS[1]) or '0') redis.call('set', KEYS[1], v + 1)"
    with server.client() as setup:
        setup.mset({"a": 0, "b": 0})

    def writer():
        with server.client() as r:
            for _ in range(rounds):
                r.eval(script, 2, "a", "b")
                r.eval(read_modify_write, 1, "counter")

    def incrementer():
        with server.client() as r:
            for _ in range(rounds):
                r.incr("counter")

    def reader(stop):
        seen = 0
        with server.client() as r:
            while not stop.is_set() and seen < 100_000:
                a, b = r.mget("a", "b")
                assert a == b, (a, b)
                seen += 1
        return seen

    with Workers() as workers:
        workers.start("reader", reader, workers.stop)
        workers.start("writer", writer)
        workers.start("incrementer", incrementer)
        wait_until(lambda: "writer" in workers.results and "incrementer" in workers.results, timeout=120,
                   message=lambda: f"workers still running; {workers.results}")
    with server.client() as r:
        assert r.mget("a", "b") == [str(rounds).encode()] * 2
        assert r.get("counter") == str(2 * rounds).encode()


@pytest.mark.kvnode_only
def test_a_script_is_one_revision(r2):
    r2.set("before", "x")
    start, _ = revision(r2)
    r2.eval("redis.call('set', 'a', '1') redis.call('set', 'b', '2') redis.call('del', 'before')", 0)
    assert revision(r2)[0] == start + 1
    # A script that fails after writing keeps its writes (as in Redis), still as one revision.
    with pytest.raises(redis.ResponseError):
        r2.eval("redis.call('set', 'c', '3') redis.call('incr', 'a') return redis.call('lpush', 'b', 'x')", 0)
    assert r2.mget("a", "c") == [b"2", b"3"]
    assert revision(r2)[0] == start + 2
    # A read-only script takes none.
    r2.eval("return redis.call('get', 'a')", 0)
    assert revision(r2)[0] == start + 2


def test_keyspace_notifications_from_scripts(notify_server):
    with notify_server.client() as r:
        r.flushdb()
        pubsub = r.pubsub()
        pubsub.psubscribe("__keyspace@0__:*")
        assert wait_for(lambda: r.pubsub_numpat() == 1)
        r.eval("redis.call('set', KEYS[1], 'v') redis.call('incr', KEYS[2]) redis.call('del', KEYS[1])", 2, "k", "n")
        events = [(m["channel"], m["data"]) for m in messages_until_marker(r, pubsub, b"__keyspace@0__:marker")]
        assert events == [
            (b"__keyspace@0__:k", b"set"),
            (b"__keyspace@0__:n", b"incrby"),
            (b"__keyspace@0__:k", b"del"),
        ]
        pubsub.close()


# ---------------------------------------------------------------------------------------------
# redis-py's Lock: unchanged applications

def test_redis_py_lock_acquire_extend_release(r2):
    lock = r2.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    assert not r2.lock("resource", timeout=10).acquire(blocking=False)
    assert lock.owned()
    assert lock.extend(20)
    assert 10_000 < r2.pttl("resource") <= 30_000
    assert lock.reacquire()
    assert 0 < r2.pttl("resource") <= 10_000
    token = lock.local.token
    lock.release()
    assert r2.exists("resource") == 0
    # Another owner now: the release and extend scripts refuse a token that is not the holder's.
    other = r2.lock("resource", timeout=10)
    assert other.acquire(blocking=False)
    lock.local.token = token
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.extend(5)
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.release()
    assert other.owned()
    other.release()


def test_redis_py_lock_twenty_threads_one_holder_at_a_time(server):
    threads, rounds = 20, 3
    holders = []
    guard = threading.Lock()
    overlaps = []

    def contend(index):
        with server.client() as r:
            for _ in range(rounds):
                lock = r.lock("shared", timeout=30, sleep=0.005, blocking_timeout=60)
                assert lock.acquire(), f"thread {index} never got the lock"
                with guard:
                    holders.append(index)
                    if len(holders) > 1:
                        overlaps.append(list(holders))
                # The server agrees: exactly one holder counted while we hold it.
                assert r.incr("holders") == 1
                assert r.decr("holders") == 0
                with guard:
                    holders.remove(index)
                lock.release()
        return rounds

    with Workers(timeout=120) as workers:
        for index in range(threads):
            workers.start(f"t{index}", contend, index)
        wait_until(lambda: len(workers.results) == threads or workers._errors, timeout=120,
                   message=lambda: f"{len(workers.results)} of {threads} threads done")
    assert overlaps == []
    assert sum(workers.results.values()) == threads * rounds
    with server.client() as r:
        assert r.exists("shared") == 0


def test_info_reports_the_script_cache(r2):
    r2.script_flush()
    assert r2.info("memory")["number_of_cached_scripts"] == 0
    r2.script_load("return 1")
    r2.eval("return 2", 0)
    r2.eval("return 2", 0)
    memory = r2.info("memory")
    assert memory["number_of_cached_scripts"] == 2
    assert memory["used_memory_lua"] > 0
    assert r2.info("server")["redis_version"].encode() == r2.eval("return redis.REDIS_VERSION", 0)
    # INFO from inside a script reports the cache too (the REDIS_VERSION script and the running one included).
    assert b"number_of_cached_scripts:4\r\n" in r2.eval("return redis.call('info', 'memory')", 0)


@pytest.mark.parametrize("script, reply", [
    ("#!python\nreturn 1", b"-ERR Unexpected engine in script shebang: #!python\r\n"),
    ("#!lua flags=bogus\nreturn 1", b"-ERR Unexpected flag in script shebang: bogus\r\n"),
    ("#!lua x=1\nreturn 1", b"-ERR Unknown lua shebang option: x=1\r\n"),
    ("#!lua", b"-ERR Invalid script shebang\r\n"),
])
def test_shebang_errors(raw, script, reply):
    c = raw()
    assert c.cmd("EVAL", script, 0) == reply
    assert c.cmd("SCRIPT", "LOAD", script) == reply


def test_a_script_publishing_to_its_own_resp3_connection(raw):
    c = raw()
    assert c.cmd("HELLO", "3").startswith(b"%")
    assert c.cmd("SUBSCRIBE", "news") == b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    # The message is pushed ahead of the script's reply, which the script's PUBLISH reply becomes.
    assert c.cmd("EVAL", "return redis.call('publish', 'news', 'hi')", 0) == (
        b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n")
    assert c.reply() == b":1\r\n"


def test_a_self_referencing_table_is_cut_at_the_lua_stack_limit(raw):
    """Lua's stack limit, not the server's own stack, bounds how deep a reply nests: Redis replies 7995 nested arrays
    and then the error."""
    c = raw()
    c.send(b"*3\r\n$4\r\nEVAL\r\n$30\r\nlocal t = {} t[1] = t return t\r\n$1\r\n0\r\n")
    end = b"-ERR reached lua stack limit\r\n"
    deadline = time.monotonic() + 30
    while not c.buf.endswith(end) and time.monotonic() < deadline:
        c._fill()
    reply, c.buf = c.buf, b""
    assert (len(reply), reply.count(b"*1\r\n")) == (len(b"*1\r\n" * 7995 + end), 7995)
    assert reply == b"*1\r\n" * 7995 + end
    assert c.cmd("PING") == b"+PONG\r\n"


def test_client_pause_write_holds_scripts_that_may_write(raw):
    """CLIENT PAUSE WRITE holds EVAL and EVALSHA of a script that may write (Redis's "may replicate" commands), not
    EVAL_RO nor a script whose shebang says no-writes."""
    from test_client_commands import HELD, assert_no_reply, client_fields, poll

    admin, writer = raw(), raw()
    writer_id = writer.cmd("CLIENT", "ID")[1:-2]
    no_writes = "#!lua flags=no-writes\nreturn redis.call('get', 'k')"
    assert admin.cmd("SCRIPT", "LOAD", no_writes).startswith(b"$40")
    assert admin.cmd("CLIENT", "PAUSE", "30000", "WRITE") == b"+OK\r\n"
    try:
        assert admin.cmd("EVAL_RO", "return redis.call('get', 'k')", 0) == b"$-1\r\n"
        assert admin.cmd("EVAL", no_writes, 0) == b"$-1\r\n"
        assert admin.cmd("EVALSHA", sha(no_writes), 0) == b"$-1\r\n"
        writer.send(encode("EVAL", "return redis.call('set', 'k', 'v')", 0))
        poll(lambda: client_fields(admin, writer_id)["cmd"] == "eval")
        assert_no_reply(writer, HELD)
        assert admin.cmd("EXISTS", "k") == b":0\r\n"
    finally:
        assert admin.cmd("CLIENT", "UNPAUSE") == b"+OK\r\n"
    assert writer.reply() == b"+OK\r\n"
    assert admin.cmd("GET", "k") == b"$1\r\nv\r\n"
