"""SNAPSHOT, SAVE, BGSAVE, LASTSAVE: replies, files, rotation, failures, and the kvnode-dump tool."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis
from redis.exceptions import ResponseError

from conftest import Raw, encode, kvnode_bin
from snapshot_tools import (KVNode, as_commands, encode_set, parse_commands, parse_snapshot, pipe_into, read_snapshot,
                            run_dump)

kvnode_only = pytest.mark.kvnode_only


@pytest.fixture
def base_dir():
    path = tempfile.mkdtemp(prefix="kvnode-snap-")
    os.chmod(path, 0o755)  # a server run as another user (setpriv) must reach its data dir
    yield path
    subprocess.run(["chmod", "-R", "u+rwx", path])  # a test may leave a read-only directory behind
    shutil.rmtree(path, ignore_errors=True)


def snapshot(c: redis.Redis) -> str:
    return c.execute_command("SNAPSHOT").decode()


def plain(c: redis.Redis) -> redis.Redis:
    """The client without redis-py's conversions of SAVE/BGSAVE (to True) and LASTSAVE (to a datetime)."""
    for command in ("SAVE", "BGSAVE", "LASTSAVE"):
        c.set_response_callback(command, lambda response, **options: response)
    return c


def lastsave(c: redis.Redis) -> int:
    return plain(c).execute_command("LASTSAVE")


