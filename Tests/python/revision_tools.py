"""Helpers for the revision and KV.WATCH tests: a watching connection over redis-py (RESP2 or RESP3), the change log
as plain tuples, and what replaying it gives."""

from __future__ import annotations

import fnmatch
import time
from typing import Iterable, NamedTuple

import redis

from conftest import Server


class Event(NamedTuple):
    """One `kv.event` frame (or one KV.HISTORY entry, with the key added): what a watcher learns of a change."""
    revision: int
    op: bytes
    key: bytes
    value: bytes | None


def event_of(frame: list) -> Event:
    assert frame[0] == b"kv.event" and len(frame) in (6, 7), f"not an event frame: {frame!r}"
    return Event(frame[2], frame[3], frame[4], frame[5])


class Watch:
    """One connection that watches: redis-py's Connection, reading frames with `read_response(push_request=True)`,
    which returns a RESP3 push instead of handing it to a push handler, and a RESP2 frame as the array it is."""

    def __init__(self, server: Server, protocol: int, timeout: float = 20.0):
        self.protocol = protocol
        self.conn = redis.Connection(host=server.host, port=server.port, protocol=protocol, socket_timeout=timeout)
        self.conn.connect()

    def send(self, *args) -> None:
        self.conn.send_command(*args)

    def start(self, *args) -> tuple[int, int]:
        """Sends `KV.WATCH args...` and reads its acknowledgement: the watch's id and the revision it starts after.
        Raises redis's ResponseError when the server refuses the watch."""
        self.send("KV.WATCH", *args)
        frame = self.frame()
        assert frame is not None and frame[0] == b"kv.watch" and len(frame) == 3, f"KV.WATCH replied {frame!r}"
        return frame[1], frame[2]

    def frame(self, timeout: float | None = None) -> list | None:
        """The next frame or reply; None when nothing came within `timeout` (None: the socket's timeout, then fail)."""
        try:
            if timeout is None:
                return self.conn.read_response(push_request=True, disconnect_on_error=False)
            return self.conn.read_response(push_request=True, timeout=timeout, disconnect_on_error=False)
        except redis.TimeoutError:
            if timeout is None:
                raise
            return None

    def close(self) -> None:
        self.conn.disconnect()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_log(server: Server, through: int, *, start: int = 1, protocol: int = 3, deadline: float = 60.0) -> list[Event]:
    """Every event of the change log from revision `start` through `through`, by a `KV.WATCH PREFIX "" FROM start`
    of its own. It knows the replay is complete when a `kv.progress` frame reaches `through`: the server must run
    with a short `--watch-progress-interval-ms`, and nothing may write meanwhile."""
    events: list[Event] = []
    with Watch(server, protocol) as watch:
        watch.start("PREFIX", "", "FROM", start)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            frame = watch.frame(timeout=max(0.0, end - time.monotonic()))
            if frame is None:
                break
            if frame[0] == b"kv.event":
                events.append(event_of(frame))
            elif frame[0] == b"kv.progress" and frame[2] >= through:
                assert frame[2] == through, f"progress {frame[2]} passes the expected end {through}: something wrote"
                return events
            elif frame[0] != b"kv.progress":
                raise AssertionError(f"unexpected frame in a replay: {frame!r}")
    raise AssertionError(f"the log's replay did not reach revision {through} in {deadline:g}s "
                         f"(last event {events[-1] if events else None})")


def matches(kind: str, argument: bytes, event: Event) -> bool:
    """Whether a watch `KV.WATCH kind argument` receives `event` (a FLUSHDB concerns every watch)."""
    if event.op == b"flush":
        return True
    if kind == "KEY":
        return event.key == argument
    if kind == "PREFIX":
        return event.key.startswith(argument)
    assert kind == "PATTERN"
    return fnmatch.fnmatchcase(event.key.decode("latin-1"), argument.decode("latin-1"))


def replay(events: Iterable[Event], state: dict[bytes, bytes] | None = None) -> dict[bytes, bytes]:
    """The keyspace the events leave behind, starting from `state` (empty by default)."""
    state = dict(state or {})
    for event in events:
        if event.op == b"set":
            state[event.key] = event.value
        elif event.op in (b"del", b"expired"):
            assert event.key in state, f"{event} deletes a key the events never set"
            del state[event.key]
        elif event.op == b"flush":
            state.clear()
        else:
            raise AssertionError(f"unknown operation in {event}")
    return state


def history(client: redis.Redis, key: bytes, *args) -> list[Event]:
    """`KV.HISTORY key args...` as events."""
    return [Event(revision, op, key, value)
            for revision, op, value in client.execute_command("KV.HISTORY", key, *args)]


def current_keyspace(client: redis.Redis) -> dict[bytes, bytes]:
    """Every key and its value, read with KEYS and MGET (a RESP2 client, so KEYS gives a list)."""
    keys = client.keys("*")
    return dict(zip(keys, client.mget(keys))) if keys else {}


def revision(client: redis.Redis) -> tuple[int, int]:
    """`KV.REVISION`: the current revision and the oldest retained one, in either protocol."""
    reply = client.execute_command("KV.REVISION")
    fields = reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2]))
    return fields[b"current"], fields[b"oldest"]


def kv_get(client: redis.Redis, key, *args) -> dict[bytes, object] | None:
    """`KV.GET key args...` as a dict, from RESP3's map or RESP2's field/value array."""
    reply = client.execute_command("KV.GET", key, *args)
    if reply is None or isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2]))


def parse_resp(data: bytes) -> tuple[list, bytes]:
    """Every complete RESP2/RESP3 reply in `data` (pushes and arrays as lists, maps as dicts, errors as
    ResponseError instances), and the incomplete rest."""
    replies, position = [], 0
    while True:
        try:
            reply, end = _parse_one(data, position)
        except IndexError:
            return replies, data[position:]
        replies.append(reply)
        position = end


def _parse_one(data: bytes, position: int):
    line_end = data.find(b"\r\n", position)
    if line_end < 0:
        raise IndexError("incomplete")
    kind, rest, after = data[position:position + 1], data[position + 1:line_end], line_end + 2
    if kind in (b"+",):
        return rest, after
    if kind == b"-":
        return redis.ResponseError(rest.decode()), after
    if kind == b":":
        return int(rest), after
    if kind == b"_":
        return None, after
    if kind in (b"$", b"="):
        length = int(rest)
        if length < 0:
            return None, after
        if len(data) < after + length + 2:
            raise IndexError("incomplete")
        return data[after:after + length], after + length + 2
    if kind in (b"*", b">", b"~", b"%"):
        count = int(rest)
        if count < 0:
            return None, after
        items = []
        for _ in range(count * (2 if kind == b"%" else 1)):
            item, after = _parse_one(data, after)
            items.append(item)
        return (dict(zip(items[::2], items[1::2])) if kind == b"%" else items), after
    raise AssertionError(f"unexpected RESP type {kind!r} at {position}")
