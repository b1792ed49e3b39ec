"""Expiry: the EXPIRE/TTL family, SET and GETEX options, SETEX/PSETEX, invisibility of expired keys everywhere,
the background sweeper and restarts. Checked against Redis with KVNODE_TARGET=redis (restarts are kvnode_only:
the reference Redis runs without persistence; Redis's active expiry plays the sweeper's part)."""

import time

import pytest
from redis.exceptions import ResponseError

from conftest import Raw, now_ms, start_server, stored_layout, wait_past, wait_until

kvnode_only = pytest.mark.kvnode_only


def err(fn, *args):
    with pytest.raises(ResponseError) as e:
        fn(*args)
    return str(e.value)


def set_many(c, prefix, count, px):
    """Sets `prefix:0` ... in one pipeline, each expiring `px` ms after it is set."""
    with c.pipeline(transaction=False) as p:
        for i in range(count):
            p.set(f"{prefix}:{i}", "v", px=px)
        p.execute()


def removal_counts(c):
    """(INFO stats expired_keys, INFO keyspace keys): the keys removed because they expired, and the keys stored,
    expired or not (Redis's dictSize, kvnode's persisted count). Neither looks a key up, so neither expires one:
    only the sweeper (Redis's active expiry) can move them."""
    keyspace = c.info("keyspace").get("db0", {"keys": 0})
    return c.info("stats")["expired_keys"], keyspace["keys"]


# --- EXPIRE family -------------------------------------------------------------------------------

def test_expire_and_ttl(client):
    assert client.expire("missing", 10) is False
    assert client.ttl("missing") == -2 and client.pttl("missing") == -2
    client.set("k", "v")
    assert client.ttl("k") == -1 and client.pttl("k") == -1
    assert client.expiretime("k") == -1 and client.pexpiretime("k") == -1
    assert client.expire("k", 100) is True
    assert 99 <= client.ttl("k") <= 100
    assert 99_000 < client.pttl("k") <= 100_000
    assert client.pexpire("k", 5000) is True
    assert 4 <= client.ttl("k") <= 5
    at = int(time.time()) + 1000
    assert client.expireat("k", at) is True
    assert client.expiretime("k") == at
    assert client.pexpiretime("k") == at * 1000
    assert client.pexpireat("k", at * 1000 + 123) is True
    assert client.pexpiretime("k") == at * 1000 + 123
    assert client.expiretime("k") == at  # rounded to the nearest second


def test_expire_in_the_past_deletes(client):
    for command, arg in (("expire", 0), ("expire", -5), ("pexpire", -1), ("expireat", 1), ("pexpireat", 1000)):
        client.set("k", "v")
        assert client.execute_command(command.upper(), "k", arg) == 1
        assert client.exists("k") == 0, command


def test_expire_conditions(client):
    client.set("k", "v")
    assert client.expire("k", 100, xx=True) is False  # no expiry yet
    assert client.expire("k", 100, gt=True) is False  # none counts as infinite
    assert client.expire("k", 100, nx=True) is True
    assert client.expire("k", 200, nx=True) is False
    assert client.expire("k", 50, gt=True) is False
    assert client.expire("k", 200, gt=True) is True
    assert client.expire("k", 300, lt=True) is False
    assert client.expire("k", 150, lt=True) is True
    assert client.expire("k", 120, xx=True) is True
    assert 119 <= client.ttl("k") <= 120
    client.set("n", "v")
    assert client.expire("n", 100, lt=True) is True  # LT on no expiry succeeds
    assert client.execute_command("EXPIRE", "k", 10, "xx", "GT") == 0
    assert client.execute_command("EXPIRE", "k", 1000, "Xx", "gt") == 1