def wait_until(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


# --- replies ----------------------------------------------------------------------------------

def test_persistence_commands_are_described_like_redis(r2):
    info = {name: r2.execute_command("COMMAND", "INFO", name)[name] for name in ("save", "bgsave", "lastsave")}
    assert [info[n]["arity"] for n in ("save", "bgsave", "lastsave")] == [1, -1, 1]
    assert {"admin", "noscript", "no_multi"} <= set(info["save"]["flags"])
    assert {"admin", "noscript"} <= set(info["bgsave"]["flags"])
    assert {"loading", "stale", "fast"} <= set(info["lastsave"]["flags"])
    assert set(info["bgsave"]["acl_categories"]) == {"@admin", "@slow", "@dangerous"}
    assert set(info["lastsave"]["acl_categories"]) == {"@admin", "@fast", "@dangerous"}


def test_persistence_command_errors(r2):
    for args, message in [(("BGSAVE", "now"), "syntax error"),
                          (("SAVE", "x"), "wrong number of arguments for 'save' command"),
                          (("LASTSAVE", "x"), "wrong number of arguments for 'lastsave' command")]:
        with pytest.raises(ResponseError) as e:
            r2.execute_command(*args)
        assert str(e.value) == message


def fill(c: redis.Redis, n: int, value: bytes = b"x" * 100) -> None:
    for start in range(0, n, 10_000):
        with c.pipeline(transaction=False) as p:
            for i in range(start, min(n, start + 10_000)):
                p.set(f"key:{i:07d}", value)
            p.execute()


def wait_for_next_second(after: int) -> None:
    """LASTSAVE counts seconds: wait until the clock has left second `after`, so a later save shows."""
    wait_until(lambda: int(time.time()) > after, timeout=5, what="the next second")


def wait_for_bgsave(c: redis.Redis) -> None:
    wait_until(lambda: c.info("persistence")["rdb_bgsave_in_progress"] == 0, what="the background save to end")
    assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"


def test_save_bgsave_and_lastsave_report_actual_values(server, r2):
    """LASTSAVE is the second the last save completed; SAVE answers once done; BGSAVE answers at once and refuses a
    second save while one runs."""
    fill(r2, 20_000)  # a snapshot of it takes a while (kvnode's runs in a thread, Redis's in a fork)
    plain(r2)
    started = int(time.time())
    assert r2.execute_command("SAVE") == b"OK"
    saved = lastsave(r2)
    assert started <= saved <= int(time.time())

    wait_for_next_second(saved)
    started = int(time.time())
    with r2.pipeline(transaction=False) as p:  # the second arrives while the first runs
        p.execute_command("BGSAVE")
        p.execute_command("BGSAVE", "SCHEDULE")
        first, second = p.execute(raise_on_error=False)
    assert first == b"Background saving started"
    assert isinstance(second, ResponseError) and str(second) == "Background save already in progress"
    wait_for_bgsave(r2)
    bgsaved = lastsave(r2)
    assert saved < started <= bgsaved <= int(time.time())

    wait_for_next_second(bgsaved)
    started = int(time.time())
    assert r2.execute_command("BGSAVE", "SCHEDULE") == b"Background saving started"  # nothing running: starts
    wait_for_bgsave(r2)
    assert started <= lastsave(r2) <= int(time.time())


@kvnode_only
def test_snapshot_files_hold_the_keyspace(server, r2):
    """SNAPSHOT's directory, read by an independent reader: meta.json's size and CRC-32 match state.bin, whose
    records are exactly the keyspace, with the expiries."""
    expire_at = int(time.time() * 1000) + 3_600_000
    r2.mset({"a": "1", b"bin\r\n\x00": b"\x00\r\n", "": "empty key", "empty": ""})
    r2.set("ttl", "t", pxat=expire_at)
    r2.set(b"\xff\xfe", os.urandom(100_000))
    plain(r2)
    before_ms = int(time.time() * 1000)
    path = snapshot(r2)
    after_ms = int(time.time() * 1000)
    assert os.path.dirname(path) == os.path.realpath(os.path.join(server.data_dir, "snapshots"))
    snap = read_snapshot(path)
    assert before_ms <= snap.taken_at <= after_ms
    assert path.endswith(f"/{snap.taken_at}-1")
    assert snap.records == sorted([(b"", b"empty key", None), (b"a", b"1", None), (b"bin\r\n\x00", b"\x00\r\n", None),
                                   (b"empty", b"", None), (b"ttl", b"t", expire_at),
                                   (b"\xff\xfe", r2.get(b"\xff\xfe"), None)])
    assert snap.taken_at // 1000 <= lastsave(r2) <= int(time.time())

    assert parse_snapshot(path) == as_commands(snap.records)  # kvnode's own reader agrees
    alias = r2.execute_command("RAFTSNAPSHOT").decode()
    assert alias != path and read_snapshot(alias).records == snap.records


@kvnode_only
def test_snapshot_in_a_pipeline_answers_in_order(server, raw):
    c = raw()
    c.send(encode("SET", "before", "1") + encode("SNAPSHOT") + encode("GET", "before") + encode("SET", "after", "2")
           + encode("PING"))
    assert c.reply() == b"+OK\r\n"
    path = c.reply().split(b"\r\n")[1].decode()
    assert c.reply() == b"$1\r\n1\r\n"
    assert c.reply() == b"+OK\r\n"
    assert c.reply() == b"+PONG\r\n"
    # Written earlier in the same read; "after" came later.
    assert read_snapshot(path).records == [(b"before", b"1", None)]


@kvnode_only
def test_expired_keys_are_left_out(server, r2):
    r2.set("stays", "1", px=3_600_000)
    r2.set("goes", "1", px=1)
    wait_until(lambda: r2.get("goes") is None, what="the key to expire")
    set_at = time.time()
    r2.set("goes2", "1", px=1)  # expired but never read: still stored, yet not in the snapshot
    wait_until(lambda: time.time() > set_at + 0.005, what="the key's expiry to pass")
    records = read_snapshot(snapshot(r2)).records
    assert [k for k, _, _ in records] == [b"stays"]
    assert records[0][2] is not None


# --- rotation, restart ------------------------------------------------------------------------

@kvnode_only
@pytest.mark.parametrize("keep", [None, 3])
def test_only_the_newest_snapshots_are_kept(base_dir, keep):
    srv = KVNode(base_dir, *([] if keep is None else ["--snapshot-keep", str(keep)]))
    with srv:
        with srv.client() as c:
            paths = []
            for i in range(5):
                c.set("round", i)
                paths.append(snapshot(c))
            kept = keep or 2
            assert srv.snapshots() == [os.path.basename(p) for p in paths[-kept:]]
            for i, path in enumerate(paths[-kept:], start=5 - kept):
                assert read_snapshot(path).records == [(b"round", str(i).encode(), None)]


@kvnode_only
def test_snapshots_and_lastsave_survive_a_restart(base_dir):
    srv = KVNode(base_dir)
    with srv:
        with srv.client() as c:
            c.set("k", "v")
            path = snapshot(c)
        srv.restart()
        with srv.client() as c:
            created = int(os.path.basename(path).split("-")[0]) // 1000
            assert lastsave(c) == created
            assert c.get("k") == b"v"
            assert snapshot(c) != path
        assert len(srv.snapshots()) == 2


@kvnode_only
def test_shutdown_during_bgsave_cancels_it_and_leaves_nothing(base_dir):
    """SHUTDOWN right behind BGSAVE (one write): the snapshot is still being written when the server stops,
    so it is cancelled, and neither a snapshot nor its temporary directory is left."""
    srv = KVNode(base_dir)
    with srv:
        n = 100_000  # 50 MB that gzip cannot shrink: about a second of writing, far longer than a shutdown
        assert pipe_into(srv.port, b"".join(encode_set(b"key:%07d" % i, os.urandom(500)) for i in range(n))) \
            == f"errors: 0, replies: {n}"
        with Raw(srv.host, srv.port, timeout=60) as c:
            c.send(encode("BGSAVE") + encode("SHUTDOWN"))
            assert c.reply() == b"+Background saving started\r\n"
            assert c.read_until_closed(timeout=60) == b""  # SHUTDOWN: no reply, the connection closes
        assert srv.proc.wait(60) == 0
        assert os.listdir(srv.snapshot_dir) == []
        log = open(srv.log_path).read()
        assert "snapshot cancelled: the server is shutting down" in log, srv.log_tail()
        assert "snapshot written" not in log
        srv.start()
        with srv.client() as c:
            assert c.dbsize() == n


# --- failures ---------------------------------------------------------------------------------

@kvnode_only
def test_snapshot_into_a_read_only_data_dir_fails_cleanly(base_dir):
    # Root ignores file modes, so run the server as nobody when the tests run as root (setpriv: util-linux).
    wrapper = []
    if os.geteuid() == 0:
        wrapper = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"]
    srv = KVNode(base_dir, wrapper=wrapper)
    os.makedirs(srv.data_dir)
    if wrapper:
        os.chown(srv.data_dir, 65534, 65534)
    with srv:
        with srv.client() as c:
            c.set("k", "v")
            os.chmod(srv.data_dir, 0o555)
            with pytest.raises(ResponseError) as e:
                snapshot(c)
            assert str(e.value).startswith("snapshot failed: cannot create directory")
            assert "Permission denied" in str(e.value)
            assert not os.path.exists(srv.snapshot_dir)

            os.chmod(srv.data_dir, 0o755)
            os.mkdir(srv.snapshot_dir, 0o555)
            if wrapper:
                os.chown(srv.snapshot_dir, 65534, 65534)
            with pytest.raises(ResponseError) as e:
                plain(c).execute_command("SAVE")
            assert "Permission denied" in str(e.value)
            assert os.listdir(srv.snapshot_dir) == []

            os.chmod(srv.snapshot_dir, 0o755)
            assert c.get("k") == b"v"  # the server is unharmed
            path = snapshot(c)
            assert parse_commands(parse_snapshot(path)) == [(b"k", b"v", None)]


@kvnode_only
def test_snapshot_on_a_full_disk_fails_cleanly(base_dir):
    """A 1 MiB tmpfs on DATA/snapshots, mounted in a mount namespace of the server's own."""
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    if probe.returncode != 0:  # needs root (CAP_SYS_ADMIN); an unprivileged container cannot
        pytest.skip(f"cannot mount a tmpfs in a mount namespace here: {probe.stderr.decode().strip()}")
    srv = KVNode(base_dir)
    os.makedirs(srv.snapshot_dir)
    srv.wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   f'mount -t tmpfs -o size=1m tmpfs "{srv.snapshot_dir}" && exec "$0" "$@"']
    with srv:
        # The server's view of its snapshot directory, inside its mount namespace.
        view = f"/proc/{srv.pid}/root{srv.snapshot_dir}"
        with srv.client() as c:
            with c.pipeline(transaction=False) as p:
                for i in range(40):
                    p.set(f"random:{i}", os.urandom(64 << 10))  # incompressible: 2.5 MiB of gzip
                p.execute()
            with pytest.raises(ResponseError) as e:
                snapshot(c)
            assert "No space left on device" in str(e.value)
            assert os.listdir(view) == []

            c.flushall()
            c.set("small", "ok")
            path = snapshot(c)
            assert os.listdir(view) == [os.path.basename(path)]


