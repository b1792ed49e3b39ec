"""OBJECT and COMMAND, as Redis 7 replies (checked with KVNODE_TARGET=redis unless marked kvnode_only)."""

import pytest
import redis
from redis.exceptions import ResponseError

from replies import text_client


# --- OBJECT -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, encoding", [
    (b"123", b"int"), (b"-9223372036854775808", b"int"), (b"0", b"int"),
    (b"007", b"embstr"), (b"12345678901234567890123", b"embstr"), (b"1.5", b"embstr"),
    (b"x" * 44, b"embstr"), (b"x" * 45, b"raw"), (b"", b"embstr"),
])
def test_object_encoding(raw, value, encoding):
    c = raw()
    c.cmd("SET", "k", value)
    assert c.cmd("OBJECT", "ENCODING", "k") == b"$%d\r\n%s\r\n" % (len(encoding), encoding)


# Redis keeps a string changed in place (APPEND to an existing key, SETRANGE, SETBIT, BITFIELD) or built by BITOP as
# `raw`, whatever it holds; SET, INCR and GETSET store it afresh; EXPIRE, PERSIST, RENAME and COPY keep it.
@pytest.mark.parametrize("commands, encoding", [
    ([("SET", "k", "12"), ("APPEND", "k", "3")], b"raw"),
    ([("SET", "k", "abc"), ("APPEND", "k", "")], b"raw"),
    ([("APPEND", "k", "12")], b"int"),  # a new key: stored as SET would
    ([("APPEND", "k", "abc")], b"embstr"),
    ([("SETRANGE", "k", "0", "12")], b"raw"),
    ([("SET", "k", "12"), ("SETRANGE", "k", "0", "3")], b"raw"),
    ([("SET", "k", "abc"), ("SETRANGE", "k", "0", "")], b"embstr"),  # nothing written
    ([("SETBIT", "k", "1", "1")], b"raw"),
    ([("SET", "k", "12"), ("SETBIT", "k", "20", "1")], b"raw"),
    ([("SET", "k", "12"), ("GETBIT", "k", "1")], b"int"),
    ([("BITFIELD", "k", "SET", "u8", "0", "65")], b"raw"),
    ([("SET", "k", "A"), ("BITFIELD", "k", "GET", "u8", "0")], b"embstr"),
    ([("SET", "a", "x"), ("BITOP", "NOT", "k", "a")], b"raw"),
    ([("SET", "a", "1"), ("SET", "k", "2"), ("BITOP", "OR", "k", "a")], b"raw"),
    ([("SET", "k", "12"), ("APPEND", "k", "3"), ("INCR", "k")], b"int"),
    ([("SET", "k", "12"), ("APPEND", "k", "3"), ("DECRBY", "k", "2")], b"int"),
    ([("SET", "k", "12"), ("APPEND", "k", "3"), ("SET", "k", "5")], b"int"),
    ([("SET", "k", "12"), ("APPEND", "k", "3"), ("GETSET", "k", "x")], b"embstr"),
    ([("SET", "k", "12"), ("APPEND", "k", "3"), ("EXPIRE", "k", "100")], b"raw"),
    ([("SET", "k", "12"), ("APPEND", "k", "3"), ("EXPIRE", "k", "100"), ("PERSIST", "k")], b"raw"),
    ([("SET", "k", "12"), ("APPEND", "k", "3"), ("GETEX", "k", "PX", "100000")], b"raw"),
    ([("SET", "j", "12"), ("APPEND", "j", "3"), ("RENAME", "j", "k")], b"raw"),
    ([("SET", "j", "12"), ("APPEND", "j", "3"), ("COPY", "j", "k")], b"raw"),
    ([("SET", "k", "12"), ("APPEND", "k", "3"), ("COPY", "k", "j"), ("OBJECT", "ENCODING", "j")], b"raw"),
    ([("SET", "k", "1"), ("SET", "j", "12"), ("APPEND", "j", "3"), ("RENAME", "j", "k")], b"raw"),
    ([("SET", "k", "x" * 45)], b"raw"),
])
def test_object_encoding_of_a_string_changed_in_place(raw, commands, encoding):
    c = raw()
    for command in commands:
        assert not c.cmd(*command).startswith(b"-"), command
    assert c.cmd("OBJECT", "ENCODING", "k") == b"$%d\r\n%s\r\n" % (len(encoding), encoding)


def test_object_encoding_of_a_string_changed_in_place_inside_multi(raw):
    """Within one transaction, before anything is committed, and after."""
    c = raw()
    c.cmd("SET", "k", "12")
    c.cmd("MULTI")
    c.cmd("APPEND", "k", "3")
    c.cmd("OBJECT", "ENCODING", "k")
    c.cmd("INCR", "k")
    c.cmd("OBJECT", "ENCODING", "k")
    c.cmd("SETBIT", "k", "100", "1")
    assert c.cmd("EXEC") == b"*5\r\n:3\r\n$3\r\nraw\r\n:124\r\n$3\r\nint\r\n:0\r\n"
    assert c.cmd("OBJECT", "ENCODING", "k") == b"$3\r\nraw\r\n"


