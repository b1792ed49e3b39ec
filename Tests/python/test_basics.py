"""Foundation command semantics, as Redis 7 has them (checked with KVNODE_TARGET=redis)."""

import time

import pytest
import redis
from redis.exceptions import ResponseError


def err(fn, *args):
    """The message of the error a command must fail with (redis-py strips the "ERR " prefix)."""
    with pytest.raises(ResponseError) as e:
        fn(*args)
    return str(e.value)


# --- PING / ECHO -------------------------------------------------------------------------

def test_ping(client):
    assert client.ping() is True


def test_ping_wire(raw):
    c = raw()
    assert c.cmd("PING") == b"+PONG\r\n"
    assert c.cmd("PING", "hello world") == b"$11\r\nhello world\r\n"
    assert c.cmd("ping") == b"+PONG\r\n"  # command names are case-insensitive
    assert c.cmd("PING", "a", "b") == b"-ERR wrong number of arguments for 'ping' command\r\n"


def test_echo(client):
    assert client.echo(b"hi") == b"hi"
    payload = bytes(range(256)) + b"\r\n\x00"
    assert client.echo(payload) == payload
    assert client.echo(b"") == b""


def test_echo_is_bulk_string(raw):
    # redis-cli --pipe waits for its ECHO marker as a *bulk* reply.
    assert raw().cmd("ECHO", b"x\r\ny") == b"$4\r\nx\r\ny\r\n"


# --- SET / GET / DEL / EXISTS ------------------------------------------------------------

def test_set_get_del_exists(client):
    assert client.get("missing") is None
    assert client.set("k", "v") is True
    assert client.get("k") == b"v"
    assert client.set("k", "v2") is True  # overwrite
    assert client.get("k") == b"v2"
    assert client.exists("k") == 1
    assert client.exists("k", "k", "missing", "k") == 3  # duplicates are counted
    client.set("k2", "x")
    assert client.delete("k", "k2", "missing") == 2
    assert client.delete("k") == 0
    assert client.exists("k", "k2") == 0
    assert client.get("k") is None


def test_del_duplicate_key_counts_once(client):
    client.set("k", "v")
    assert client.delete("k", "k") == 1


def test_set_nx_xx(client):
    assert client.set("k", "1", xx=True) is None  # XX on a missing key: not set
    assert client.get("k") is None
    assert client.set("k", "1", nx=True) is True
    assert client.set("k", "2", nx=True) is None  # NX on an existing key: not set
    assert client.get("k") == b"1"
    assert client.set("k", "3", xx=True) is True
    assert client.get("k") == b"3"


def test_set_get_option(client):
    assert client.set("k", "1", get=True) is None  # returns the old value (none), sets
    assert client.get("k") == b"1"
    assert client.set("k", "2", get=True) == b"1"
    assert client.get("k") == b"2"


def test_set_nx_get_and_xx_get(client):
    # Redis >= 7.0 allows NX/XX together with GET.
    assert client.set("k", "1", nx=True, get=True) is None
    assert client.get("k") == b"1"
    assert client.set("k", "2", nx=True, get=True) == b"1"  # not set, old value returned
    assert client.get("k") == b"1"
    assert client.set("k", "3", xx=True, get=True) == b"1"
    assert client.get("k") == b"3"
    assert client.set("other", "x", xx=True, get=True) is None
    assert client.get("other") is None


def test_set_wire_replies(raw):
    c = raw()
    assert c.cmd("SET", "k", "v") == b"+OK\r\n"
    assert c.cmd("SET", "k", "v", "NX") in (b"$-1\r\n", b"_\r\n")
    assert c.cmd("SET", "k", "w", "GET") == b"$1\r\nv\r\n"
    assert c.cmd("GET", "missing") == b"$-1\r\n"


def test_set_expiry_options_accepted(client):
    now = int(time.time())
    assert client.set("ex", "v", ex=100) is True
    assert client.set("px", "v", px=100_000) is True
    assert client.set("exat", "v", exat=now + 100) is True
    assert client.set("pxat", "v", pxat=(now + 100) * 1000) is True
    assert client.set("ex", "v2", keepttl=True) is True
    assert client.execute_command("SET", "k", "v", "ex", "100") is True  # options are case-insensitive
    assert client.mget("ex", "px", "exat", "pxat", "k") == [b"v2", b"v", b"v", b"v", b"v"]
    # Each got its expiry (KEEPTTL kept ex's).
    assert client.expiretime("exat") == now + 100 and client.pexpiretime("pxat") == (now + 100) * 1000
    for k in ("ex", "px", "k"):
        assert 0 < client.ttl(k) <= 100, k


