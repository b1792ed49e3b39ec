"""Helpers shared by the collection tests (test_hashes.py, test_sets.py, test_types_common.py)."""

from __future__ import annotations

import subprocess

import pytest
from redis.exceptions import ResponseError

from conftest import wait_until

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


def err(fn, *args, **kw) -> str:
    """The text of the error `fn(*args)` replies (redis-py drops the leading '-')."""
    with pytest.raises(ResponseError) as e:
        fn(*args, **kw)
    return str(e.value)


def wrongtype(fn, *args, **kw) -> None:
    assert err(fn, *args, **kw) == WRONGTYPE


def cli(server, *args: str) -> str:
    """redis-cli's output for one command, as a user sees it (no TTY: raw replies, one per line)."""
    result = subprocess.run(["redis-cli", "-h", server.host, "-p", str(server.port), *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def keyspace_events(server, flags: str, actions) -> list[tuple[bytes, bytes]]:
    """The `__keyevent@0__:*` notifications `actions(client)` causes with `notify-keyspace-events flags`, in order,
    as (event, key); a SET of a marker key ends the collection."""
    with server.client() as r, server.client() as listener:
        r.config_set("notify-keyspace-events", flags + "E$")
        try:
            pubsub = listener.pubsub()
            pubsub.psubscribe("__keyevent@0__:*")
            wait_until(lambda: pubsub.get_message(timeout=0.1), message="the psubscribe confirmation")
            actions(r)
            r.set("__end__", "1")
            events = []
            while not events or events[-1] != (b"set", b"__end__"):
                message = wait_until(lambda: pubsub.get_message(timeout=0.1), message=f"events after {events}")
                events.append((message["channel"].split(b":", 1)[1], message["data"]))
            pubsub.close()
            return [event for event in events[:-1] if event[1] != b"__end__"]
        finally:
            r.config_set("notify-keyspace-events", "")


def dump(client) -> dict:
    """The whole keyspace, type-aware: key -> (type, content), content being a string's value, a hash's dict, a
    set's members, a list's items or a sorted set's (member, score) pairs in order. TTLs are left out (compare them
    separately)."""
    result = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            result[key] = (kind, client.get(key))
        elif kind == "hash":
            result[key] = (kind, client.hgetall(key))
        elif kind == "set":
            result[key] = (kind, frozenset(client.smembers(key)))
        elif kind == "list":
            result[key] = (kind, tuple(client.lrange(key, 0, -1)))
        elif kind == "zset":
            result[key] = (kind, [tuple(pair) for pair in client.zrange(key, 0, -1, withscores=True)])
        else:
            result[key] = (kind, None)
    return result
