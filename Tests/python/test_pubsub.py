"""Pub/Sub: redis-cli subscribers in their own processes, redis-py in RESP2 and RESP3, fan-out across event loops,
and slow subscribers that must not take the server down."""

from __future__ import annotations

import socket
import subprocess
import time

import pytest
import redis

from conftest import Raw, encode, rss_bytes, start_server


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


def messages_until_marker(client, pubsub, channel: bytes, marker: bytes = b"<end>") -> list:
    """Every message before a marker that `client` publishes to `channel` (which `pubsub` must receive): messages are
    delivered in publish order, so nothing before the marker is still on its way. No quiet period to wait out."""
    client.publish(channel, marker)
    messages = []
    while (message := next_message(pubsub, timeout=10)) is not None:
        if (message["channel"], message["data"]) == (channel, marker):
            return messages
        messages.append(message)
    raise AssertionError(f"the marker never came; got {messages}")


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


# --- Output buffer limits ----------------------------------------------------------------------------------------
# A subscriber that never reads makes the server buffer its messages. Redis's rule (client-output-buffer-limit
# pubsub 32mb 8mb 60) cuts it off once that unsent output passes the hard limit, or stays above the soft limit for the
# soft period. The kernel holds some of what was published (the server's send queue, the subscriber's receive queue),
# so these tests read both queues from /proc/net/tcp to say how much the server itself held.

MB = 1 << 20
PUBSUB_DEFAULT = "pubsub 33554432 8388608 60"
PAYLOAD = b"x" * 4000  # several messages per 16 KB reply block, so Redis counts about the bytes on the wire


def message_bytes(channel: bytes, payload: bytes) -> int:
    """Size of one RESP2 `message` push: what the output limits count."""
    return len(b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(channel), channel, len(payload), payload))