# --- kvnode-dump ------------------------------------------------------------------------------

@pytest.fixture
def small_snapshot(server, r2, tmp_path):
    """A copy of a snapshot of a few keys, in tmp_path/snap."""
    r2.set(b"bin\r\n\x00key", b"\x00\r\nvalue")
    r2.set("ttl", "v", px=3_600_000)
    with r2.pipeline(transaction=False) as p:
        for i in range(2000):
            p.set(f"user:{i}", os.urandom(32).hex())
        p.execute()
    copy = tmp_path / "snap"
    shutil.copytree(snapshot(r2), copy)
    return copy


@kvnode_only
def test_kvnode_dump_matches_parse_snapshot(small_snapshot, tmp_path):
    stream = parse_snapshot(small_snapshot)
    assert stream == as_commands(read_snapshot(small_snapshot, copy=True).records)  # the same as an independent reader's
    assert parse_snapshot(small_snapshot, tool="dump") == stream
    assert parse_snapshot(small_snapshot / "state.bin", tool="dump") == stream
    assert len(parse_commands(stream)) == 2002

    out = tmp_path / "users.resp"
    res = run_dump(str(small_snapshot), "--match", "user:1?", "-o", str(out))
    assert res.returncode == 0 and res.stdout == b"", res.stderr
    assert sorted(k for k, _, _ in parse_commands(out.read_bytes())) == [f"user:1{d}".encode() for d in range(10)]


