"""A snapshot replayed with `--parse-snapshot | redis-cli --pipe` rebuilds the same keyspace in kvnode and in a
real Redis; writes made while a snapshot runs are not in it and are not lost."""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time

import pytest
import redis

from snapshot_tools import (KVNode, RedisServer, as_commands, encode_set, parse_commands, parse_snapshot, pipe_into,
                            read_snapshot)
from snapshot_tools import require_redis_tools  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.kvnode_only, pytest.mark.usefixtures("require_redis_tools")]

N_PLAIN = 190_000


def build_keyspace(now_ms: int) -> tuple[bytes, dict[bytes, tuple[bytes, str, int | None]]]:
    """200k keys as a command stream, and what each must hold: value, TTL kind, and the expiry for PXAT/PX/EX.

    Values carry CR, LF and NUL; there is an empty value, a 1 MB value, binary keys, and keys with every kind
    of TTL. For PX/EX the expected expiry is the earliest possible (now_ms + ttl); the load adds at most its
    own duration."""
    rnd = random.Random(5)
    expected: dict[bytes, tuple[bytes, str, int | None]] = {}
    out = []

    def add(key: bytes, value: bytes, kind: str = "none", expire: int | None = None, *options: bytes):
        expected[key] = (value, kind, expire)
        out.append(encode_set(key, value, *options))

    for i in range(N_PLAIN):
        add(b"key:%06d" % i, b"v\r\n\x00" + i.to_bytes(4, "big") + rnd.randbytes(rnd.randrange(0, 40)))
    for i in range(4_000):
        add(b"bin\r\n\x00:" + i.to_bytes(2, "big"), rnd.randbytes(16))
    add(b"empty", b"")
    add(b"", b"empty key")
    add(b"big", rnd.randbytes(1 << 20))
    for i in range(2_000):
        at = now_ms + 7_200_000 + i
        add(b"ttl:pxat:%d" % i, b"x\r\n%d" % i, "pxat", at, b"PXAT", str(at).encode())
    for i in range(2_000):
        ms = 3_600_000 + i
        add(b"ttl:px:%d" % i, b"y\x00%d" % i, "px", now_ms + ms, b"PX", str(ms).encode())
    for i in range(1_997):
        add(b"ttl:ex:%d" % i, b"z%d" % i, "ex", now_ms + 10_000_000, b"EX", b"10000")
    assert len(expected) == 200_000
    return b"".join(out), expected


def check_stream(stream: bytes, expected, load_started: int, load_ended: int) -> None:
    """The snapshot's commands hold exactly the expected keys, values and expiries."""
    commands = parse_commands(stream)
    assert len(commands) == len(expected)
    for key, value, pxat in commands:
        want, kind, expire = expected[key]
        assert value == want, key
        if kind == "none":
            assert pxat is None, key
        elif kind == "pxat":
            assert pxat == expire, key
        else:  # relative: set somewhere between the start and the end of the load
            assert expire <= pxat <= expire + (load_ended - load_started) + 1000, (key, pxat, expire)


def check_server(c: redis.Redis, reference: dict[bytes, tuple[bytes, int | None]]) -> None:
    """The server holds exactly `reference` (key -> value, PXAT), TTLs within a second: SCAN, MGET, PTTL."""
    keys = set(c.scan_iter(count=5000))
    assert keys == set(reference), (len(keys), len(reference))
    ordered = sorted(keys)
    for start in range(0, len(ordered), 5000):
        chunk = ordered[start:start + 5000]
        assert c.mget(chunk) == [reference[k][0] for k in chunk]
        before = int(time.time() * 1000)
        with c.pipeline(transaction=False) as p:
            for k in chunk:
                p.pttl(k)
            ttls = p.execute()
        after = int(time.time() * 1000)
        for k, ttl in zip(chunk, ttls):
            pxat = reference[k][1]
            if pxat is None:
                assert ttl == -1, k
            else:
                assert pxat - after - 1000 <= ttl <= pxat - before + 1000, (k, ttl, pxat)


