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

from conftest import Raw
from snapshot_tools import (KVNode, RedisServer, as_commands, encode_command, encode_set, parse_commands,
                            parse_snapshot, parse_snapshot_into, pipe_into, read_snapshot)
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
    """key -> (type, content, has TTL), pipelined: a string's value, a hash's dict, a list's items, a set's members, a
    sorted set's (member, score) pairs in order."""
    keys = sorted(c.scan_iter(count=5000))
    fetch = {"string": "get", "hash": "hgetall", "set": "smembers"}
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
                elif t == "list":
                    p.lrange(k, 0, -1)
                else:
                    getattr(p, fetch[t])(k)
            contents = p.execute()
        for k, t, ttl, content in zip(chunk, types, answers[1::2], contents):
            if t == "set":
                content = frozenset(content)
            elif t == "zset":
                content = [tuple(pair) for pair in content]
            result[k] = (t, content, ttl > 0)
    return result


# Scores Redis and kvnode must carry exactly, through the snapshot's doubles and the stream's text.
SCORES = [float("inf"), float("-inf"), 1e-300, -1e-300, 5e-324, 0.1, 0.30000000000000004, 1e308, -2.5, 1e18,
          2.0 ** 62, 2.0 ** 62 + 2048, -0.0, 0.0, 1 / 3]


def mixed_keyspace(n_keys: int, future: int) -> tuple[bytes, dict]:
    """`n_keys` keys of all five types as a command stream (bulk loading through redis-cli --pipe), and the model of
    what the server then holds, in typed_dump's shape.

    Keys and values carry 0xFF, CR, LF and NUL; every type has a few big keys (thousands of elements), keys with
    TTLs (every 97th) and binary key names; strings include integers, empty values and a 100 KB value; sorted sets
    use SCORES (infinities, 1e-300, the smallest denormal, -0, integers around 2**62)."""
    rnd = random.Random(200)
    out: list[bytes] = []
    model: dict = {}

    def blob(limit: int) -> bytes:
        return bytes([rnd.choice(b"\xff\r\n\x00ab")]) + rnd.randbytes(rnd.randrange(0, limit))

    def name(kind: bytes, i: int) -> bytes:
        return (b"\xff%s\r\n" % kind + i.to_bytes(3, "big")) if i % 10 == 3 else b"%s:%06d" % (kind, i)

    def add(key: bytes, kind: str, content, command: bytes, args: list[bytes], per_command: int, i: int) -> None:
        assert key not in model
        ttl = i % 97 == 5
        for start in range(0, len(args), per_command):
            out.append(encode_command(command, key, *args[start:start + per_command]))
        if ttl:
            out.append(encode_command(b"PEXPIREAT", key, b"%d" % (future + i)))
        model[key] = (kind, content, ttl)

    n_hash, n_list, n_set, n_zset = n_keys // 5, n_keys * 3 // 20, n_keys // 8, n_keys * 3 // 40
    n_string = n_keys - n_hash - n_list - n_set - n_zset
    for i in range(n_string):
        value = b"%d" % rnd.randrange(-10**12, 10**12) if i % 7 == 0 else b"" if i % 101 == 0 else blob(40)
        add(name(b"str", i), "string", value, b"SET", [value], 1, i)
    big_value = rnd.randbytes(100_000) + b"\xff\r\n"
    model[b"str:big"] = ("string", big_value, False)
    out.append(encode_command(b"SET", b"str:big", big_value))

    for i in range(n_hash):
        size = 5_000 if i < 2 else rnd.randrange(1, 13)
        fields = {b"f\xff\r\n%d" % j if j % 2 else b"%d" % j: blob(60) for j in range(size)}
        add(name(b"hash", i), "hash", fields, b"HSET", [x for pair in fields.items() for x in pair], 512, i)
    for i in range(n_list):
        items = [blob(30) if j % 5 else b"" for j in range(4_000 if i < 2 else rnd.randrange(1, 11))]
        add(name(b"list", i), "list", items, b"RPUSH", items, 256, i)
    for i in range(n_set):
        size = 3_000 if i < 2 else rnd.randrange(1, 11)
        members = ([b"%d" % rnd.randrange(-10**9, 10**9) for _ in range(size)] if i % 2 else
                   [b"m\xff\r\n" + rnd.randbytes(rnd.randrange(0, 12)) for _ in range(size)])
        add(name(b"set", i), "set", frozenset(members), b"SADD", members, 256, i)
    for i in range(n_zset - 1):
        size = 3_000 if i < 2 else rnd.randrange(1, 9)
        scores = {(b"z\xff\r\n%d" % j if i % 2 else b"%d" % j):
                  rnd.choice(SCORES) if j % 3 == 0 else rnd.randrange(-10**6, 10**6) / 7 for j in range(size)}
        pairs = sorted(((m, s) for m, s in scores.items()), key=lambda pair: (pair[1], pair[0]))
        add(name(b"zset", i), "zset", pairs, b"ZADD", [x for m, s in scores.items() for x in (repr(s).encode(), m)],
            256, i)
    # Every score in one key, for an exact look at how each comes back.
    every = sorted(((b"s%d" % j, score) for j, score in enumerate(SCORES)), key=lambda pair: (pair[1], pair[0]))
    add(b"zset:every-score", "zset", every, b"ZADD", [x for m, s in every for x in (repr(s).encode(), m)], 256, 0)
    assert len(model) == n_keys + 1
    return b"".join(out), model


