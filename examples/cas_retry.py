#!/usr/bin/env python3
"""A compare-and-set retry loop with redis-py: read a key with its revision, compute, write only if nobody wrote in
between (KV.SET ... IFREV), and try again otherwise. No lock, no MULTI/WATCH, and no lost update.

    python examples/cas_retry.py [--host 127.0.0.1] [--port 6379] [--key cas:counter] [--workers 8] [--increments 100]

Runs several workers that each add 1 to a JSON document's counter `--increments` times, then checks that the counter
went up by exactly workers × increments.
"""

from __future__ import annotations

import argparse
import json
import threading

import redis


def update(client: redis.Redis, key: str, change, attempts: int = 1000):
    """Applies change(old value or None) -> new value to `key` atomically; returns (new value, revision, retries)."""
    for retries in range(attempts):
        current = client.execute_command("KV.GET", key)
        if current is None:
            value, revision = None, 0  # IFREV 0: only if the key still does not exist
        else:
            fields = current if isinstance(current, dict) else dict(zip(current[::2], current[1::2]))
            value, revision = fields[b"value"], fields[b"revision"]
        new_value = change(value)
        written = client.execute_command("KV.SET", key, new_value, "IFREV", revision)
        if written is not None:  # the new revision; None means another client wrote first
            return new_value, written, retries
    raise RuntimeError(f"{key}: no update won after {attempts} attempts")


def add_one(value: bytes | None) -> str:
    document = json.loads(value) if value is not None else {"count": 0}
    document["count"] += 1
    return json.dumps(document)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--key", default="cas:counter")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--increments", type=int, default=100)
    parser.add_argument("--resp3", action="store_true", help="speak RESP3 (KV.GET then replies a map)")
    args = parser.parse_args()
    protocol = 3 if args.resp3 else 2

    start = redis.Redis(args.host, args.port, protocol=protocol).execute_command("KV.GET", args.key)
    before = 0
    if start is not None:
        fields = start if isinstance(start, dict) else dict(zip(start[::2], start[1::2]))
        before = json.loads(fields[b"value"])["count"]
    retries = [0] * args.workers

    def worker(index: int) -> None:
        client = redis.Redis(args.host, args.port, protocol=protocol)
        for _ in range(args.increments):
            retries[index] += update(client, args.key, add_one)[2]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = json.loads(redis.Redis(args.host, args.port).get(args.key))["count"]
    expected = before + args.workers * args.increments
    print(f"count {final} (expected {expected}), {sum(retries)} retries after losing a race")
    raise SystemExit(0 if final == expected else 1)


if __name__ == "__main__":
    main()