def test_expire_errors(r2):
    r2.set("k", "v")
    e = r2.execute_command
    assert err(e, "EXPIRE", "k", "abc") == "value is not an integer or out of range"
    assert err(e, "EXPIRE", "k", "1.5") == "value is not an integer or out of range"
    assert err(e, "EXPIRE", "k", 10, "nx", "xx") == "NX and XX, GT or LT options at the same time are not compatible"
    assert err(e, "EXPIRE", "k", 10, "nx", "gt") == "NX and XX, GT or LT options at the same time are not compatible"
    assert err(e, "EXPIRE", "k", 10, "gt", "lt") == "GT and LT options at the same time are not compatible"
    assert err(e, "EXPIRE", "k", 10, "foo") == "Unsupported option foo"
    assert err(e, "EXPIRE", "k", "abc", "foo") == "Unsupported option foo"  # options are checked first
    assert err(e, "EXPIRE", "k", 9223372036854775807) == "invalid expire time in 'expire' command"
    assert err(e, "EXPIRE", "k", -9223372036854775807) == "invalid expire time in 'expire' command"
    assert err(e, "PEXPIRE", "k", 9223372036854775807) == "invalid expire time in 'pexpire' command"
    assert err(e, "EXPIREAT", "k", 9223372036854775807) == "invalid expire time in 'expireat' command"
    assert e("PEXPIREAT", "k", 9223372036854775807) == 1
    assert err(e, "EXPIRE", "k") == "wrong number of arguments for 'expire' command"
    assert err(e, "TTL") == "wrong number of arguments for 'ttl' command"
    assert err(e, "PERSIST", "a", "b") == "wrong number of arguments for 'persist' command"


def test_persist(client):
    assert client.persist("missing") is False
    client.set("k", "v")
    assert client.persist("k") is False
    client.expire("k", 100)
    assert client.persist("k") is True
    assert client.ttl("k") == -1
    assert client.get("k") == b"v"


def test_ttl_wire(raw):
    c = raw()
    assert c.cmd("TTL", "nope") == b":-2\r\n"
    c.cmd("SET", "k", "v")
    assert c.cmd("PTTL", "k") == b":-1\r\n"


# --- SET options, GETEX, SETEX, PSETEX ---------------------------------------------------------

def test_set_expiry_options(client):
    client.set("a", "v", ex=100)
    assert 99 <= client.ttl("a") <= 100
    client.set("a", "v", px=50_000)
    assert 49_000 < client.pttl("a") <= 50_000
    at = int(time.time()) + 500
    client.set("a", "v", exat=at)
    assert client.expiretime("a") == at
    client.set("a", "v", pxat=at * 1000 + 7)
    assert client.pexpiretime("a") == at * 1000 + 7
    client.set("a", "w", keepttl=True)
    assert client.pexpiretime("a") == at * 1000 + 7 and client.get("a") == b"w"
    client.set("a", "x")  # a plain SET drops the expiry
    assert client.ttl("a") == -1
    client.set("a", "y", exat=1)  # in the past: the key is gone
    assert client.exists("a") == 0
    client.set("b", "y", pxat=1)
    assert client.exists("b") == 0


def test_set_errors(r2):
    e = r2.execute_command
    for opts in (["EX", 0], ["PX", -1], ["EXAT", 0], ["EX", 9223372036854775807]):
        assert err(e, "SET", "k", "v", *opts) == "invalid expire time in 'set' command", opts
    assert err(e, "SET", "k", "v", "EX", 10, "PX", 10) == "syntax error"
    assert err(e, "SET", "k", "v", "EX", 10, "KEEPTTL") == "syntax error"


def test_getex(client):
    assert client.getex("missing", ex=10) is None
    client.set("k", "v")
    assert client.getex("k") == b"v" and client.ttl("k") == -1
    assert client.getex("k", ex=100) == b"v"
    assert 99 <= client.ttl("k") <= 100
    assert client.getex("k", px=5000) == b"v"
    assert 4000 < client.pttl("k") <= 5000
    at = int(time.time()) + 300
    assert client.getex("k", exat=at) == b"v" and client.expiretime("k") == at
    assert client.getex("k", pxat=at * 1000 + 1) == b"v" and client.pexpiretime("k") == at * 1000 + 1
    assert client.getex("k", persist=True) == b"v" and client.ttl("k") == -1
    assert client.getex("k", exat=1) == b"v"  # replied, then gone
    assert client.exists("k") == 0


