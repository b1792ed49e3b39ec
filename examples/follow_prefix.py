#!/usr/bin/env python3
"""Follow every change under a key prefix with redis-py, surviving server restarts and dropped connections without
losing or repeating a change.

    python examples/follow_prefix.py --prefix orders: [--host 127.0.0.1] [--port 6379] [--state follow.state]

Each change is printed as one JSON line: {"revision": 12, "op": "set", "key": "orders:7", "value": "..."}.

How it resumes (docs/watch.md): the state file holds the last revision whose events were all processed, plus how many
events of the revision after it were. After any disconnection it watches again with FROM the first revision not
completely processed and skips the events of it already handled, so every change is handled exactly once. The first
time, or when the change log no longer reaches back that far (a COMPACTED error), it starts with INITIAL: the current
value of every key, then live changes (a connection lost before INITIAL's values are complete sends them again).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import redis


class Position:
    """How far the follower got: every event through `revision` handled, plus `handled` events of `revision + 1`."""

    def __init__(self, path: str):
        self.path = path
        self.revision: int | None = None
        self.handled = 0
        if os.path.exists(path):
            with open(path) as f:
                state = json.load(f)
            self.revision, self.handled = state["revision"], state["handled"]

    def save(self) -> None:
        temporary = self.path + ".tmp"
        with open(temporary, "w") as f:
            json.dump({"revision": self.revision, "handled": self.handled}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)

    def event_handled(self, revision: int) -> None:
        if revision != self.revision + 1:  # a new revision: everything before it is complete
            self.revision, self.handled = revision - 1, 0
        self.handled += 1
        self.save()

    def complete_through(self, revision: int) -> None:
        if revision > self.revision:
            self.revision, self.handled = revision, 0
            self.save()


def text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "backslashreplace")


def follow(host: str, port: int, prefix: str, position: Position, handle, stop=lambda: False) -> None:
    """Calls handle(revision, op, key, value) once per change under `prefix`, for ever (or until stop())."""
    delay = 0.1
    while not stop():
        connection = redis.Connection(host=host, port=port, protocol=3, socket_timeout=60)
        try:
            connection.connect()
            if position.revision is None:
                connection.send_command("KV.WATCH", "PREFIX", prefix, "INITIAL")
            else:
                connection.send_command("KV.WATCH", "PREFIX", prefix, "FROM", position.revision + 1)
            initial = position.revision is None
            skip = position.handled  # events of the first revision handled before the disconnection
            delay = 0.1
            while not stop():
                message = connection.read_response(push_request=True)
                kind = message[0]
                if kind == b"kv.event":
                    _, _, revision, op, key, value = message[:6]
                    if initial:
                        # INITIAL's current values carry each key's own revision, not in order: handled, but only
                        # kv.synced tells how far they reach.
                        handle(revision, text(op), text(key), text(value))
                    elif revision == position.revision + 1 and skip > 0:
                        skip -= 1
                    else:
                        handle(revision, text(op), text(key), text(value))
                        position.event_handled(revision)
                elif kind == b"kv.synced":
                    position.revision, position.handled = message[2], 0
                    position.save()
                    initial = False
                elif kind == b"kv.progress":
                    position.complete_through(message[2])
                elif kind == b"kv.lagged":
                    break  # the server closes the connection; resume from the position
        except redis.ResponseError as error:
            if not str(error).startswith("COMPACTED"):
                raise
            print(f"resuming is no longer possible ({error}); starting again with INITIAL", file=sys.stderr)
            position.revision, position.handled = None, 0
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            print(f"disconnected ({error}); retrying in {delay:.1f}s", file=sys.stderr)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        finally:
            connection.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--state", default="follow.state", help="file remembering how far it got")
    args = parser.parse_args()

    def handle(revision, op, key, value):
        print(json.dumps({"revision": revision, "op": op, "key": key, "value": value}), flush=True)

    follow(args.host, args.port, args.prefix, Position(args.state), handle)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
