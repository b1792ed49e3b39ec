"""Start-up options that must have an effect: --io-threads, --write-buffer-mb, --block-cache-mb, --log-level."""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import struct
import tempfile
from pathlib import Path

import pytest

from snapshot_tools import KVNode
from syscall_trace import wait_for

pytestmark = pytest.mark.kvnode_only


@pytest.fixture
def base_dir():
    path = tempfile.mkdtemp(prefix="kvnode-options-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def thread_names(pid: int) -> list[str]:
    names = []
    for comm in glob.glob(f"/proc/{pid}/task/*/comm"):
        try:
            names.append(Path(comm).read_text().strip())
        except FileNotFoundError:  # a thread that just ended
            pass
    return names


def event_loop_threads(pid: int) -> int:
    """SwiftNIO names its event loop threads NIO-ELT-<group>-#<n>."""
    return sum(1 for name in thread_names(pid) if name.startswith("NIO-ELT-"))


@pytest.mark.parametrize("threads", [1, 3])
def test_io_threads_sets_the_number_of_event_loops(base_dir, threads):
    with KVNode(base_dir, "--io-threads", str(threads)) as srv:
        clients = [srv.client() for _ in range(4)]
        try:
            for c in clients:
                assert c.ping()
            assert event_loop_threads(srv.pid) == threads, thread_names(srv.pid)
        finally:
            for c in clients:
                c.close()


def write_megabytes(srv: KVNode, megabytes: int) -> None:
    """`megabytes` MB of 1 KB values, each a random 128-byte pattern 8 times: LevelDB compresses its table blocks.
    (It keeps blocks that do not compress uncompressed and reads them from its mmap of the file, bypassing the block
    cache.)"""
    with srv.client() as c:
        for chunk in range(megabytes):
            with c.pipeline(transaction=False) as p:
                for i in range(1024):
                    p.set(f"key:{chunk}:{i}", os.urandom(64).hex().encode() * 8)
                p.execute()


def table_files(srv: KVNode) -> list[str]:
    return glob.glob(os.path.join(srv.data_dir, "*.ldb"))


def test_write_buffer_mb_sets_when_leveldb_writes_tables(base_dir):
    for name in ("default", "small"):
        os.makedirs(os.path.join(base_dir, name))
    # 6 MB: under the 64 MB default, LevelDB keeps it all in its memtable and write-ahead log, no table yet.
    with KVNode(os.path.join(base_dir, "default")) as srv:
        write_megabytes(srv, 6)
        assert table_files(srv) == []
    # With a 1 MB write buffer it writes level-0 tables (in the background) as the memtable fills.
    with KVNode(os.path.join(base_dir, "small"), "--write-buffer-mb", "1") as srv:
        write_megabytes(srv, 6)
        wait_for(lambda: len(table_files(srv)) >= 2, timeout=60, what="LevelDB to write tables")


def leveldb_memory(srv: KVNode) -> int:
    with srv.client() as c:
        return int(c.info("memory")["leveldb_memory_usage"])


def read_everything(srv: KVNode, megabytes: int) -> None:
    with srv.client() as c:
        for chunk in range(megabytes):
            values = c.mget([f"key:{chunk}:{i}" for i in range(1024)])
            assert all(v is not None and len(v) == 1024 for v in values)


def test_block_cache_mb_bounds_leveldb_block_cache(base_dir):
    """INFO memory's leveldb_memory_usage is LevelDB's approximate-memory-usage: the memtable plus the block cache
    (of uncompressed blocks). After a restart the data is in tables and the memtable is nearly empty, so reading
    16 MB fills the cache up to its size."""
    megabytes = 16
    with KVNode(base_dir) as srv:
        write_megabytes(srv, megabytes)
    # SIGTERM: the memtable went to table files on the way out.

    with KVNode(base_dir, "--block-cache-mb", "1") as srv:
        before = leveldb_memory(srv)
        read_everything(srv, megabytes)
        small = leveldb_memory(srv)
    with KVNode(base_dir, "--block-cache-mb", "64") as srv:
        read_everything(srv, megabytes)
        large = leveldb_memory(srv)
    assert before < 1 << 20, before
    assert small <= (1 << 20) + before + (256 << 10), small  # the cache stays at 1 MB
    assert large >= 12 << 20, large  # nearly all 16 MB read stay cached


# --- --log-level ------------------------------------------------------------------------------

LEVELS = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
_LOG_LINE = re.compile(r"^\S+ (trace|debug|info|notice|warning|error|critical) ")


def logged_levels(log: str) -> set[str]:
    return {m.group(1) for line in log.splitlines() if (m := _LOG_LINE.match(line))}


@pytest.mark.parametrize("level", ["debug", "info", "warning", "critical"])
def test_log_level_filters_the_log(base_dir, level):
    """The server logs at info (start-up), debug (a connection reset by its client) and error (a failed
    snapshot); --log-level keeps exactly the lines at or above the level it names."""
    srv = KVNode(base_dir, "--log-level", level)
    os.makedirs(srv.data_dir)
    Path(srv.snapshot_dir).write_text("a file where the snapshots directory should be")
    with srv:
        with srv.client() as c:
            reset_a_connection(srv)
            wait_for(lambda: c.info("clients")["connected_clients"] == 1, timeout=30,
                     what="the server to drop the reset connection")
            c.set_response_callback("BGSAVE", lambda response, **options: response)
            assert c.execute_command("BGSAVE") == b"Background saving started"
            wait_for(lambda: c.info("persistence")["rdb_last_bgsave_status"] == "err", timeout=30,
                     what="the snapshot to fail")
    log = Path(srv.log_path).read_text()
    allowed = set(LEVELS[LEVELS.index(level):])
    assert logged_levels(log) <= allowed, log
    assert ("ready to accept connections" in log) == ("info" in allowed), log
    assert ("snapshot failed" in log) == ("error" in allowed), log
    assert ("connection error" in log) == ("debug" in allowed), log


def reset_a_connection(srv: KVNode) -> None:
    """A client that closes with SO_LINGER 0 resets the connection: the server logs it at debug."""
    s = socket.create_connection((srv.host, srv.port))
    s.sendall(b"*1\r\n$4\r\nPING\r\n")
    assert s.recv(16) == b"+PONG\r\n"
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
