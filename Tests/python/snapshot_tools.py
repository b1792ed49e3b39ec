"""Helpers for the snapshot tests: extra servers, the command-stream tools, and a RESP command parser."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Server, free_port, kvnode_bin, ping_raw

@pytest.fixture
def require_redis_tools():
    """A missing tool fails the test (scripts/test installs them) rather than skipping it."""
    missing = [tool for tool in ("redis-cli", "redis-server") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed (apt-get install redis-tools redis-server)", pytrace=False)


def dump_bin() -> str:
    """kvnode-dump from the same build directory as kvnode-server."""
    path = Path(kvnode_bin()).with_name("kvnode-dump")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} not found: build it (swift build --product kvnode-dump)", pytrace=False)
    return str(path)


class KVNode(Server):
    """A kvnode-server of a test's own, with extra arguments and an optional command prefix (setpriv, unshare)."""

    def __init__(self, base_dir: str, *extra: str, wrapper: list[str] | None = None):
        super().__init__("kvnode", base_dir)
        self.extra = list(extra)
        self.wrapper = wrapper or []

    def argv(self) -> list[str]:
        return self.wrapper + super().argv() + self.extra

    def __enter__(self) -> "KVNode":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def snapshot_dir(self) -> str:
        return os.path.join(self.data_dir, "snapshots")

    def snapshots(self) -> list[str]:
        """Complete snapshot directory names, oldest first."""
        try:
            names = os.listdir(self.snapshot_dir)
        except FileNotFoundError:
            return []
        return sorted((n for n in names if not n.startswith(".")),
                      key=lambda n: tuple(int(p) for p in n.split("-")))


class RedisServer:
    """A real redis-server without persistence, the reference a snapshot must also restore into."""

    def __init__(self, base_dir: str):
        self.port = free_port()
        self.dir = os.path.join(base_dir, "redis")
        os.makedirs(self.dir)
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--logfile", os.path.join(self.dir, "log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            if ping_raw("127.0.0.1", self.port):
                return
            if self.proc.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"])
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def parse_snapshot(path: str | os.PathLike, *, tool: str = "server") -> bytes:
    """The command stream of a snapshot, from `kvnode-server --parse-snapshot` or `kvnode-dump`."""
    argv = [kvnode_bin(), "--parse-snapshot", str(path)] if tool == "server" else [dump_bin(), str(path)]
    res = subprocess.run(argv, capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert res.stderr == b"", res.stderr
    return res.stdout


def pipe_into(port: int, commands: bytes) -> str:
    """`redis-cli --pipe` the commands into the server on `port`; returns its summary line."""
    with tempfile.TemporaryFile() as f:
        f.write(commands)
        f.seek(0)
        res = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f, capture_output=True, timeout=300)
    out = res.stdout.decode(errors="replace")
    assert res.returncode == 0, (out, res.stderr)
    return out.strip().splitlines()[-1]


