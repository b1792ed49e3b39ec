"""BLPOP, BRPOP, BLMOVE, BRPOPLPUSH and BLMPOP across connections (each blocked client on a connection and thread of
its own, so across the server's event loops), with redis-py in RESP2 and RESP3: served by a push from any connection
(inside MULTI/EXEC and by LMOVE too) in the order clients blocked, timeouts with decimals, CLIENT UNBLOCK, CLIENT
LIST and INFO, type changes, disconnects. Every expectation holds against a real redis-server (KVNODE_TARGET=redis).
Polls are bounded; no wall-clock thresholds beyond "the timeout has passed"."""

from __future__ import annotations

import socket
import time

import pytest
import redis

from blocking_helpers import block
from conftest import wait_until
from type_helpers import err


@pytest.mark.parametrize("protocol", [2, 3])
def test_served_by_a_push_from_another_connection(server, r2, protocol):
    waiter = block(server, r2, "BLPOP", "q1", "q2", "0", protocol=protocol)
    assert r2.info("clients")["blocked_clients"] == 1
    assert r2.rpush("q2", "job") == 1
    assert waiter.result() in ([b"q2", b"job"], (b"q2", b"job"))
    assert r2.exists("q2") == 0 and r2.info("clients")["blocked_clients"] == 0


def test_answers_at_once_from_the_first_non_empty_list(r2):
    r2.rpush("b", "1", "2")
    r2.rpush("c", "3")
    assert r2.blpop(["a", "b", "c"], 0) == (b"b", b"1")
    assert r2.brpop(["a", "c", "b"], 0) == (b"c", b"3")
    assert r2.blmove("b", "d", 0, "LEFT", "RIGHT") == b"2"
    r2.rpush("e", "x", "y", "z")
    assert r2.blmpop(0, 2, "a", "e", direction="RIGHT", count=2) == [b"e", [b"z", b"y"]]
    assert r2.brpoplpush("e", "d", 0) == b"x" and r2.lrange("d", 0, -1) == [b"x", b"2"]


def test_clients_are_served_in_the_order_they_blocked(server, r2):
    first = block(server, r2, "BRPOP", "q", "0")
    second = block(server, r2, "BRPOP", "other", "q", "0")
    third = block(server, r2, "BLPOP", "q", "0")
    assert r2.rpush("q", "a", "b") == 2
    assert first.result() in ([b"q", b"b"], (b"q", b"b"))
    assert second.result() in ([b"q", b"a"], (b"q", b"a"))
    assert not third.done() and r2.exists("q") == 0
    # The blocked client gets the item before the pusher's next command runs.
    with r2.pipeline(transaction=False) as pipe:
        pipe.rpush("q", "c")
        pipe.lpop("q")
        assert pipe.execute() == [1, None]
    assert third.result() in ([b"q", b"c"], (b"q", b"c"))


def test_served_after_exec_and_by_lmove(server, r2):
    waiter = block(server, r2, "BLPOP", "q", "0")
    with r2.pipeline() as pipe:
        pipe.rpush("q", "a")
        pipe.rpush("q", "b")
        pipe.llen("q")
        assert pipe.execute() == [1, 2, 2]
    assert waiter.result() in ([b"q", b"a"], (b"q", b"a"))
    mover = block(server, r2, "BLMOVE", "watched", "out", "RIGHT", "LEFT", "0")
    # LMOVE into the key the BLMOVE waits on: the BLMOVE then pushes onto `out`, which serves the next client.
    reader = block(server, r2, "BRPOP", "out", "0")
    assert r2.lmove("q", "watched", "LEFT", "LEFT") == b"b"
    assert mover.result() == b"b"
    assert reader.result() in ([b"out", b"b"], (b"out", b"b"))
    assert r2.exists("q", "watched", "out") == 0


def test_a_served_pop_invalidates_watch(server, r2):
    r2.rpush("q", "keep")
    waiter = block(server, r2, "BLPOP", "empty", "0")
    with r2.pipeline() as pipe:
        pipe.watch("empty")
        r2.rpush("empty", "x")  # served to the waiter at once: the watched key changed twice
        assert waiter.result() in ([b"empty", b"x"], (b"empty", b"x"))
        pipe.multi()
        pipe.lpop("q")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r2.lrange("q", 0, -1) == [b"keep"]


