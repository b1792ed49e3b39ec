"""BZPOPMIN, BZPOPMAX and BZMPOP across connections (each blocked client on a connection and thread of its own, so
across the server's event loops): exact replies in RESP2 and RESP3 (raw bytes, and redis-py with and without
hiredis), served by ZADD, ZINCRBY, the STORE forms, RENAME and EXEC from another connection in the order clients
blocked, timeouts with decimals and their errors, never blocking inside MULTI, WRONGTYPE, keys whose type changes,
keyspace notifications, CLIENT UNBLOCK, INFO blocked_clients, disconnects. Every expectation holds against a real
redis-server (KVNODE_TARGET=redis). Polls are bounded; no wall-clock thresholds beyond "the timeout has passed"."""

from __future__ import annotations

import socket
import time

import pytest
import redis

from blocking_helpers import block, blocked_ids
from client_variants import client  # noqa: F401 - RESP2/RESP3 with and without hiredis
from conftest import encode, start_server, wait_until
from type_helpers import cli, err, keyspace_events, wrongtype


def flat(reply):
    """A BZPOPMIN/BZPOPMAX reply as a list, whatever sequence type redis-py's callback chose."""
    return None if reply is None else list(reply)


def mpop(reply):
    """A BZMPOP/ZMPOP reply with float scores (redis-py leaves RESP2's score strings as they are)."""
    return None if reply is None else [reply[0], [[member, float(score)] for member, score in reply[1]]]


def hello3(connect):
    c = connect()
    assert c.cmd("HELLO", "3").startswith(b"%")
    return c