def parse_snapshot_into(path: str | os.PathLike, port: int) -> str:
    """`kvnode-server --parse-snapshot PATH | redis-cli -p PORT --pipe`, a real pipe; returns redis-cli's summary."""
    parse = subprocess.Popen([kvnode_bin(), "--parse-snapshot", str(path)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        cli = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=parse.stdout, capture_output=True,
                             timeout=300)
    finally:
        parse.stdout.close()
        returncode = parse.wait(60)
    stderr = parse.stderr.read()
    parse.stderr.close()
    assert returncode == 0 and stderr == b"", stderr
    out = cli.stdout.decode(errors="replace")
    assert cli.returncode == 0, (out, cli.stderr)
    return out.strip().splitlines()[-1]


def parse_commands(stream: bytes) -> list[tuple[bytes, bytes, int | None]]:
    """Splits a command stream into (key, value, pxat); fails on anything but `SET k v` and `SET k v PXAT ms`."""
    out = []
    for args in split_commands(stream):
        assert args[0] == b"SET", args[0]
        if len(args) == 3:
            out.append((args[1], args[2], None))
        else:
            assert len(args) == 5 and args[3] == b"PXAT", args
            out.append((args[1], args[2], int(args[4])))
    return out


def split_commands(stream: bytes) -> list[list[bytes]]:
    """Splits a RESP command stream into its commands' arguments."""
    out = []
    pos = 0
    n = len(stream)
    while pos < n:
        assert stream[pos:pos + 1] == b"*", f"not a RESP array at byte {pos}: {stream[pos:pos + 20]!r}"
        end = stream.index(b"\r\n", pos)
        argc = int(stream[pos + 1:end])
        pos = end + 2
        args = []
        for _ in range(argc):
            assert stream[pos:pos + 1] == b"$", f"not a bulk string at byte {pos}"
            end = stream.index(b"\r\n", pos)
            length = int(stream[pos + 1:end])
            args.append(stream[end + 2:end + 2 + length])
            assert stream[end + 2 + length:end + 4 + length] == b"\r\n"
            pos = end + 4 + length
        out.append(args)
    return out


def encode_set(key: bytes, value: bytes, *options: bytes) -> bytes:
    parts = [b"*%d\r\n" % (3 + len(options))]
    for arg in (b"SET", key, value, *options):
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def run_dump(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([dump_bin(), *args], capture_output=True, timeout=timeout)


# --- An independent reader of snapshots ----------------------------------------------------------
# Written from docs/snapshot-format.md with Python's zlib, not kvnode's code: a bug shared by kvnode's writer and its
# own readers (kvnode-dump, --parse-snapshot) would go unnoticed by tests that only use those.

@dataclass
class Snapshot:
    meta: dict
    taken_at: int
    # (key, value, expireAt or None), in the file's order; a collection's value is (type, elements): a hash's
    # [(field, value)], a set's or a list's [member], a sorted set's [(member, score)].
    records: list[tuple[bytes, object, int | None]]
    # The database (SELECT) of each record, in the same order: 0 before any select record (version 3).
    databases: list[int]


# Record kinds of format 2 (docs/snapshot-format.md) and how each element is laid out.
RECORD_KINDS = {0x01: "string", 0x02: "hash", 0x03: "set", 0x04: "list", 0x05: "zset"}


def read_snapshot(directory: str | os.PathLike, *, copy: bool = False) -> Snapshot:
    """Checks meta.json against state.bin (size, zlib.crc32) and parses state.bin's one gzip member by the
    documented record layout; fails on anything the format does not allow. A `copy` may have another name."""
    directory = Path(directory)
    assert sorted(p.name for p in directory.iterdir()) == ["meta.json", "state.bin"]
    meta = json.loads((directory / "meta.json").read_text())
    assert set(meta) == {"id", "created_at_ms", "format_version", "key_count", "size", "uncompressed_size",
                         "checksum", "revision"}, meta
    assert isinstance(meta["revision"], int) and meta["revision"] >= 0
    data = (directory / "state.bin").read_bytes()
    assert copy or meta["id"] == directory.name
    # Version 2 when every key is in database 0, 3 (select records) otherwise.
    assert meta["format_version"] in (2, 3)
    assert meta["size"] == len(data)
    assert meta["checksum"] == f"crc32:{zlib.crc32(data):08x}", (meta["checksum"], zlib.crc32(data))

    gz = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing; checks the member's CRC-32 and length
    raw = gz.decompress(data) + gz.flush()
    assert gz.eof and gz.unused_data == b"", "state.bin is not exactly one complete gzip member"
    assert len(raw) == meta["uncompressed_size"]

    magic, version, reserved, taken_at = struct.unpack_from(">8sHHq", raw, 0)
    assert (magic, version, reserved) == (b"KVNSNAP\0", meta["format_version"], 0)
    assert taken_at == meta["created_at_ms"]
    records = []
    databases = []
    database = 0
    pos = 20
    while raw[pos] in RECORD_KINDS or (version >= 3 and raw[pos] == 0x06):
        if raw[pos] == 0x06:  # select: the records after it are of this database
            (selected,) = struct.unpack_from(">I", raw, pos + 1)
            assert selected > database, "databases come in ascending order, each once"
            database = selected
            pos += 5
            continue
        databases.append(database)
        kind = RECORD_KINDS[raw[pos]]
        flags = raw[pos + 1]
        assert flags in (0, 1), f"unknown flags {flags:#x} at byte {pos}"
        pos += 2
        expire_at = None
        if flags:
            (expire_at,) = struct.unpack_from(">q", raw, pos)
            assert expire_at > taken_at  # keys already expired at the snapshot's time are left out
            pos += 8
        (key_length,) = struct.unpack_from(">I", raw, pos)
        key = raw[pos + 4:pos + 4 + key_length]
        pos += 4 + key_length
        (length,) = struct.unpack_from(">Q", raw, pos)
        pos += 8
        if kind == "string":
            value = raw[pos:pos + length]
            pos += length
            assert len(value) == length, "record cut short"
            records.append((key, value, expire_at))
            continue
        assert length > 0, "an empty collection"
        elements = []
        for _ in range(length):
            if kind == "list":
                (size,) = struct.unpack_from(">Q", raw, pos)
                elements.append(raw[pos + 8:pos + 8 + size])
                pos += 8 + size
                continue
            (size,) = struct.unpack_from(">I", raw, pos)
            name = raw[pos + 4:pos + 4 + size]
            pos += 4 + size
            if kind == "hash":
                (size,) = struct.unpack_from(">Q", raw, pos)
                elements.append((name, raw[pos + 8:pos + 8 + size]))
                pos += 8 + size
            elif kind == "zset":
                (score,) = struct.unpack_from(">d", raw, pos)
                elements.append((name, score))
                pos += 8
            else:
                elements.append(name)
        assert pos <= len(raw), "record cut short"
        records.append((key, (kind, elements), expire_at))
    assert raw[pos] == 0xFF, f"record kind {raw[pos]:#x} at byte {pos}"
    (count,) = struct.unpack_from(">Q", raw, pos + 1)
    assert pos + 9 == len(raw), "bytes after the trailer"
    assert count == len(records) == meta["key_count"]
    for db in set(databases):
        keys = [k for (k, _, _), d in zip(records, databases) if d == db]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), "records not in strictly increasing key order"
    assert version == 3 or not any(databases), "select records need version 3"
    return Snapshot(meta, taken_at, records, databases)


def encode_command(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def as_commands(records, per_command: int = 128) -> bytes:
    """The command stream kvnode-dump and --parse-snapshot should write for these records: SET [PXAT] for a string;
    HSET/SADD/RPUSH/ZADD of at most `per_command` elements, then PEXPIREAT, for a collection."""
    out = []
    for key, value, expire_at in records:
        if isinstance(value, bytes):
            out.append(encode_set(key, value) if expire_at is None else
                       encode_set(key, value, b"PXAT", str(expire_at).encode()))
            continue
        kind, elements = value
        name, flatten = {
            "hash": (b"HSET", lambda e: [e[0], e[1]]),
            "set": (b"SADD", lambda e: [e]),
            "list": (b"RPUSH", lambda e: [e]),
            "zset": (b"ZADD", lambda e: [b"%.17g" % e[1] if abs(e[1]) != float("inf") else
                                         (b"inf" if e[1] > 0 else b"-inf"), e[0]]),
        }[kind]
        for start in range(0, len(elements), per_command):
            args = [name, key]
            for element in elements[start:start + per_command]:
                args += flatten(element)
            out.append(encode_command(*args))
        if expire_at is not None:
            out.append(encode_command(b"PEXPIREAT", key, str(expire_at).encode()))
    return b"".join(out)