def tcp_queues(port_a: int, port_b: int) -> dict[tuple[int, int], tuple[int, int]]:
    """(send queue, receive queue) in bytes of both ends of the loopback TCP connection between two ports, keyed by
    (local port, remote port)."""
    found = {}
    with open("/proc/net/tcp") as table:  # the servers listen on 127.0.0.1
        next(table)
        for line in table:
            fields = line.split()
            ends = tuple(int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
            if ends in ((port_a, port_b), (port_b, port_a)):
                found[ends] = tuple(int(queue, 16) for queue in fields[4].split(":"))
    assert len(found) == 2, f"no TCP connection {port_a} <-> {port_b}"
    return found


class SlowSubscriber:
    """A subscriber that never reads, with a small receive buffer so that the server's output backs up at once."""

    def __init__(self, server, channel: bytes):
        self.server, self.channel = server, channel
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((server.host, server.port))
        self.sock.sendall(encode("SUBSCRIBE", channel))
        self.published = 0  # bytes of the messages published to it

    def kernel_queues(self) -> tuple[int, int]:
        """(server socket's send queue, this socket's receive queue) in bytes. The kernel holds at least the larger
        and at most the sum of the two for this connection (a byte not yet acknowledged may be in both)."""
        port = self.sock.getsockname()[1]
        queues = tcp_queues(self.server.port, port)
        return queues[(self.server.port, port)][0], queues[(port, self.server.port)][1]

    def close(self):
        self.sock.close()


def is_subscribed(client, channel: bytes) -> bool:
    return client.pubsub_numsub(channel) == [(channel, 1)]


class DeliveryBarrier:
    """Readers subscribed on every event loop of the server. kvnode hands a message to each loop as a task, in
    publish order; once every reader has a marker published after some messages, every loop has written those
    messages to its connections (and applied the output limits). Redis needs no barrier: PUBLISH does it all."""

    def __init__(self, server, publisher):
        loops = int(publisher.config_get("io-threads")["io-threads"])
        # Connections are spread over the loops round-robin: twice as many readers as loops reach every loop, even if
        # another connection is accepted in between.
        self.readers = [Raw(server.host, server.port) for _ in range(2 * loops + 1)]
        for reader in self.readers:
            reader.cmd("SUBSCRIBE", "barrier")
        self.publisher = publisher
        self.markers = 0

    def wait(self):
        self.markers += 1
        marker = b"%d" % self.markers
        assert self.publisher.publish("barrier", marker) == len(self.readers)
        for reader in self.readers:
            assert reader.reply() == b"*3\r\n$7\r\nmessage\r\n$7\r\nbarrier\r\n$%d\r\n%s\r\n" % (len(marker), marker)

    def close(self):
        for reader in self.readers:
            reader.close()


def publish(publisher, subscriber: SlowSubscriber, count: int, payload: bytes = PAYLOAD) -> None:
    """Publishes `count` messages to the subscriber's channel in one pipeline."""
    with publisher.pipeline(transaction=False) as pipe:
        for _ in range(count):
            pipe.publish(subscriber.channel, payload)
        pipe.execute()
    subscriber.published += count * message_bytes(subscriber.channel, payload)


def fill(publisher, barrier: DeliveryBarrier, subscriber: SlowSubscriber, target) -> None:
    """Publishes to `subscriber` until it has been sent `target(kernel queues)` bytes. The kernel takes its share
    first, growing its buffers as they fill, so this goes in rounds."""
    frame = message_bytes(subscriber.channel, PAYLOAD)
    for _ in range(1000):
        missing = target(subscriber.kernel_queues()) - subscriber.published
        if missing <= 0:
            return
        publish(publisher, subscriber, -(-missing // frame))
        barrier.wait()
    raise AssertionError(f"kernel queues still growing: {subscriber.kernel_queues()}")


def test_a_subscriber_that_stops_reading_is_disconnected_at_the_hard_limit(server, r2):
    hard = 32 * MB
    batch = 64  # messages between checks
    batch_bytes = batch * message_bytes(b"flood", PAYLOAD)
    assert r2.config_get("client-output-buffer-limit")["client-output-buffer-limit"].endswith(PUBSUB_DEFAULT)
    barrier = DeliveryBarrier(server, r2)
    slow = SlowSubscriber(server, b"flood")
    try:
        assert wait_for(lambda: is_subscribed(r2, b"flood"))
        baseline = peak = rss_bytes(server.pid)
        kernel = (0, 0)
        with server.client() as bystander:
            for _ in range((hard + 16 * MB) // batch_bytes):  # the limit, plus more than the kernel buffers
                publish(r2, slow, batch)
                barrier.wait()
                if not is_subscribed(r2, b"flood"):
                    break
                if slow.published >= hard - 8 * MB:  # more than the kernel holds: measure it while still connected
                    kernel = slow.kernel_queues()
                peak = max(peak, rss_bytes(server.pid))
                assert bystander.ping()
            else:
                raise AssertionError(f"not disconnected after {slow.published >> 20} MB")
            assert bystander.set("still", "works") and bystander.get("still") == b"works"
        sent, received = kernel
        # Cut off once the unsent output the server held passed 32 MB: not before...
        assert slow.published >= hard + max(sent, received), (slow.published, kernel)
        # ... and not much later: within the batch that crossed it, or the next (which sees the close).
        assert slow.published <= hard + sent + received + 2 * batch_bytes, (slow.published, kernel)
        # What one subscriber makes the server hold is bounded by the limit.
        assert peak - baseline < 3 * hard, f"RSS grew by {(peak - baseline) >> 20} MB"
    finally:
        slow.close()
        barrier.close()


def test_a_subscriber_above_the_soft_limit_for_the_soft_period_is_disconnected():
    soft, period = 1 * MB, 2.0
    with start_server() as srv, srv.client() as publisher:
        assert publisher.config_set("client-output-buffer-limit", "pubsub 32mb 1mb 2")
        barrier = DeliveryBarrier(srv, publisher)
        above, below = SlowSubscriber(srv, b"above"), SlowSubscriber(srv, b"below")
        try:
            assert wait_for(lambda: is_subscribed(publisher, b"above") and is_subscribed(publisher, b"below"))
            started = time.monotonic()  # no soft-limit clock can have started before
            # `above` gets more than 1.5 MB of unsent output in the server even if the kernel held all it could...
            fill(publisher, barrier, above, lambda kernel: soft + soft // 2 + sum(kernel))
            assert is_subscribed(publisher, b"above")  # far below the hard limit
            # ... and `below` more than 128 KB, but less than 1 MB even if the kernel held nothing of it.
            fill(publisher, barrier, below, lambda kernel: 128 * 1024 + sum(kernel))
            below_filled = time.monotonic()
            assert below.published - max(below.kernel_queues()) < soft
            # Messages keep coming: each one checks the limits.
            deadline = started + period + 30
            while is_subscribed(publisher, b"above"):
                assert time.monotonic() < deadline, "the subscriber above the soft limit was never disconnected"
                publish(publisher, above, 1, b"tick")
                publish(publisher, below, 1, b"tick")
                barrier.wait()
                time.sleep(0.05)
            assert time.monotonic() - started >= period  # not before the soft period was over
            # Below the soft limit, a subscriber stays however long it lasts.
            while time.monotonic() < below_filled + period + 0.5:
                publish(publisher, below, 1, b"tick")
                barrier.wait()
                time.sleep(0.05)
            assert is_subscribed(publisher, b"below")
        finally:
            above.close()
            below.close()
            barrier.close()


CONFIG_SET_FAILED = b"-ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - "


@pytest.mark.parametrize("value, error", [
    ("pubsub 32mb 1mb", b"Wrong number of arguments in buffer limit configuration."),
    ("pubsub  1 1 1", b"Wrong number of arguments in buffer limit configuration."),  # two spaces: an empty argument
    (" ", b"Wrong number of arguments in buffer limit configuration."),
    ("master 1 1 1", b"Invalid client class specified in buffer limit configuration."),
    ("pubsub 1 1 1 foo 1 1 1", b"Invalid client class specified in buffer limit configuration."),
    ("pubsub x 1 1", b"Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub 1 -1 1", b"Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub +1 1 1", b"Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub 1.5mb 1 1", b"Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub 1 1 x", b"Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub 1 1 -5", b"Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub 1 1 1k", b"Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub 1 1 2147483648", b"Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ("pubsub x 1 1 foo 1 1 1", b"Error in hard, soft or soft_seconds setting in buffer limit configuration."),
])
def test_client_output_buffer_limit_refused_values(raw, value, error):
    c = raw()
    before = c.cmd("CONFIG", "GET", "client-output-buffer-limit")
    assert c.cmd("CONFIG", "SET", "client-output-buffer-limit", value) == CONFIG_SET_FAILED + error + b"\r\n"
    assert c.cmd("CONFIG", "GET", "client-output-buffer-limit") == before  # all or nothing


def test_client_output_buffer_limit_set_and_get():
    with start_server() as srv, srv.client() as r:
        def current():
            return r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]

        assert current() == "normal 0 0 0 slave 268435456 67108864 60 " + PUBSUB_DEFAULT
        for value, expected in [
            ("pubsub 32mb 1mb 2", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 1048576 2"),
            ("PUBSUB 1KB 1Gb +3", "normal 0 0 0 slave 268435456 67108864 60 pubsub 1024 1073741824 3"),
            ("replica 1k 2m 03", "normal 0 0 0 slave 1000 2000000 3 pubsub 1024 1073741824 3"),
            ("Slave 0 0 0 pubsub 01 1b -0", "normal 0 0 0 slave 0 0 0 pubsub 1 1 0"),
            ("pubsub 5 5 5 pubsub 6 6 6", "normal 0 0 0 slave 0 0 0 pubsub 6 6 6"),  # the last of a class wins
            ("pubsub 7  7", "normal 0 0 0 slave 0 0 0 pubsub 7 0 7"),  # an empty size reads as 0
            ("", "normal 0 0 0 slave 0 0 0 pubsub 7 0 7"),  # nothing to change
            ("normal 0 0 0", "normal 0 0 0 slave 0 0 0 pubsub 7 0 7"),
            ("pubsub 0 0 0", "normal 0 0 0 slave 0 0 0 pubsub 0 0 0"),  # no limit at all
        ]:
            assert r.config_set("client-output-buffer-limit", value), value
            assert current() == expected, value
        # All or nothing, across parameters too.
        with pytest.raises(redis.ResponseError, match="maxclients"):
            r.config_set("client-output-buffer-limit", "pubsub 1 1 1", "maxclients", "0")
        assert current() == "normal 0 0 0 slave 0 0 0 pubsub 0 0 0"


@pytest.mark.kvnode_only
def test_client_output_buffer_limit_of_normal_clients_is_none(raw):
    c = raw()
    assert c.cmd("CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 0 0") == CONFIG_SET_FAILED + (
        b"kvnode does not limit the output of normal clients; the normal class must be 0 0 0\r\n")
    assert c.cmd("CONFIG", "SET", "client-output-buffer-limit", "normal 1 1 1 normal 0 0 0") == b"+OK\r\n"


@pytest.fixture(scope="module")
def notify_server():
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
        events = [(m["channel"], m["data"]) for m in messages_until_marker(r, pubsub, b"__keyspace@0__:marker")]
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
    r2.delete("quiet")
    assert messages_until_marker(r2, pubsub, b"__keyevent@0__:marker") == []
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
        events = [(m["channel"].split(b":", 1)[1], m["data"])
                  for m in messages_until_marker(r, pubsub, b"__keyevent@0__:marker")]
        assert events == [
            (b"incrby", b"counter"), (b"incrbyfloat", b"counter"), (b"append", b"text"), (b"setrange", b"text"),
            (b"expire", b"text"), (b"persist", b"text"), (b"rename_from", b"text"), (b"rename_to", b"moved"),
            (b"copy_to", b"copied"), (b"del", b"copied"), (b"set", b"temp"), (b"expire", b"temp"),
            (b"del", b"temp"),
        ]
        pubsub.close()


def test_new_events_are_opt_in(server):
    with start_server("--notify-keyspace-events", "KEn") as srv, srv.client() as r:
        pubsub = r.pubsub()
        pubsub.subscribe("__keyevent@0__:new")
        assert wait_for(lambda: r.pubsub_numsub("__keyevent@0__:new") == [(b"__keyevent@0__:new", 1)])
        r.set("fresh", "1")
        r.set("fresh", "2")  # exists already: no second "new"
        r.incr("counter")
        events = [m["data"] for m in messages_until_marker(r, pubsub, b"__keyevent@0__:new")]
        assert events == [b"fresh", b"counter"]
        pubsub.close()