@pytest.mark.parametrize("protocol", [2, 3])
def test_replies_on_the_wire_at_once(raw, r2, protocol):
    c = hello3(raw) if protocol == 3 else raw()
    double = (lambda text: b"," + text + b"\r\n") if protocol == 3 else (lambda text: b"$%d\r\n%s\r\n" % (len(text), text))
    null_array = b"_\r\n" if protocol == 3 else b"*-1\r\n"
    r2.zadd("z", {"a": 1, "b": 2.5, "c": 3, "d": 4})
    assert c.cmd("BZPOPMIN", "none", "z", "0") == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n" + double(b"1")
    assert c.cmd("BZPOPMAX", "z", "0") == b"*3\r\n$1\r\nz\r\n$1\r\nd\r\n" + double(b"4")
    assert c.cmd("BZMPOP", "0", "2", "none", "z", "MIN", "COUNT", "1") == (
        b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n" + double(b"2.5"))
    assert c.cmd("BZMPOP", "0", "1", "z", "MAX", "COUNT", "5") == b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nc\r\n" + double(b"3")
    assert r2.exists("z") == 0
    assert c.cmd("BZPOPMIN", "z", "0.01") == null_array
    assert c.cmd("BZPOPMAX", "z", "y", "0.01") == null_array
    assert c.cmd("BZMPOP", "0.01", "1", "z", "MIN") == null_array


@pytest.mark.parametrize("protocol", [2, 3])
def test_served_replies_on_the_wire(raw, r2, protocol):
    c = hello3(raw) if protocol == 3 else raw()
    double = (lambda text: b"," + text + b"\r\n") if protocol == 3 else (lambda text: b"$%d\r\n%s\r\n" % (len(text), text))
    c.send(encode("BZPOPMAX", "x", "z", "0"))
    wait_until(lambda: r2.info("clients")["blocked_clients"] == 1, message="BZPOPMAX to block")
    assert r2.zadd("z", {"low": -0.5, "high": 1e300}) == 2
    assert c.reply() == b"*3\r\n$1\r\nz\r\n$4\r\nhigh\r\n" + double(b"1.0000000000000001e+300")
    c.send(encode("BZMPOP", "0", "2", "x", "z", "MIN", "COUNT", "3"))
    wait_until(lambda: r2.info("clients")["blocked_clients"] == 0, message="BZMPOP to be answered")
    assert c.reply() == b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$3\r\nlow\r\n" + double(b"-0.5")
    c.send(encode("BZMPOP", "0", "1", "z", "MAX", "COUNT", "2"))
    wait_until(lambda: r2.info("clients")["blocked_clients"] == 1, message="BZMPOP to block")
    assert r2.zadd("z", {"m1": 1, "m2": 2, "m3": 3}) == 3
    assert c.reply() == (b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$2\r\nm3\r\n" + double(b"3")
                         + b"*2\r\n$2\r\nm2\r\n" + double(b"2"))
    assert r2.zrange("z", 0, -1, withscores=True) == [(b"m1", 1.0)]


def test_answers_at_once_from_the_first_non_empty_key(client):  # noqa: F811 - the fixture
    client.zadd("b", {"x": 1, "y": 2})
    client.zadd("c", {"z": 3})
    assert flat(client.bzpopmin(["a", "b", "c"], 0)) == [b"b", b"x", 1.0]
    assert flat(client.bzpopmax(["a", "c", "b"], 0)) == [b"c", b"z", 3.0]
    client.zadd("e", {"p": 1, "q": 2, "r": 3})
    assert mpop(client.bzmpop(0, 3, ["a", "b", "e"], max=True, count=5)) == [b"b", [[b"y", 2.0]]]
    assert mpop(client.bzmpop(0, 1, ["e"], min=True, count=2)) == [b"e", [[b"p", 1.0], [b"q", 2.0]]]
    assert mpop(client.bzmpop(0, 1, ["e"], min=True)) == [b"e", [[b"r", 3.0]]]
    assert client.exists("b", "c", "e") == 0
    assert client.bzpopmin(["a"], 0.01) is None and client.bzmpop(0.01, 1, ["a"], min=True) is None


@pytest.mark.parametrize("protocol", [2, 3])
def test_served_by_zadd_from_another_connection(server, r2, protocol):
    waiter = block(server, r2, "BZPOPMIN", "z1", "z2", "0", protocol=protocol)
    assert r2.info("clients")["blocked_clients"] == 1
    assert r2.zadd("z2", {"a": 2, "b": 1}) == 2
    assert flat(waiter.result()) == [b"z2", b"b", 1.0]
    assert r2.zrange("z2", 0, -1) == [b"a"] and r2.info("clients")["blocked_clients"] == 0
    waiter = block(server, r2, "BZMPOP", "0", "2", "z1", "z3", "MAX", "COUNT", "10", protocol=protocol)
    assert r2.zadd("z1", {"c": 3, "d": 4}) == 2
    assert mpop(waiter.result()) == [b"z1", [[b"d", 4.0], [b"c", 3.0]]]
    assert r2.exists("z1") == 0 and r2.zcard("z2") == 1


def test_clients_are_served_in_the_order_they_blocked(server, r2):
    first = block(server, r2, "BZPOPMAX", "z", "0")
    second = block(server, r2, "BZPOPMIN", "other", "z", "0")
    third = block(server, r2, "BZMPOP", "0", "1", "z", "MIN")
    assert r2.zadd("z", {"a": 1, "b": 2}) == 2
    assert flat(first.result()) == [b"z", b"b", 2.0]
    assert flat(second.result()) == [b"z", b"a", 1.0]
    assert not third.done() and r2.exists("z") == 0
    # The blocked client gets the member before the adding connection's next command runs.
    with r2.pipeline(transaction=False) as pipe:
        pipe.zadd("z", {"c": 3})
        pipe.zpopmin("z")
        assert pipe.execute() == [1, []]
    assert mpop(third.result()) == [b"z", [[b"c", 3.0]]]


def test_served_by_every_command_that_makes_a_sorted_set(server, r2):
    r2.zadd("src", {"s": 5})
    waiter = block(server, r2, "BZPOPMIN", "z", "0")
    assert r2.zincrby("z", 1.5, "m") == 1.5
    assert flat(waiter.result()) == [b"z", b"m", 1.5]
    waiter = block(server, r2, "BZPOPMAX", "z", "0")
    assert r2.zunionstore("z", ["src", "none"]) == 1
    assert flat(waiter.result()) == [b"z", b"s", 5.0]
    waiter = block(server, r2, "BZPOPMAX", "z", "0")
    assert r2.zrangestore("z", "src", 0, -1) == 1
    assert flat(waiter.result()) == [b"z", b"s", 5.0]
    waiter = block(server, r2, "BZPOPMAX", "z", "0")
    assert r2.zinterstore("z", ["src", "src"]) == 1
    assert flat(waiter.result()) == [b"z", b"s", 10.0]
    waiter = block(server, r2, "BZPOPMAX", "z", "0")
    assert r2.zdiffstore("z", ["src", "none"]) == 1
    assert flat(waiter.result()) == [b"z", b"s", 5.0]
    waiter = block(server, r2, "BZPOPMAX", "z", "0")
    assert r2.copy("src", "z") == 1
    assert flat(waiter.result()) == [b"z", b"s", 5.0]
    waiter = block(server, r2, "BZMPOP", "0", "1", "z", "MIN")
    assert r2.rename("src", "z") == 1
    assert mpop(waiter.result()) == [b"z", [[b"s", 5.0]]]
    assert r2.exists("src", "z") == 0


def test_served_after_exec_with_what_the_transaction_left(server, r2):
    waiter = block(server, r2, "BZPOPMAX", "z", "0")
    with r2.pipeline() as pipe:
        pipe.zadd("z", {"a": 1})
        pipe.zadd("z", {"b": 2})
        pipe.zrem("z", "a")
        pipe.zcard("z")
        assert pipe.execute() == [1, 1, 1, 1]
    assert flat(waiter.result()) == [b"z", b"b", 2.0]
    assert r2.exists("z") == 0


@pytest.mark.parametrize("protocol", [2, 3])
def test_timeouts(server, r2, protocol):
    with server.client(protocol=protocol) as c:
        started = time.monotonic()
        assert c.bzpopmin(["nothing"], 0.2) is None
        assert time.monotonic() - started >= 0.2
        assert c.bzpopmax(["nothing", "other"], 0.05) is None
        assert c.execute_command("BZMPOP", "0.01", "2", "nothing", "other", "MAX", "COUNT", "3") is None
        assert c.execute_command("BZPOPMIN", "nothing", "0.0001") is None
    assert r2.info("clients")["blocked_clients"] == 0
    assert r2.zadd("nothing", {"kept": 1}) == 1 and r2.zcard("nothing") == 1


def test_timeout_and_argument_errors(r2):
    assert err(r2.execute_command, "BZPOPMIN", "z", "-1") == "timeout is negative"
    assert err(r2.execute_command, "BZPOPMAX", "z", "-0.5") == "timeout is negative"
    assert err(r2.execute_command, "BZPOPMIN", "z", "abc") == "timeout is not a float or out of range"
    assert err(r2.execute_command, "BZPOPMIN", "z", "0.1x") == "timeout is not a float or out of range"
    assert err(r2.execute_command, "BZPOPMAX", "z", "1e30") == "timeout is negative"
    assert err(r2.execute_command, "BZPOPMIN", "z") == "wrong number of arguments for 'bzpopmin' command"
    assert err(r2.execute_command, "BZMPOP", "x", "1", "z", "MIN") == "timeout is not a float or out of range"
    assert err(r2.execute_command, "BZMPOP", "-1", "1", "z", "MAX") == "timeout is negative"
    # numkeys, MIN|MAX and COUNT are read before the timeout.
    assert err(r2.execute_command, "BZMPOP", "x", "0", "z", "MIN") == "numkeys should be greater than 0"
    assert err(r2.execute_command, "BZMPOP", "x", "1", "z", "UP") == "syntax error"
    assert err(r2.execute_command, "BZMPOP", "x", "3", "z", "MIN") == "syntax error"
    assert err(r2.execute_command, "BZMPOP", "0", "1", "z", "MIN", "COUNT", "0") == "count should be greater than 0"
    assert err(r2.execute_command, "BZMPOP", "0", "1", "z", "MIN", "COUNT", "1", "COUNT", "1") == "syntax error"
    assert err(r2.execute_command, "BZMPOP", "0", "1", "z", "MIN", "LIMIT") == "syntax error"
    # The timeout is read before the keys' types.
    r2.set("s", "a string")
    assert err(r2.execute_command, "BZPOPMIN", "s", "-1") == "timeout is negative"


def test_wrongtype(server, r2):
    r2.set("s", "a string")
    r2.rpush("l", "item")
    wrongtype(r2.bzpopmin, ["s"], 0)
    wrongtype(r2.bzpopmax, ["none", "l"], 0)
    wrongtype(r2.bzmpop, 0, 2, ["none", "s"], min=True)
    r2.zadd("z", {"m": 1})
    # Keys are looked at in order until one holds data: a later key of another type does not matter.
    assert flat(r2.bzpopmin(["z", "s"], 0)) == [b"z", b"m", 1.0]
    # BLPOP on a sorted set is WRONGTYPE too, and changes nothing.
    r2.zadd("z", {"m": 1})
    wrongtype(r2.blpop, ["z"], 0)
    assert r2.zcard("z") == 1 and r2.llen("l") == 1
    assert blocked_ids(r2) == set()


def test_never_blocks_inside_multi(r2, r3):
    for c in (r2, r3):
        with c.pipeline() as pipe:
            pipe.bzpopmin(["z"], 0)
            pipe.bzpopmax(["z", "y"], 0)
            pipe.execute_command("BZMPOP", "0", "1", "z", "MIN")
            pipe.zadd("z", {"m": 1})
            pipe.bzpopmax(["z"], 0)
            result = pipe.execute()
        assert result[:4] == [None, None, None, 1] and flat(result[4]) == [b"z", b"m", 1.0]


def test_a_key_of_another_type_keeps_clients_blocked(server, r2):
    waiter = block(server, r2, "BZPOPMIN", "k", "0")
    list_waiter = block(server, r2, "BLPOP", "k", "0")
    r2.set("k", "a string")
    r2.delete("k")
    r2.sadd("k", "member")
    r2.delete("k")
    # A list serves the list waiter only, though the sorted set waiter blocked first.
    r2.rpush("k", "item")
    assert list_waiter.result() in ([b"k", b"item"], (b"k", b"item"))
    assert not waiter.done() and r2.exists("k") == 0
    r2.rpush("k", "stays")
    assert not waiter.done()
    r2.delete("k")
    r2.zadd("k", {"m": 7})
    assert flat(waiter.result()) == [b"k", b"m", 7.0]


def test_keyspace_notifications_of_served_and_immediate_pops(server):
    def actions(r):
        waiter = block(server, r, "BZPOPMIN", "z", "0")
        r.zadd("z", {"a": 1, "b": 2})
        assert flat(waiter.result()) == [b"z", b"a", 1.0]
        assert mpop(r.bzmpop(0, 1, ["z"], max=True, count=5)) == [b"z", [[b"b", 2.0]]]
        waiter = block(server, r, "BZPOPMAX", "z", "0")
        r.zadd("z", {"c": 3})
        assert flat(waiter.result()) == [b"z", b"c", 3.0]

    assert keyspace_events(server, "zg", actions) == [
        (b"zadd", b"z"), (b"zpopmin", b"z"), (b"zpopmax", b"z"), (b"del", b"z"),
        (b"zadd", b"z"), (b"zpopmax", b"z"), (b"del", b"z"),
    ]


def test_client_unblock_and_blocked_clients(server, r2):
    waiter = block(server, r2, "BZPOPMIN", "z", "0")
    other = block(server, r2, "BZMPOP", "0", "1", "z", "MAX")
    assert r2.info("clients")["blocked_clients"] == 2
    assert r2.client_unblock(waiter.id) == 1
    assert waiter.result() is None
    assert r2.client_unblock(other.id, error=True) == 1
    result = other.result()
    assert isinstance(result, redis.ResponseError) and str(result) == "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    assert r2.info("clients")["blocked_clients"] == 0
    assert r2.zadd("z", {"m": 1}) == 1 and r2.zcard("z") == 1


def test_a_closed_client_is_no_longer_served(server, r2):
    sock = socket.create_connection((server.host, server.port))
    sock.sendall(encode("BZPOPMIN", "z", "0"))
    wait_until(lambda: r2.info("clients")["blocked_clients"] == 1, message="the raw client to block")
    sock.close()
    wait_until(lambda: r2.info("clients")["blocked_clients"] == 0, message="the closed client to be dropped")
    assert r2.zadd("z", {"kept": 1}) == 1
    assert r2.zrange("z", 0, -1) == [b"kept"]


def test_many_waiters_across_many_keys(server, r2):
    waiters = [block(server, r2, "BZPOPMIN", f"k{i}", "shared", "0") for i in range(6)]
    r2.zadd("shared", {f"m{i}": i for i in range(4)})
    # The first four blocked take the four members, lowest first.
    assert [flat(w.result()) for w in waiters[:4]] == [[b"shared", f"m{i}".encode(), float(i)] for i in range(4)]
    assert r2.zadd("k5", {"x": 1}) == 1
    assert flat(waiters[5].result()) == [b"k5", b"x", 1.0]
    assert r2.zadd("k4", {"y": 2}) == 1
    assert flat(waiters[4].result()) == [b"k4", b"y", 2.0]
    assert r2.dbsize() == 0


def test_command_getkeys(raw):
    c = raw()
    assert c.cmd("COMMAND", "GETKEYS", "BZPOPMIN", "a", "b", "0") == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert c.cmd("COMMAND", "GETKEYS", "BZMPOP", "0", "2", "a", "b", "MIN") == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"


@pytest.mark.kvnode_only
def test_waiters_and_pushers_on_four_event_loops():
    """Eight waiters and eight pushers, each a connection of its own, spread over four event loops: every waiter gets
    exactly one member, and no member is popped twice or lost."""
    with start_server("--io-threads", "4") as srv, srv.client() as r:
        waiters = [block(srv, r, "BZPOPMIN", f"k{i % 3}", "0") for i in range(8)]
        for i in range(8):
            with srv.client() as pusher:
                pusher.zadd(f"k{i % 3}", {f"m{i}": i})
        got = sorted(flat(w.result())[1] for w in waiters)
        assert got == sorted(f"m{i}".encode() for i in range(8))
        assert r.dbsize() == 0 and r.info("clients")["blocked_clients"] == 0


def test_redis_cli(server, r2):
    r2.zadd("z", {"a": 1.5, "b": 2})
    assert cli(server, "BZPOPMIN", "z", "0") == "z\na\n1.5\n"
    assert cli(server, "BZMPOP", "0", "1", "z", "MAX") == "z\nb\n2\n"
    assert cli(server, "BZPOPMAX", "z", "0.01") == "\n" and cli(server, "BZMPOP", "0.01", "1", "z", "MIN") == "\n"