@pytest.mark.parametrize("args", [
    ("NX", "XX"),
    ("XX", "NX"),
    ("EX", "10", "PX", "100"),
    ("KEEPTTL", "EX", "10"),
    ("EX",),
    ("BOGUS",),
])
def test_set_syntax_errors(r2, args):
    assert err(r2.execute_command, "SET", "k", "v", *args) == "syntax error"
    assert r2.get("k") is None


@pytest.mark.parametrize("args", [("EX", "0"), ("EX", "-1"), ("PX", "0"), ("EXAT", "0")])
def test_set_invalid_expire(r2, args):
    assert err(r2.execute_command, "SET", "k", "v", *args) == "invalid expire time in 'set' command"
    assert r2.get("k") is None


def test_set_expire_not_integer(r2):
    assert err(r2.execute_command, "SET", "k", "v", "EX", "abc") == \
        "value is not an integer or out of range"


# --- MSET / MGET -------------------------------------------------------------------------

def test_mset_mget(client):
    assert client.mset({"a": "1", "b": "2", "c": "3"}) is True
    assert client.mget("a", "missing", "c", "a") == [b"1", None, b"3", b"1"]
    assert client.execute_command("MSET", "a", "x", "a", "y") is True  # last one wins
    assert client.get("a") == b"y"


@pytest.mark.parametrize("args", [("a",), ("a", "1", "b"), ()])
def test_mset_odd_args(r2, args):
    assert err(r2.execute_command, "MSET", *args) == "wrong number of arguments for 'mset' command"


def test_mget_arity(r2):
    assert err(r2.execute_command, "MGET") == "wrong number of arguments for 'mget' command"


# --- binary safety, empty key/value ------------------------------------------------------

def test_binary_keys_and_values(client):
    key = b"k\r\n\x00\xff key"
    value = bytes(range(256)) * 4 + b"\r\n$3\r\n\x00"
    assert client.set(key, value) is True
    assert client.get(key) == value
    assert client.exists(key) == 1
    assert client.get(b"k\r\n") is None  # the NUL/CR bytes are part of the key, not terminators
    assert client.mget([key, b"k"]) == [value, None]


def test_empty_key_and_value(client):
    assert client.set(b"", b"empty-key") is True
    assert client.get(b"") == b"empty-key"
    assert client.set(b"k", b"") is True
    assert client.get(b"k") == b""  # an empty string, not nil
    assert client.exists(b"", b"k") == 2
    assert client.delete(b"") == 1
    assert client.get(b"") is None


def test_large_value(client):
    value = b"x" * (4 << 20)
    assert client.set("big", value) is True
    assert client.get("big") == value


# --- FLUSHDB / FLUSHALL / DBSIZE / SELECT --------------------------------------------------

def test_flushdb_flushall_dbsize(client):
    assert client.dbsize() == 0
    client.mset({f"k{i}": i for i in range(100)})
    assert client.dbsize() == 100
    assert client.flushdb() is True
    assert client.dbsize() == 0
    client.set("a", 1)
    assert client.dbsize() == 1
    assert client.flushall() is True
    assert client.dbsize() == 0
    assert client.get("a") is None


def test_select(r2):
    assert r2.execute_command("SELECT", 0) in (True, b"OK")
    assert err(r2.execute_command, "SELECT", 16) == "DB index is out of range"
    assert err(r2.execute_command, "SELECT", "x") == "value is not an integer or out of range"


# --- errors --------------------------------------------------------------------------------

def test_unknown_command_exact_text(raw):
    c = raw()
    # Note the trailing space after each quoted arg; the name keeps the case it was sent in.
    assert c.cmd("foo", "a", "b") == \
        b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
    assert c.cmd("FOO") == b"-ERR unknown command 'FOO', with args beginning with: \r\n"
    assert c.cmd("PING") == b"+PONG\r\n"  # a command error never closes the connection