@kvnode_only
@pytest.mark.parametrize("damage", ["flip", "truncate", "truncate-without-meta", "append"])
def test_damaged_snapshots_are_refused(small_snapshot, tmp_path, damage):
    state = small_snapshot / "state.bin"
    data = bytearray(state.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
        expected = "checksum mismatch"
    elif damage == "append":
        data += b"\x00"
        expected = "does not match meta.json"
    else:
        data = data[:len(data) * 2 // 3]
        expected = "truncated"
        if damage == "truncate-without-meta":
            (small_snapshot / "meta.json").unlink()
    state.write_bytes(bytes(data))
    out = tmp_path / "out.resp"
    for argv in ([str(small_snapshot)], [str(state)], [str(small_snapshot), "-o", str(out)]):
        res = run_dump(*argv)
        assert res.returncode == 1, res
        message = res.stderr.decode()
        assert message.startswith("kvnode-dump: ") and expected in message, message
        assert not out.exists()  # a failed dump leaves no partial file
        if damage != "truncate-without-meta":
            assert res.stdout == b""  # refused before anything was written
    res = subprocess.run([kvnode_bin(), "--parse-snapshot", str(small_snapshot)], capture_output=True, timeout=60)
    assert res.returncode == 1 and expected in res.stderr.decode(), res


@kvnode_only
def test_kvnode_dump_of_a_data_directory(base_dir, tmp_path):
    srv = KVNode(base_dir)
    with srv:
        with srv.client() as c:
            c.set("a", "1")
            c.set(b"b\x00", b"2\r\n", px=3_600_000)
            c.set("expired", "x", px=1)
        res = run_dump("--data", srv.data_dir)
        assert res.returncode == 1
        assert "in use: a running kvnode-server holds its LevelDB LOCK" in res.stderr.decode()
    res = run_dump("--data", srv.data_dir)
    assert res.returncode == 0, res.stderr
    commands = parse_commands(res.stdout)
    assert [(k, v) for k, v, _ in commands] == [(b"a", b"1"), (b"b\x00", b"2\r\n")]
    assert commands[0][2] is None and commands[1][2] > time.time() * 1000

    res = run_dump("--data", srv.data_dir, "--match", "b*")
    assert [k for k, _, _ in parse_commands(res.stdout)] == [b"b\x00"]
    res = run_dump("--data", str(tmp_path / "missing"))
    assert res.returncode == 1 and "is not a directory" in res.stderr.decode()


@kvnode_only
def test_parse_snapshot_commands_load_with_pipe(small_snapshot, server, r2):
    """The stream replays into the running server with no errors."""
    r2.flushall()
    stream = parse_snapshot(small_snapshot) + encode_set(b"extra", b"1")
    assert pipe_into(server.port, stream) == "errors: 0, replies: 2003"
    assert r2.dbsize() == 2003
    assert r2.get(b"bin\r\n\x00key") == b"\x00\r\nvalue"