@pytest.mark.parametrize("protocol", [2, 3])
def test_timeouts(server, r2, protocol):
    with server.client(protocol=protocol) as c:
        started = time.monotonic()
        assert c.blpop(["nothing"], 0.2) is None
        assert time.monotonic() - started >= 0.2
        assert c.execute_command("BLMOVE", "nothing", "d", "LEFT", "LEFT", "0.05") is None
        assert c.execute_command("BRPOPLPUSH", "nothing", "d", "0.01") is None
        assert c.execute_command("BLMPOP", "0.01", "1", "nothing", "LEFT") is None
        assert c.execute_command("BLPOP", "nothing", "0.0001") is None
    assert r2.info("clients")["blocked_clients"] == 0


def test_timeout_errors(r2):
    assert err(r2.execute_command, "BLPOP", "q", "-1") == "timeout is negative"
    assert err(r2.execute_command, "BRPOP", "q", "-0.5") == "timeout is negative"
    assert err(r2.execute_command, "BLPOP", "q", "abc") == "timeout is not a float or out of range"
    assert err(r2.execute_command, "BLPOP", "q", "0.1x") == "timeout is not a float or out of range"
    assert err(r2.execute_command, "BLPOP", "q", "1e30") == "timeout is negative"
    assert err(r2.execute_command, "BLMOVE", "q", "d", "LEFT", "LEFT", "-1") == "timeout is negative"
    assert err(r2.execute_command, "BLMOVE", "q", "d", "UP", "LEFT", "0") == "syntax error"
    assert err(r2.execute_command, "BLMPOP", "x", "1", "q", "LEFT") == "timeout is not a float or out of range"
    assert err(r2.execute_command, "BLMPOP", "0", "0", "q", "LEFT") == "numkeys should be greater than 0"
    assert err(r2.execute_command, "BLMPOP", "0", "1", "q", "LEFT", "COUNT", "0") == "count should be greater than 0"


def test_never_blocks_inside_multi(r2, r3):
    for c in (r2, r3):
        with c.pipeline() as pipe:
            pipe.blpop(["q"], 0)
            pipe.execute_command("BLMOVE", "q", "d", "LEFT", "LEFT", "0")
            pipe.execute_command("BLMPOP", "0", "1", "q", "LEFT")
            assert pipe.execute() == [None, None, None]


def test_client_unblock(server, r2):
    waiter = block(server, r2, "BLPOP", "q", "0")
    assert r2.client_unblock(waiter.id) == 1
    assert waiter.result() is None
    waiter = block(server, r2, "BRPOP", "q", "0")
    assert r2.client_unblock(waiter.id, error=True) == 1
    result = waiter.result()
    assert isinstance(result, redis.ResponseError) and str(result) == "UNBLOCKED client unblocked via CLIENT UNBLOCK"
    assert r2.client_unblock(r2.client_id()) == 0 and r2.client_unblock(999_999) == 0
    assert err(r2.execute_command, "CLIENT", "UNBLOCK", "1", "MAYBE") == "CLIENT UNBLOCK reason should be TIMEOUT or ERROR"


def test_a_closed_client_is_no_longer_served(server, r2):
    sock = socket.create_connection((server.host, server.port))
    sock.sendall(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
    wait_until(lambda: r2.info("clients")["blocked_clients"] == 1, message="the raw client to block")
    sock.close()
    wait_until(lambda: r2.info("clients")["blocked_clients"] == 0, message="the closed client to be dropped")
    assert r2.rpush("q", "kept") == 1
    assert r2.lrange("q", 0, -1) == [b"kept"]


def test_a_key_of_another_type_keeps_clients_blocked(server, r2):
    waiter = block(server, r2, "BLPOP", "q", "0")
    r2.set("q", "a string")
    r2.delete("q")
    r2.sadd("q", "member")
    assert not waiter.done()
    r2.delete("q")
    r2.rpush("q", "item")
    assert waiter.result() in ([b"q", b"item"], (b"q", b"item"))


def test_blmpop_and_brpoplpush_are_served(server, r2):
    multi = block(server, r2, "BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2")
    assert r2.rpush("b", "1", "2", "3") == 3
    assert multi.result() == [b"b", [b"3", b"2"]]
    mover = block(server, r2, "BRPOPLPUSH", "src", "dst", "0")
    r2.rpush("src", "x")
    assert mover.result() == b"x" and r2.lrange("dst", 0, -1) == [b"x"]