N_MIXED = 200_000


@pytest.mark.timeout(1200)
def test_a_mixed_type_snapshot_of_200k_keys_restores_into_kvnode_and_redis(server, r2, base_dir):
    future = int(time.time() * 1000) + 7_200_000
    stream, model = mixed_keyspace(N_MIXED - 1, future)
    summary = pipe_into(server.port, stream)
    assert summary.startswith("errors: 0, replies: "), summary
    source = typed_dump(r2)
    assert len(source) == N_MIXED
    assert source == model
    expiring = sorted(k for k, (_, _, ttl) in model.items() if ttl)
    with r2.pipeline(transaction=False) as p:
        for k in expiring:
            p.pexpiretime(k)
        expiries = dict(zip(expiring, p.execute()))

    path = r2.execute_command("SNAPSHOT").decode()
    snap = read_snapshot(path)  # the independent reader, from the documented format
    assert snap.meta["key_count"] == N_MIXED
    kinds: dict[str, int] = {}
    for _, value, _ in snap.records:
        kind = "string" if isinstance(value, bytes) else value[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    assert kinds == {kind: sum(1 for t, _, _ in model.values() if t == kind)
                     for kind in ("string", "hash", "list", "set", "zset")}
    assert {k: t for k, _, t in snap.records if t is not None} == expiries
    stream = parse_snapshot(path)
    assert stream == as_commands(snap.records)
    assert parse_snapshot(path, tool="dump") == stream

    # `kvnode-server --parse-snapshot DIR | redis-cli --pipe`, into a fresh kvnode and into a real redis-server.
    fresh = KVNode(os.path.join(base_dir, "fresh"))
    os.makedirs(fresh.data_dir)
    with fresh:
        summary = parse_snapshot_into(path, fresh.port)
        assert summary.startswith("errors: 0, replies: "), summary
        with fresh.client() as c:
            assert typed_dump(c) == model
            with c.pipeline(transaction=False) as p:
                for k in expiring:
                    p.pexpiretime(k)
                assert dict(zip(expiring, p.execute())) == expiries
            # Its own snapshot holds the same records.
            assert read_snapshot(c.execute_command("SNAPSHOT").decode()).records == snap.records

    real = RedisServer(base_dir)
    try:
        assert parse_snapshot_into(path, real.port) == summary
        with redis.Redis(port=real.port) as c:
            assert typed_dump(c) == model
            with c.pipeline(transaction=False) as p:
                for k in expiring:
                    p.pexpiretime(k)
                assert dict(zip(expiring, p.execute())) == expiries
        # Redis's own text for every score (RESP2 bulk strings), byte for byte as kvnode's.
        every_score = ("ZRANGE", "zset:every-score", 0, -1, "WITHSCORES")
        with Raw("127.0.0.1", real.port) as theirs, Raw(server.host, server.port) as ours:
            assert ours.cmd(*every_score) == theirs.cmd(*every_score)
    finally:
        real.stop()