def test_object_refcount_freq_idletime(raw):
    c = raw()
    c.cmd("SET", "small", "123")
    c.cmd("SET", "big", "123456")
    assert c.cmd("OBJECT", "REFCOUNT", "small") == b":2147483647\r\n"  # a shared integer
    assert c.cmd("OBJECT", "REFCOUNT", "big") == b":1\r\n"
    assert c.cmd("OBJECT", "FREQ", "small").startswith(b"-ERR An LFU maxmemory policy is not selected")
    # Just written: 0 s idle (Redis's LRU clock may tick to 1 s in between; kvnode always reports 0).
    assert c.cmd("OBJECT", "IDLETIME", "big") in (b":0\r\n", b":1\r\n")
    for sub in ("ENCODING", "REFCOUNT", "FREQ", "IDLETIME"):
        assert c.cmd("OBJECT", sub, "missing") == b"$-1\r\n"
    assert c.cmd("OBJECT", "ENCODING") == b"-ERR wrong number of arguments for 'object|encoding' command\r\n"
    assert c.cmd("OBJECT", "nosuch", "k") == b"-ERR unknown subcommand 'nosuch'. Try OBJECT HELP.\r\n"
    assert c.cmd("OBJECT", "HELP").startswith(b"*15\r\n+OBJECT <subcommand>")


# --- COMMAND ------------------------------------------------------------------------------------------------------

def test_command_docs_get_and_set(raw):
    c = raw()
    assert c.cmd("COMMAND", "DOCS", "get") == (
        b"*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n"
        b"$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n"
        b"$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n")
    assert c.cmd("COMMAND", "DOCS", "nosuch") == b"*0\r\n"
    c.cmd("HELLO", "3")
    docs = c.cmd("COMMAND", "DOCS", "set")
    assert docs.startswith(b"%1\r\n$3\r\nset\r\n%6\r\n$7\r\nsummary\r\n")
    # The history's first entry: Redis 7.0 lists four, 8.4 (kvnode's SET) five.
    assert b"$5\r\ntoken\r\n$7\r\nKEEPTTL\r\n" in docs and b"\r\n*2\r\n$6\r\n2.6.12\r\n" in docs


def raw_replies(r: redis.Redis) -> redis.Redis:
    """`r` without redis-py's parsing of COMMAND replies (it would turn COMMAND DOCS into a COMMAND table)."""
    r.set_response_callback("COMMAND", lambda response, **options: response)
    return r


def test_command_docs_for_redis_py(server):
    r = raw_replies(text_client(server, 3))
    docs = r.execute_command("COMMAND", "DOCS", "client")
    client = docs["client"]
    assert client["group"] == "connection"
    assert {"client|list", "client|kill", "client|setname"} <= set(client["subcommands"])
    assert client["subcommands"]["client|kill"]["summary"]


@pytest.mark.kvnode_only  # Redis documents every command too, but its table is not ours
def test_every_command_is_documented(server):
    r = raw_replies(text_client(server, 3))
    for name in r.execute_command("COMMAND", "LIST"):
        doc = r.execute_command("COMMAND", "DOCS", name)[name]
        assert doc.get("summary") and doc.get("group"), f"{name} has no docs: run scripts/gen-command-reference"


def test_command_info_shapes(raw):
    c = raw()
    assert c.cmd("COMMAND", "INFO", "get") == (
        b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n"
        b"+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\n"
        b"type\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n"
        b"$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n")
    assert c.cmd("COMMAND", "INFO", "nosuch") == b"*1\r\n$-1\r\n"
    c.cmd("HELLO", "3")
    assert c.cmd("COMMAND", "INFO", "echo") == (
        b"*1\r\n*10\r\n$4\r\necho\r\n:2\r\n~3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n"
        b"+@connection\r\n~0\r\n~0\r\n~0\r\n")
    multi = c.cmd("COMMAND", "INFO", "multi")
    assert b"+noscript\r\n+loading\r\n+stale\r\n+fast\r\n+allow_busy\r\n" in multi
    assert b"+@transaction" in c.cmd("COMMAND", "INFO", "exec")


def test_command_list_and_count(server):
    r = text_client(server)
    names = r.command_list()
    top_level = [n for n in names if "|" not in n]
    assert r.command_count() == len(top_level)
    assert {"get", "set", "multi", "exec", "watch", "client|list", "config|get", "object|encoding"} <= set(names)
    assert sorted(r.command_list(category="transaction")) == ["discard", "exec", "multi", "unwatch", "watch"]
    assert "client|kill" in r.command_list(pattern="client*")
    assert r.command_list(module="x") == []
    with pytest.raises(ResponseError, match="syntax error"):
        raw_replies(r).execute_command("COMMAND", "LIST", "FILTERBY", "FOO", "x")


@pytest.mark.parametrize("args, reply", [
    (("mset", "a", "1", "b", "2"), b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    (("get", "k"), b"*1\r\n$1\r\nk\r\n"),
    (("object", "encoding", "k"), b"*1\r\n$1\r\nk\r\n"),
    (("client", "list"), b"-ERR The command has no key arguments\r\n"),
    (("nosuch", "a"), b"-ERR Invalid command specified\r\n"),
    (("get", "a", "b"), b"-ERR Invalid number of arguments specified for command\r\n"),
    (("ping",), b"-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
])
def test_command_getkeys(raw, args, reply):
    assert raw().cmd("COMMAND", "GETKEYS", *args) == reply