def test_wrong_arity_exact_text(raw):
    c = raw()
    assert c.cmd("get") == b"-ERR wrong number of arguments for 'get' command\r\n"
    # Lower-case command name even when sent in another case.
    assert c.cmd("GET", "a", "b") == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert c.cmd("SET", "k") == b"-ERR wrong number of arguments for 'set' command\r\n"
    assert c.cmd("PING") == b"+PONG\r\n"


# --- HELLO / CLIENT / COMMAND ------------------------------------------------------------

def _as_dict(reply):
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2]))  # RESP2 flat key/value list


def check_hello(h, proto):
    assert set(h) >= {b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"}
    assert isinstance(h[b"server"], bytes) and h[b"server"]
    assert h[b"version"].startswith(b"7.")
    assert h[b"proto"] == proto
    assert isinstance(h[b"id"], int) and h[b"id"] > 0
    assert h[b"mode"] == b"standalone"
    assert h[b"role"] == b"master"
    assert h[b"modules"] == []


def test_hello_3(r3):
    h = r3.execute_command("HELLO", 3)
    assert isinstance(h, dict)  # a real RESP3 map
    check_hello(h, 3)


def test_hello_2(r2):
    h = r2.execute_command("HELLO", 2)
    assert isinstance(h, list)  # RESP2 has no maps: a flat array
    check_hello(_as_dict(h), 2)
    check_hello(_as_dict(r2.execute_command("HELLO")), 2)  # no version: report current protocol


def test_hello_map_on_the_wire(raw):
    c = raw()
    reply = c.cmd("HELLO", "3")
    assert reply.startswith(b"%7\r\n")
    assert c.cmd("PING") == b"+PONG\r\n"
    assert c.cmd("HELLO", "2").startswith(b"*14\r\n")


def test_hello_bad_version(raw):
    c = raw()
    assert c.cmd("HELLO", "4") == b"-NOPROTO unsupported protocol version\r\n"
    assert c.cmd("HELLO", "x") == b"-ERR Protocol version is not an integer or out of range\r\n"
    assert c.cmd("PING") == b"+PONG\r\n"


def test_client_setname_getname_id(client):
    assert client.client_getname() is None
    assert client.client_setname("worker-1") is True
    assert client.client_getname() in (b"worker-1", "worker-1")  # redis-py decodes it in RESP2
    cid = client.client_id()
    assert isinstance(cid, int) and cid > 0
    assert client.client_id() == cid  # same connection, same id


def test_client_ids_differ_per_connection(server):
    with server.client() as a, server.client() as b:
        assert a.client_id() != b.client_id()


def test_client_id_matches_hello(r3):
    h = r3.execute_command("HELLO", 3)
    assert r3.client_id() == h[b"id"]


def test_client_setname_rejects_spaces(r2):
    assert err(r2.execute_command, "CLIENT", "SETNAME", "a b") == \
        "Client names cannot contain spaces, newlines or special characters."


@pytest.mark.kvnode_only  # CLIENT SETINFO is Redis >= 7.2; the reference redis-server here is 7.0
def test_client_setinfo(client):
    assert client.execute_command("CLIENT", "SETINFO", "LIB-NAME", "kvnode-tests") in (True, b"OK")
    assert client.execute_command("CLIENT", "SETINFO", "LIB-VER", "1.2.3") in (True, b"OK")


def test_command_count(client):
    assert client.command_count() > 0


# --- redis-py 8 defaults -----------------------------------------------------------------

def test_redis_py_default_client_uses_resp3(server):
    with redis.Redis(host=server.host, port=server.port) as r:
        conn = r.connection_pool.get_connection()
        try:
            assert str(conn.get_protocol()) == "3"  # redis-py 8 connects with HELLO 3
        finally:
            r.connection_pool.release(conn)
        assert r.set("a", "1") is True
        assert r.set("b", b"\x00\xff") is True
        assert r.get("a") == b"1"
        assert r.mget("a", "b", "c") == [b"1", b"\x00\xff", None]
        assert r.delete("a", "b", "c") == 2
        assert r.get("a") is None


def test_redis_py_pipeline(client):
    with client.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set(f"k{i}", i)
        for i in range(1000):
            p.get(f"k{i}")
        out = p.execute()
    assert out[:1000] == [True] * 1000
    assert out[1000:] == [str(i).encode() for i in range(1000)]
