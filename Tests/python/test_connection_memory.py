"""A closed connection gives back all of its memory.

Each test starts a fresh server, warms it up with a few hundred connections, takes the settled RSS as its baseline,
then opens and abandons thousands of connections and polls (bounded) until the server's RSS is back within 10 MB of
that baseline. Before the fix every connection ever closed stayed in memory (10,000 bare connections: +97 MB; 2,000
abandoned half-sent 500 KB bulks: +600 MB or more).

kvnode-only: it reads the RSS of the kvnode process the test started, from /proc (Linux).
"""

from __future__ import annotations

import socket
import time

import pytest

from conftest import Raw, encode, rss_bytes, start_server

pytestmark = [
    pytest.mark.kvnode_only,
    # Thousands of connections on a busy 2-core machine, then up to SETTLE_SECONDS of polling.
    pytest.mark.timeout(300),
]

MB = 1 << 20
ALLOWED_GROWTH = 10 * MB
# Upper bound for the server to hand freed memory back (it does so every few seconds).
SETTLE_SECONDS = 60.0

HALF_BULK = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000\r\n" + b"x" * 250_000


def settled_rss(pid: int, seconds: float = 12.0) -> int:
    """The lowest RSS seen while polling for `seconds` (long enough for the server's periodic release)."""
    lowest = rss_bytes(pid)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.25)
        lowest = min(lowest, rss_bytes(pid))
    return lowest


def wait_for_rss_at_most(pid: int, limit: int) -> int:
    """Polls until RSS <= limit or SETTLE_SECONDS pass; returns the last reading."""
    deadline = time.monotonic() + SETTLE_SECONDS
    current = rss_bytes(pid)
    while current > limit and time.monotonic() < deadline:
        time.sleep(0.25)
        current = rss_bytes(pid)
    return current


def connect(srv) -> socket.socket:
    return socket.create_connection((srv.host, srv.port), timeout=10)


def bare_connections(srv, count: int) -> None:
    for _ in range(count):
        connect(srv).close()


def abandoned_half_bulks(srv, count: int) -> None:
    """Each connection sends half of a 500 KB SET value and leaves."""
    for _ in range(count):
        with connect(srv) as sock:
            sock.sendall(HALF_BULK)


def abandoned_subscribers(srv, count: int) -> None:
    """Each connection subscribes to two channels and leaves."""
    for _ in range(count):
        with Raw(srv.host, srv.port) as c:
            c.send(encode("SUBSCRIBE", "news", "sports"))
            assert c.reply().endswith(b":1\r\n") and c.reply().endswith(b":2\r\n")


def abandoned_transactions(srv, count: int) -> None:
    """Each connection WATCHes keys, opens MULTI, queues a SET of a 50 KB value and leaves."""
    value = b"v" * 50_000
    for i in range(count):
        with Raw(srv.host, srv.port) as c:
            key = b"watched:%d" % (i % 100)
            assert c.cmd("WATCH", key, "shared") == b"+OK\r\n"
            assert c.cmd("MULTI") == b"+OK\r\n"
            assert c.cmd("SET", key, value) == b"+QUEUED\r\n"


def info_field(c: Raw, name: str) -> str:
    text = c.cmd("INFO", "everything").decode()
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"INFO has no {name}")


def wait_until_only_probe_connected(srv) -> None:
    """Polls (bounded) until the server has seen every close: connected_clients counts only this probe."""
    with Raw(srv.host, srv.port) as probe:
        deadline = time.monotonic() + SETTLE_SECONDS
        connected = info_field(probe, "connected_clients")
        while connected != "1" and time.monotonic() < deadline:
            time.sleep(0.1)
            connected = info_field(probe, "connected_clients")
        assert connected == "1"


def assert_memory_returns(srv, warm_up, churn) -> None:
    warm_up(srv)
    wait_until_only_probe_connected(srv)
    baseline = settled_rss(srv.pid)
    churn(srv)
    wait_until_only_probe_connected(srv)
    after = wait_for_rss_at_most(srv.pid, baseline + ALLOWED_GROWTH)
    assert after <= baseline + ALLOWED_GROWTH, (
        f"RSS {after / MB:.1f} MB is {(after - baseline) / MB:.1f} MB above the baseline of {baseline / MB:.1f} MB "
        f"{SETTLE_SECONDS:.0f} s after the connections closed")


def test_bare_and_half_bulk_connections_return_their_memory():
    def warm_up(srv):
        bare_connections(srv, 300)
        abandoned_half_bulks(srv, 50)

    def churn(srv):
        bare_connections(srv, 10_000)
        abandoned_half_bulks(srv, 2_000)

    with start_server() as srv:
        assert_memory_returns(srv, warm_up, churn)


def test_subscribers_that_disconnect_return_their_memory():
    with start_server() as srv:
        assert_memory_returns(srv, lambda s: abandoned_subscribers(s, 300), lambda s: abandoned_subscribers(s, 3_000))
        with Raw(srv.host, srv.port) as c:
            assert c.cmd("PUBSUB", "NUMSUB", "news", "sports") == (
                b"*4\r\n$4\r\nnews\r\n:0\r\n$6\r\nsports\r\n:0\r\n")


def test_transactions_with_watches_that_disconnect_return_their_memory():
    with start_server() as srv:
        assert_memory_returns(srv, lambda s: abandoned_transactions(s, 300), lambda s: abandoned_transactions(s, 2_000))
        with Raw(srv.host, srv.port) as c:
            deadline = time.monotonic() + SETTLE_SECONDS  # the last close may still be on another event loop
            while info_field(c, "total_watched_keys") != "0" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert info_field(c, "total_watched_keys") == "0"
            assert c.cmd("EXISTS", "watched:1", "shared") == b":0\r\n"  # no queued SET ran


def test_a_huge_write_does_not_pin_its_staging_memory():
    """A 64 MB SET then DEL: the write batch and scratch buffers that held it are given back after the commit.

    LevelDB itself may keep a copy of each entry (the record and its change-log event) in its memtable or block
    cache until later writes push it out, so up to 3x the value may stay; before the fix the staging (batch, event
    and record scratch buffers, on top of LevelDB's copies) kept about 6x.
    """
    value_size = 64 * MB
    with start_server() as srv:
        baseline = settled_rss(srv.pid, seconds=2.0)
        with Raw(srv.host, srv.port, timeout=60) as raw:
            assert raw.cmd("SET", "huge", b"x" * value_size) == b"+OK\r\n"
            assert raw.cmd("DEL", "huge") == b":1\r\n"
        limit = baseline + 3 * value_size
        assert wait_for_rss_at_most(srv.pid, limit) <= limit