def test_getex_errors(r2):
    e = r2.execute_command
    r2.set("k", "v")
    assert err(e, "GETEX", "k", "EX", 0) == "invalid expire time in 'getex' command"
    assert err(e, "GETEX", "k", "EX", "abc") == "value is not an integer or out of range"
    assert err(e, "GETEX", "k", "PERSIST", "EX", 10) == "syntax error"
    assert err(e, "GETEX", "k", "EX", 10, "PX", 10) == "syntax error"
    assert err(e, "GETEX", "k", "EX") == "syntax error"
    assert err(e, "GETEX", "k", "FOO") == "syntax error"
    assert e("GETEX", "k", "EX", 10, "EX", 20) == b"v"
    assert e("GETEX", "k", "PERSIST", "PERSIST") == b"v"
    assert err(e, "GETEX") == "wrong number of arguments for 'getex' command"


def test_setex_psetex(client):
    assert client.execute_command("SETEX", "k", 100, "v") is True
    assert client.get("k") == b"v" and 99 <= client.ttl("k") <= 100
    assert client.execute_command("PSETEX", "k", 5000, "w") is True
    assert client.get("k") == b"w" and 4000 < client.pttl("k") <= 5000


def test_setex_errors(r2):
    e = r2.execute_command
    assert err(e, "SETEX", "k", 0, "v") == "invalid expire time in 'setex' command"
    assert err(e, "SETEX", "k", -1, "v") == "invalid expire time in 'setex' command"
    assert err(e, "PSETEX", "k", 0, "v") == "invalid expire time in 'psetex' command"
    assert err(e, "SETEX", "k", "x", "v") == "value is not an integer or out of range"
    assert err(e, "SETEX", "k", 9223372036854775807, "v") == "invalid expire time in 'setex' command"
    assert err(e, "SETEX", "k", 10) == "wrong number of arguments for 'setex' command"
    assert r2.exists("k") == 0


# --- Expired keys are invisible everywhere -----------------------------------------------------

def test_expired_key_is_invisible_to_every_command(client):
    client.set("live", "1")
    client.set("gone", "2", px=50)
    client.set("gone2", "3", px=50)
    wait_past(now_ms() + 50)
    assert client.get("gone") is None
    assert client.mget("gone", "live") == [None, b"1"]
    assert client.exists("gone", "live") == 1
    assert client.ttl("gone2") == -2 and client.pttl("gone2") == -2
    assert sorted(client.keys("*")) == [b"live"]
    assert sorted(client.scan_iter()) == [b"live"]
    assert client.dbsize() == 1
    assert {client.randomkey() for _ in range(20)} == {b"live"}
    assert client.type("gone2") in (b"none", "none")
    assert client.strlen("gone2") == 0
    assert client.expire("gone2", 100) is False


@kvnode_only
def test_expired_keys_invisible_to_kvnode_commands(client):
    client.set("p:live", "1")
    client.set("p:gone", "2", px=50)
    wait_past(now_ms() + 50)
    assert client.execute_command("KEYS", "p:*", "WITHVALUES") == [b"p:live", b"1"]
    assert client.execute_command("KEYS", "p:gone") == []
    client.set("p:gone2", "x", px=50)
    wait_past(now_ms() + 50)
    assert client.execute_command("PDEL", "p:*") == 1


# --- The background sweeper (Redis: active expiry) -------------------------------------------

# A sweeper that never runs again after start-up: what the tests below see is the start-up pass alone, or no sweep.
NO_PERIODIC_SWEEP = ("--expiry-sweep-interval", "3600000")


@kvnode_only
def test_dbsize_excludes_expired_keys_before_any_sweep():
    """Redis's DBSIZE counts expired keys its active expiry has not reached; kvnode's never does."""
    with start_server(*NO_PERIODIC_SWEEP) as srv, srv.client() as c:
        c.set("stay", 1)
        set_many(c, "short", 2000, px=30)  # PX, not PXAT: a loaded machine may take longer than 30 ms to set them
        wait_past(now_ms() + 30)
        assert removal_counts(c) == (0, 2001)  # all still stored: nothing has swept them
        assert c.dbsize() == 1
        assert removal_counts(c) == (0, 2001)  # and DBSIZE did not remove them either


