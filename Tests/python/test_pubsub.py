"""Pub/Sub: redis-cli subscribers in their own processes, redis-py in RESP2 and RESP3, fan-out across event loops,
and slow subscribers that must not take the server down."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time

import pytest
import redis

from conftest import TARGET, Raw, encode


def wait_for(predicate, timeout=10.0, interval=0.02):
    """Polls `predicate` until it is true or `timeout` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def next_message(pubsub, timeout=5.0):
    """The next published message (subscribe confirmations skipped), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            return message
    return None


def test_redis_cli_subscriber_and_publisher_in_separate_processes(server):
    subscriber = subprocess.Popen(
        ["redis-cli", "-p", str(server.port), "SUBSCRIBE", "news"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    try:
        with server.client() as publisher:
            assert wait_for(lambda: publisher.pubsub_numsub("news") == [(b"news", 1)])
            assert subprocess.run(["redis-cli", "-p", str(server.port), "PUBLISH", "news", "hello"],
                                  capture_output=True, text=True, check=True).stdout.strip() == "1"
            assert publisher.publish("news", "world") == 1
        lines = []
        for _ in range(9):  # subscribe confirmation + two messages, three lines each
            lines.append(subscriber.stdout.readline().strip())
        assert lines == ["subscribe", "news", "1", "message", "news", "hello", "message", "news", "world"]
    finally:
        subscriber.kill()
        subscriber.wait()


@pytest.mark.parametrize("protocol", [2, 3])
def test_subscribe_get_message_and_psubscribe(server, protocol):
    with server.client(protocol=protocol) as r:
        pubsub = r.pubsub()
        pubsub.subscribe("orders")
        pubsub.psubscribe("user:*")
        assert wait_for(lambda: r.pubsub_numpat() == 1)
        assert r.publish("orders", "o1") == 1
        assert r.publish("user:7", "u7") == 1
        assert r.publish("nobody", "x") == 0
        first = next_message(pubsub)
        assert first["type"] == "message" and first["channel"] == b"orders" and first["data"] == b"o1"
        second = next_message(pubsub)
        assert second["type"] == "pmessage" and second["pattern"] == b"user:*"
        assert second["channel"] == b"user:7" and second["data"] == b"u7"
        pubsub.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_listen_receives_messages_in_publish_order(server, protocol):
    with server.client(protocol=protocol) as r:
        pubsub = r.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe("seq")
        assert wait_for(lambda: r.pubsub_numsub("seq") == [(b"seq", 1)])
        for index in range(200):
            r.publish("seq", str(index))
        received = []
        for message in pubsub.listen():
            if message["type"] == "message":
                received.append(int(message["data"]))
            if len(received) == 200:
                break
        assert received == list(range(200))
        pubsub.close()


def test_pubsub_introspection(r2):
    pubsub = r2.pubsub()
    pubsub.subscribe("alpha", "beta")
    pubsub.psubscribe("a*", "b*")
    assert wait_for(lambda: r2.pubsub_numpat() == 2)
    assert sorted(r2.pubsub_channels()) == [b"alpha", b"beta"]
    assert r2.pubsub_channels("a*") == [b"alpha"]
    assert r2.pubsub_numsub("alpha", "gamma") == [(b"alpha", 1), (b"gamma", 0)]
    pubsub.close()
    assert wait_for(lambda: r2.pubsub_numpat() == 0)


def test_shard_channels_behave_like_plain_channels(server, raw):
    raw = raw()
    raw.send(encode("SSUBSCRIBE", "shard"))
    assert raw.reply() == b"*3\r\n$10\r\nssubscribe\r\n$5\r\nshard\r\n:1\r\n"
    with server.client() as r:
        assert r.execute_command("SPUBLISH", "shard", "hi") == 1
        assert r.execute_command("PUBSUB", "SHARDCHANNELS") == [b"shard"]
        assert r.execute_command("PUBSUB", "SHARDNUMSUB", "shard") == [b"shard", 1]
    assert raw.reply() == b"*3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$2\r\nhi\r\n"


def test_resp2_subscribed_connection_accepts_only_subscription_commands(raw):
    raw = raw()
    raw.send(encode("SUBSCRIBE", "a", "b"))
    assert raw.reply() == b"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
    assert raw.reply() == b"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
    assert raw.cmd("GET", "x") == (b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / "
                                   b"QUIT / RESET are allowed in this context\r\n")
    assert raw.cmd("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    assert raw.cmd("PING", "hi") == b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
    raw.send(encode("UNSUBSCRIBE"))
    replies = {raw.reply(), raw.reply()}
    assert replies == {b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n",
                       b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"} or \
        replies == {b"*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n",
                    b"*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n"}
    # Nothing left: one reply with a null channel.
    assert raw.cmd("UNSUBSCRIBE") == b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    assert raw.cmd("PUNSUBSCRIBE") == b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
    # Unsubscribed again: every command works.
    assert raw.cmd("GET", "x") == b"$-1\r\n"


def test_resp3_subscribed_connection_runs_every_command_and_gets_pushes(raw):
    raw = raw()
    raw.cmd("HELLO", "3")
    assert raw.cmd("SUBSCRIBE", "a") == b">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
    assert raw.cmd("GET", "x") == b"_\r\n"
    assert raw.cmd("PING") == b"+PONG\r\n"
    # Publishing to itself: the push comes first, then PUBLISH's own reply, as in Redis.
    raw.send(encode("PUBLISH", "a", "hi"))
    assert raw.reply() == b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"
    assert raw.reply() == b":1\r\n"
    assert raw.cmd("UNSUBSCRIBE") == b">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n"
    assert raw.cmd("UNSUBSCRIBE") == b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n"


def test_closing_a_connection_drops_its_subscriptions(server, r2):
    with Raw(server.host, server.port) as sub:
        sub.cmd("SUBSCRIBE", "gone")
        sub.cmd("PSUBSCRIBE", "gone*")
        assert r2.pubsub_numsub("gone") == [(b"gone", 1)]
    assert wait_for(lambda: r2.pubsub_numsub("gone") == [(b"gone", 0)] and r2.pubsub_numpat() == 0)
    assert r2.publish("gone", "x") == 0


def test_publish_reaches_1000_subscribers_on_every_event_loop(server, r2):
    subscribers = []
    try:
        for _ in range(1000):
            s = socket.create_connection((server.host, server.port))
            s.sendall(encode("SUBSCRIBE", "fanout"))
            subscribers.append(s)
        assert wait_for(lambda: r2.pubsub_numsub("fanout") == [(b"fanout", 1000)], timeout=30)
        confirmation = b"*3\r\n$9\r\nsubscribe\r\n$6\r\nfanout\r\n:1\r\n"
        messages = [b"m%d" % i for i in range(20)]
        for message in messages:
            assert r2.publish("fanout", message) == 1000
        expected = confirmation + b"".join(
            b"*3\r\n$7\r\nmessage\r\n$6\r\nfanout\r\n$%d\r\n%s\r\n" % (len(m), m) for m in messages)
        for s in subscribers:
            s.settimeout(10)
            received = b""
            while len(received) < len(expected):
                chunk = s.recv(65536)
                assert chunk, "subscriber disconnected"
                received += chunk
            assert received == expected
    finally:
        for s in subscribers:
            s.close()


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.kvnode_only
def test_a_subscriber_that_stops_reading_is_disconnected_and_memory_stays_bounded(server, r2):
    slow = socket.socket()
    # A small receive buffer, so the server's output backs up quickly.
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect((server.host, server.port))
    slow.sendall(encode("SUBSCRIBE", "flood"))
    try:
        assert wait_for(lambda: r2.pubsub_numsub("flood") == [(b"flood", 1)])
        baseline = rss_bytes(server.pid)
        payload = b"x" * 65536
        peak = baseline
        disconnected = False
        with server.client() as bystander:
            for round_ in range(4000):  # up to 256 MB offered: far past the 32 MB hard limit
                receivers = r2.publish("flood", payload)
                if receivers == 0:
                    disconnected = True
                    break
                if round_ % 100 == 0:
                    peak = max(peak, rss_bytes(server.pid))
                    assert bystander.ping()
            assert disconnected, "the non-reading subscriber was never disconnected"
            assert bystander.set("still", "works") and bystander.get("still") == b"works"
        # The 32 MB hard limit bounds what one subscriber can make the server hold.
        assert peak - baseline < 128 * 1024 * 1024, f"RSS grew by {(peak - baseline) >> 20} MB"
    finally:
        slow.close()


@pytest.fixture(scope="module")
def notify_server():
    from conftest import start_server
    with start_server("--notify-keyspace-events", "KEA") as srv:
        yield srv


@pytest.mark.parametrize("protocol", [2, 3])
def test_keyspace_events_for_writes(notify_server, protocol):
    with notify_server.client(protocol=protocol) as r:
        r.flushdb()
        pubsub = r.pubsub()
        pubsub.psubscribe("__keyspace@0__:*")
        pubsub.subscribe("__keyevent@0__:del")
        assert wait_for(lambda: r.pubsub_numpat() == 1)
        r.set("k", "v")
        r.set("k", "v2", ex=100)
        r.mset({"a": "1", "b": "2"})
        r.delete("a", "missing")
        r.set("nx", "v", nx=True)
        r.set("nx", "v", nx=True)  # changes nothing: no event
        events = []
        while True:
            message = next_message(pubsub, timeout=1.0)
            if message is None:
                break
            events.append((message["channel"], message["data"]))
        assert events == [
            (b"__keyspace@0__:k", b"set"),
            (b"__keyspace@0__:k", b"set"),
            (b"__keyspace@0__:k", b"expire"),
            (b"__keyspace@0__:a", b"set"),
            (b"__keyspace@0__:b", b"set"),
            (b"__keyspace@0__:a", b"del"),
            (b"__keyevent@0__:del", b"a"),
            (b"__keyspace@0__:nx", b"set"),
        ]
        pubsub.close()


def test_expired_event_from_background_expiry(notify_server):
    with notify_server.client() as r:
        r.flushdb()
        pubsub = r.pubsub()
        pubsub.subscribe("__keyevent@0__:expired")
        assert wait_for(lambda: r.pubsub_numsub("__keyevent@0__:expired") == [(b"__keyevent@0__:expired", 1)])
        r.set("short", "lived", px=100)
        # Nobody reads the key: the background expirer must remove it and announce it.
        message = next_message(pubsub, timeout=10)
        assert message is not None and message["data"] == b"short"
        pubsub.close()


def test_notifications_are_off_by_default(r2):
    pubsub = r2.pubsub()
    pubsub.psubscribe("__key*__:*")
    assert wait_for(lambda: r2.pubsub_numpat() == 1)
    r2.set("quiet", "1")
    assert next_message(pubsub, timeout=0.5) is None
    pubsub.close()


def test_keyspace_events_of_the_string_and_key_families(notify_server):
    with notify_server.client() as r:
        r.flushdb()
        pubsub = r.pubsub()
        pubsub.psubscribe("__keyevent@0__:*")
        assert wait_for(lambda: r.pubsub_numpat() == 1)
        r.incr("counter")
        r.incrbyfloat("counter", 1.5)
        r.append("text", "abc")
        r.setrange("text", 1, "X")
        r.expire("text", 100)
        r.persist("text")
        r.rename("text", "moved")
        r.copy("moved", "copied")
        r.getdel("copied")
        r.execute_command("SETEX", "temp", 100, "v")
        r.expire("temp", -1)  # a past expiry deletes the key
        r.persist("counter")  # no expiry to remove: no event
        events = []
        while True:
            message = next_message(pubsub, timeout=1.0)
            if message is None:
                break
            events.append((message["channel"].split(b":", 1)[1], message["data"]))
        assert events == [
            (b"incrby", b"counter"), (b"incrbyfloat", b"counter"), (b"append", b"text"), (b"setrange", b"text"),
            (b"expire", b"text"), (b"persist", b"text"), (b"rename_from", b"text"), (b"rename_to", b"moved"),
            (b"copy_to", b"copied"), (b"del", b"copied"), (b"set", b"temp"), (b"expire", b"temp"),
            (b"del", b"temp"),
        ]
        pubsub.close()


def test_new_events_are_opt_in(server):
    from conftest import start_server
    with start_server("--notify-keyspace-events", "KEn") as srv, srv.client() as r:
        pubsub = r.pubsub()
        pubsub.subscribe("__keyevent@0__:new")
        assert wait_for(lambda: r.pubsub_numsub("__keyevent@0__:new") == [(b"__keyevent@0__:new", 1)])
        r.set("fresh", "1")
        r.set("fresh", "2")  # exists already: no second "new"
        r.incr("counter")
        events = []
        while (message := next_message(pubsub, timeout=1.0)) is not None:
            events.append(message["data"])
        assert events == [b"fresh", b"counter"]
        pubsub.close()