@pytest.fixture
def base_dir():
    path = tempfile.mkdtemp(prefix="kvnode-restore-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(900)
def test_200k_keys_restore_into_kvnode_and_redis(server, r2, base_dir):
    load_started = int(time.time() * 1000)
    commands, expected = build_keyspace(load_started)
    assert pipe_into(server.port, commands) == "errors: 0, replies: 200000"
    load_ended = int(time.time() * 1000)

    path = r2.execute_command("SNAPSHOT").decode()
    snap = read_snapshot(path)  # meta.json and state.bin, checked and parsed independently of kvnode
    assert snap.meta["key_count"] == 200_000
    stream = parse_snapshot(path)
    assert stream == as_commands(snap.records)
    check_stream(stream, expected, load_started, load_ended)
    assert parse_snapshot(path, tool="dump") == stream
    reference = {k: (v, pxat) for k, v, pxat in parse_commands(stream)}

    # (a) a fresh kvnode: its own snapshot must give back the very same stream (same PXAT to the millisecond).
    fresh = KVNode(os.path.join(base_dir, "fresh"))
    os.makedirs(fresh.data_dir)
    with fresh:
        assert pipe_into(fresh.port, stream) == "errors: 0, replies: 200000"
        with fresh.client() as c:
            assert c.dbsize() == 200_000
            assert c.get("big") == expected[b"big"][0]
            assert read_snapshot(c.execute_command("SNAPSHOT").decode()).records == snap.records
            check_server(c, reference)

    # (b) a real redis-server.
    real = RedisServer(base_dir)
    try:
        assert pipe_into(real.port, stream) == "errors: 0, replies: 200000"
        with redis.Redis(port=real.port) as c:
            assert c.dbsize() == 200_000
            check_server(c, reference)
    finally:
        real.stop()


@pytest.mark.timeout(600)
def test_writes_during_a_snapshot_are_not_in_it_and_not_lost(server, r2):
    n = 300_000
    commands = b"".join(encode_set(b"key:%d" % i, b"%d:" % i + b"v" * 100) for i in range(n))
    assert pipe_into(server.port, commands) == f"errors: 0, replies: {n}"
    snapshot_dir = os.path.join(server.data_dir, "snapshots")

    def complete_snapshots() -> set[str]:
        names = os.listdir(snapshot_dir) if os.path.isdir(snapshot_dir) else []
        return {name for name in names if not name.startswith(".")}

    def new_snapshots() -> list[str]:
        return sorted(complete_snapshots() - before)

    before = complete_snapshots()
    r2.set_response_callback("BGSAVE", lambda response, **options: response)
    assert r2.execute_command("BGSAVE") == b"Background saving started"
    # Every write from here on comes after the snapshot's point in time.
    with server.client() as writer:
        writer.set("key:0", "changed")
        writer.delete("key:1")
        written = 0
        written_while_running = 0
        deadline = time.monotonic() + 300
        while not new_snapshots():
            assert time.monotonic() < deadline, "the snapshot did not complete"
            with writer.pipeline(transaction=False) as p:
                for i in range(written, written + 100):
                    p.set(f"during:{i}", i)
                p.execute()
            written += 100
            written_while_running = written
        for i in range(written, written + 100):
            writer.set(f"during:{i}", i)
        written += 100

    (name,) = new_snapshots()
    snap = parse_commands(parse_snapshot(os.path.join(snapshot_dir, name)))
    assert len(snap) == n
    assert not [k for k, _, _ in snap if k.startswith(b"during:")]
    values = {k: v for k, v, _ in snap}
    assert values[b"key:0"] == b"0:" + b"v" * 100 and values[b"key:1"] == b"1:" + b"v" * 100

    assert r2.dbsize() == n - 1 + written
    assert r2.get("key:0") == b"changed" and r2.get("key:1") is None
    assert r2.mget([f"during:{i}" for i in range(written)]) == [str(i).encode() for i in range(written)]
    # Clients were served while the snapshot was written (300k keys take far longer to write than 100 SETs).
    assert written_while_running > 0


def typed_dump(c: redis.Redis) -> dict:
    """key -> (type, content, has TTL), pipelined: a string's value, a hash's dict, a set's members, a sorted set's
    (member, score) pairs in order."""
    keys = sorted(c.scan_iter(count=5000))
    result = {}
    for start in range(0, len(keys), 2000):
        chunk = keys[start:start + 2000]
        with c.pipeline(transaction=False) as p:
            for k in chunk:
                p.type(k)
                p.pttl(k)
            answers = p.execute()
        types = [t.decode() for t in answers[::2]]
        with c.pipeline(transaction=False) as p:
            for k, t in zip(chunk, types):
                if t == "zset":
                    p.zrange(k, 0, -1, withscores=True)
                else:
                    {"string": p.get, "hash": p.hgetall, "set": p.smembers}[t](k)
            contents = p.execute()
        for k, t, ttl, content in zip(chunk, types, answers[1::2], contents):
            result[k] = (t, frozenset(content) if t == "set" else content, ttl > 0)
    return result


@pytest.mark.timeout(900)
def test_a_mixed_type_snapshot_restores_into_kvnode_and_redis(server, r2, base_dir):
    rnd = random.Random(14)
    future = int(time.time() * 1000) + 7_200_000
    with r2.pipeline(transaction=False) as p:
        for i in range(30_000):
            p.set(b"str:%05d" % i, rnd.randbytes(rnd.randrange(0, 30)))
        for i in range(12_000):
            size = rnd.choice([1, 2, 5, 20])
            p.hset(b"hash:%05d" % i, mapping={b"f\x00%d" % j: rnd.randbytes(rnd.randrange(0, 80)) for j in range(size)})
        for i in range(8_000):
            members = [rnd.randrange(1000) for _ in range(rnd.choice([1, 3, 10]))]
            p.sadd(b"set:%05d" % i, *(members if i % 2 else [b"m\r\n%d" % m for m in members]))
        p.hset("hash:big", mapping={b"field:%d" % j: b"%d" % j for j in range(5_000)})
        p.sadd("set:big", *range(3_000))
        scores = [float("inf"), float("-inf"), 0.1, 1e308, -2.5, 1e18, 0.30000000000000004]
        for i in range(6_000):
            size = rnd.choice([1, 2, 8])
            p.zadd(b"zset:%05d" % i, {b"m\r\n%d" % j if i % 2 else b"%d" % j:
                                      rnd.choice(scores) if j % 3 == 0 else rnd.randrange(-10**6, 10**6) / 7
                                      for j in range(size)})
        p.zadd("zset:big", {b"member:%d" % j: j / 3 for j in range(2_000)})
        for i in range(0, 6_000, 100):
            p.pexpireat(b"zset:%05d" % i, future + i)
        for i in range(0, 12_000, 100):
            p.pexpireat(b"hash:%05d" % i, future + i)
        for i in range(0, 8_000, 100):
            p.pexpireat(b"set:%05d" % i, future + i)
        p.execute()
    expected = typed_dump(r2)
    assert len(expected) == 56_003

    path = r2.execute_command("SNAPSHOT").decode()
    snap = read_snapshot(path)  # the independent reader, from the documented format
    assert snap.meta["key_count"] == 56_003
    kinds = {}
    for _, value, _ in snap.records:
        kind = "string" if isinstance(value, bytes) else value[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {"string": 30_000, "hash": 12_001, "set": 8_001, "zset": 6_001}
    stream = parse_snapshot(path)
    assert stream == as_commands(snap.records)
    assert parse_snapshot(path, tool="dump") == stream
    expiries = {k: t for k, _, t in snap.records if t is not None}
    assert expiries[b"hash:00100"] == future + 100 and len(expiries) == 260

    fresh = KVNode(os.path.join(base_dir, "fresh"))
    os.makedirs(fresh.data_dir)
    with fresh:
        summary = pipe_into(fresh.port, stream)
        assert summary.startswith("errors: 0, replies: ")
        with fresh.client() as c:
            assert typed_dump(c) == expected
            assert c.pexpiretime("hash:00100") == future + 100
            # Its own snapshot holds the same records.
            assert read_snapshot(c.execute_command("SNAPSHOT").decode()).records == snap.records

    real = RedisServer(base_dir)
    try:
        assert pipe_into(real.port, stream) == summary
        with redis.Redis(port=real.port) as c:
            assert typed_dump(c) == expected
            assert c.pexpiretime("set:00200") == future + 200
            assert c.pexpiretime("zset:00300") == future + 300
    finally:
        real.stop()
