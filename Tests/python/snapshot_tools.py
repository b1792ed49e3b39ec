"""Helpers for the snapshot tests: extra servers, the command-stream tools, and a RESP command parser."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import Server, free_port, kvnode_bin, ping_raw

needs_redis_tools = pytest.mark.skipif(
    shutil.which("redis-cli") is None or shutil.which("redis-server") is None,
    reason="redis-cli/redis-server not installed (apt-get install redis-tools redis-server)")


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


def parse_commands(stream: bytes) -> list[tuple[bytes, bytes, int | None]]:
    """Splits a command stream into (key, value, pxat); fails on anything but `SET k v` and `SET k v PXAT ms`."""
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
        assert args[0] == b"SET", args[0]
        if argc == 3:
            out.append((args[1], args[2], None))
        else:
            assert argc == 5 and args[3] == b"PXAT", args
            out.append((args[1], args[2], int(args[4])))
    return out


def encode_set(key: bytes, value: bytes, *options: bytes) -> bytes:
    parts = [b"*%d\r\n" % (3 + len(options))]
    for arg in (b"SET", key, value, *options):
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def run_dump(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([dump_bin(), *args], capture_output=True, timeout=timeout)