def expired_events(subscriber: Raw, count: int, timeout: float = 60.0) -> list[bytes]:
    """The keys of the next `count` `__keyevent@0__:expired` messages on a subscribed RESP2 connection."""
    keys = []
    deadline = time.monotonic() + timeout
    while len(keys) < count:
        assert time.monotonic() < deadline, f"{len(keys)} of {count} expired events within {timeout:g}s"
        try:
            # *3 $7 message $22 __keyevent@0__:expired $n key
            parts = subscriber.reply().split(b"\r\n")
        except TimeoutError:
            raise AssertionError(f"{len(keys)} of {count} expired events, then none for a while") from None
        assert parts[2] == b"message" and parts[4] == b"__keyevent@0__:expired", parts
        keys.append(parts[6])
    return keys


def test_ten_thousand_due_keys_are_swept_without_any_read():
    """Nothing reads the keys, so only the sweeper (Redis's active expiry) can remove them: each is reported once as
    an `expired` event and counted in INFO's expired_keys, and leaves the stored count; in kvnode, LevelDB holds
    neither their records nor their index entries afterwards."""
    with start_server("--notify-keyspace-events", "Ex") as srv, srv.client() as c, \
            Raw(srv.host, srv.port, timeout=30) as events:
        assert events.cmd("SUBSCRIBE", "__keyevent@0__:expired") == (
            b"*3\r\n$9\r\nsubscribe\r\n$22\r\n__keyevent@0__:expired\r\n:1\r\n")
        c.set("stay", 1)
        c.set("later", 1, ex=3600)
        set_many(c, "temp", 10_000, px=200)
        swept = expired_events(events, 10_000)
        assert sorted(swept) == sorted(b"temp:%d" % i for i in range(10_000))
        wait_until(lambda: removal_counts(c) == (10_000, 2), message=lambda: f"counts {removal_counts(c)}")
        assert c.dbsize() == 2
        assert sorted(c.keys("*")) == [b"later", b"stay"]
        if srv.target == "kvnode":
            srv.stop()
            assert stored_layout(srv.data_dir) == ([b"later", b"stay"], [b"later"], 2)


# --- Restarts ----------------------------------------------------------------------------------

@kvnode_only
def test_expiry_survives_restart(server):
    with server.client() as c:
        c.set("long", "v", ex=1000)
        c.set("plain", "v")
        c.pexpireat("exact", now_ms() + 500_000)  # missing key: no-op
        c.set("exact", "v", pxat=now_ms() + 500_000)
        expected = c.pexpiretime("exact")
    server.restart()
    with server.client() as c:
        assert 990 <= c.ttl("long") <= 1000
        assert c.ttl("plain") == -1
        assert c.pexpiretime("exact") == expected


@kvnode_only
def test_keys_that_expired_while_down_go_in_the_start_up_pass():
    """The sweeper's first pass, as the server starts, removes keys that expired while it was down: with no later
    pass and no read, they leave INFO's counts and LevelDB."""
    with start_server(*NO_PERIODIC_SWEEP) as srv:
        with srv.client() as c:
            set_many(c, "brief", 500, px=300)
            expired_by = now_ms() + 300
            c.set("stay", "v")
            c.set("later", "v", ex=1000)
            assert removal_counts(c) == (0, 502)
        srv.stop()
        assert stored_layout(srv.data_dir) == (
            sorted([b"later", b"stay"] + [b"brief:%d" % i for i in range(500)]),
            sorted([b"later"] + [b"brief:%d" % i for i in range(500)]), 502)
        wait_past(expired_by)
        srv.start()
        with srv.client() as c:
            wait_until(lambda: removal_counts(c) == (500, 2), message=lambda: f"counts {removal_counts(c)}")
        srv.stop()
        assert stored_layout(srv.data_dir) == ([b"later", b"stay"], [b"later"], 2)
        srv.start()
        with srv.client() as c:
            assert sorted(c.keys("*")) == [b"later", b"stay"]
            assert c.get("brief:1") is None
            assert 990 <= c.ttl("later") <= 1000
