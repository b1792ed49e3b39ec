"""Honest commits on a real full disk: the data directory is a small tmpfs of the server's own (a mount namespace), a
pipelining client writes until the disk is full, then space is freed.

What must hold: no `+OK` for a write that did not reach the disk, exactly one reply per request, reads go on while
writes are refused with Redis's `-MISCONF` shape, INFO persistence says so, writes are accepted again once the disk
has room, and the key count equals the keys present — before and after a restart."""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import Raw, encode, stored_layout, wait_until
from snapshot_tools import KVNode

kvnode_only = pytest.mark.kvnode_only
VALUE_BYTES = 64 << 10
BATCH = 16


def _tmpfs_available() -> str | None:
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return None if probe.returncode == 0 else probe.stderr.decode().strip()


@pytest.fixture
def full_disk_server(tmp_path):
    """A server whose data directory is a 40 MiB tmpfs holding a 24 MiB filler file that the test can delete."""
    reason = _tmpfs_available()
    if reason is not None:
        pytest.fail(f"cannot mount a tmpfs in a mount namespace here: {reason}", pytrace=False)
    srv = KVNode(str(tmp_path), "--write-buffer-mb", "1")
    os.makedirs(srv.data_dir)
    srv.wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   f'mount -t tmpfs -o size=40m tmpfs "{srv.data_dir}" '
                   f'&& head -c 25165824 /dev/zero > "{srv.data_dir}/filler" && exec "$0" "$@"']
    with srv:
        yield srv


def write_until_refused(conn: Raw) -> tuple[list[bytes], list[bytes], bytes]:
    """Pipelines batches of SETs of incompressible values until the server refuses some.

    Returns the keys acknowledged with +OK, the keys refused, and the refusal's text. Checks on the way that every
    request gets exactly one reply, and that nothing is acknowledged after the first refusal."""
    acked: list[bytes] = []
    refused: list[bytes] = []
    error = b""
    for batch in range(2 * (40 << 20) // (VALUE_BYTES * BATCH)):  # twice what the disk holds: bounded, and enough
        keys = [b"k:%d:%d" % (batch, i) for i in range(BATCH)]
        conn.send(b"".join(encode(b"SET", key, os.urandom(VALUE_BYTES)) for key in keys))
        replies = [conn.reply() for _ in keys]
        for key, reply in zip(keys, replies):
            if reply == b"+OK\r\n":
                assert not refused, f"{key!r} acknowledged after a refusal"
                acked.append(key)
            else:
                assert reply.startswith(b"-MISCONF Errors writing to the data directory: "), reply
                assert b"No space left on device" in reply, reply
                refused.append(key)
                error = reply
        # Exactly one reply per request: a PING behind the batch answers PONG, not a stray reply.
        assert conn.cmd("PING") == b"+PONG\r\n"
        if len(refused) >= 2 * BATCH:
            return acked, refused, error
    pytest.fail(f"the disk never filled: {len(acked)} writes acknowledged")


def info_persistence(conn: Raw) -> dict[str, str]:
    text = conn.cmd("INFO", "persistence").split(b"\r\n", 1)[1].decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


@kvnode_only
def test_writes_on_a_full_disk_are_refused_honestly_and_resume_when_space_is_freed(full_disk_server):
    srv = full_disk_server
    with Raw(srv.host, srv.port, timeout=60) as conn:
        acked, refused, error = write_until_refused(conn)
        assert acked, "nothing was written before the disk filled"

        # Reads go on while writes are refused; the count is exactly what was acknowledged.
        assert conn.cmd("DBSIZE") == b":%d\r\n" % len(acked)
        assert conn.cmd("STRLEN", acked[0]) == b":%d\r\n" % VALUE_BYTES
        assert conn.cmd("EXISTS", refused[0]) == b":0\r\n"
        assert conn.cmd("SET", "small", "1").startswith(b"-MISCONF ")
        # A transaction holding a write is refused as a whole, as Redis refuses it.
        assert conn.cmd("MULTI") == b"+OK\r\n"
        assert conn.cmd("SET", "in-multi", "1").startswith(b"-MISCONF ")
        assert conn.cmd("EXEC").startswith(b"-EXECABORT ")
        status = info_persistence(conn)
        assert status["kvnode_write_status"] == "err"
        assert "No space left on device" in status["kvnode_write_error"]
        assert int(status["kvnode_write_failures"]) >= 1

        # Space comes back: writes are accepted again without a restart.
        os.remove(f"/proc/{srv.pid}/root{srv.data_dir}/filler")
        wait_until(lambda: conn.cmd("SET", "after", "1") == b"+OK\r\n", timeout=60,
                   message=lambda: f"writes accepted again; INFO: {info_persistence(conn)}")
        status = info_persistence(conn)
        assert status["kvnode_write_status"] == "ok"
        assert int(status["kvnode_write_recoveries"]) >= 1
        assert conn.cmd("DBSIZE") == b":%d\r\n" % (len(acked) + 1)
        for key in acked:
            assert conn.cmd("STRLEN", key) == b":%d\r\n" % VALUE_BYTES, key
        for key in refused:
            assert conn.cmd("EXISTS", key) == b":0\r\n", key


@kvnode_only
def test_a_failed_commit_keeps_the_key_count_exact_across_a_restart(tmp_path):
    """The same scenario on a tmpfs the test mounts itself, so the data outlives the server and LevelDB's files can be
    read after a graceful stop and after a restart."""
    reason = _tmpfs_available()
    if reason is not None:
        pytest.fail(f"cannot mount a tmpfs in a mount namespace here: {reason}", pytrace=False)
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.fail("mounting the test's tmpfs needs root", pytrace=False)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs", str(mount_point)], check=True)
    try:
        filler = mount_point / "filler"
        filler.write_bytes(b"\0" * (24 << 20))
        srv = KVNode(str(tmp_path), "--write-buffer-mb", "1")
        srv.data_dir = str(mount_point / "data")
        with srv:
            with Raw(srv.host, srv.port, timeout=60) as conn:
                acked, refused, _ = write_until_refused(conn)
                filler.unlink()
                wait_until(lambda: conn.cmd("SET", "after", "1") == b"+OK\r\n", timeout=60,
                           message="writes accepted again")
        records, _, count = stored_layout(srv.data_dir)
        assert count == len(records) == len(acked) + 1
        assert set(records) == set(acked) | {b"after"}
        srv.start()
        with Raw(srv.host, srv.port, timeout=60) as conn:
            assert conn.cmd("DBSIZE") == b":%d\r\n" % (len(acked) + 1)
            assert conn.cmd("EXISTS", *refused) == b":0\r\n"
        srv.stop()
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
