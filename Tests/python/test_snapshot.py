"""SNAPSHOT, SAVE, BGSAVE, LASTSAVE: replies, files, rotation, failures, and the kvnode-dump tool."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis
from redis.exceptions import ResponseError

from conftest import encode, kvnode_bin
from snapshot_tools import KVNode, encode_set, parse_commands, parse_snapshot, pipe_into, run_dump

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


@kvnode_only
def test_snapshot_save_bgsave_lastsave(server, r2):
    r2.mset({"a": "1", b"bin\r\n\x00": b"\x00\r\n"})
    plain(r2)
    before = lastsave(r2)
    path = snapshot(r2)
    assert os.path.dirname(path) == os.path.realpath(os.path.join(server.data_dir, "snapshots"))
    assert sorted(os.listdir(path)) == ["meta.json", "state.bin"]
    meta = json.loads(open(os.path.join(path, "meta.json")).read())
    assert meta["id"] == os.path.basename(path) and meta["key_count"] == 2 and meta["format_version"] == 1
    assert meta["size"] == os.path.getsize(os.path.join(path, "state.bin"))
    assert meta["checksum"].startswith("crc32:")
    assert lastsave(r2) >= before

    assert r2.execute_command("RAFTSNAPSHOT").decode() != path
    assert r2.execute_command("SAVE") == b"OK"
    assert r2.execute_command("BGSAVE") == b"Background saving started"
    # BGSAVE SCHEDULE is accepted; while the first still runs the reply is Redis's "already in progress".
    try:
        assert r2.execute_command("BGSAVE", "SCHEDULE") == b"Background saving started"
    except ResponseError as e:
        assert str(e) == "Background save already in progress"
    wait_until(lambda: _save_succeeds(r2), what="the background snapshot to finish")
    assert isinstance(lastsave(r2), int)


def _save_succeeds(c: redis.Redis) -> bool:
    try:
        return c.execute_command("SAVE") == b"OK"
    except ResponseError as e:
        assert str(e) == "Background save already in progress"
        return False


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
    keys = {k for k, _, _ in parse_commands(parse_snapshot(path))}
    assert keys == {b"before"}  # written earlier in the same read; "after" came later


@kvnode_only
def test_expired_keys_are_left_out(server, r2):
    r2.set("stays", "1", px=3_600_000)
    r2.set("goes", "1", px=1)
    wait_until(lambda: r2.get("goes") is None, what="the key to expire")
    r2.set("goes2", "1", px=1)  # expired but never read: still stored, yet not in the snapshot
    time.sleep(0.01)
    stream = parse_commands(parse_snapshot(snapshot(r2)))
    assert [k for k, _, _ in stream] == [b"stays"]
    assert stream[0][2] is not None


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
            newest = parse_commands(parse_snapshot(paths[-1]))
            assert newest == [(b"round", b"4", None)]


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
def test_shutdown_during_bgsave_leaves_no_partial_snapshot(base_dir):
    srv = KVNode(base_dir)
    with srv:
        with srv.client() as c:
            with c.pipeline(transaction=False) as p:
                for i in range(100_000):
                    p.set(f"key:{i}", "x" * 100)
                p.execute()
            assert plain(c).execute_command("BGSAVE") == b"Background saving started"
            c.shutdown()  # no reply, as in Redis; redis-py expects the connection to close
        assert srv.proc.wait(60) == 0
        leftovers = [n for n in os.listdir(srv.snapshot_dir) if n.startswith(".")]
        assert leftovers == []
        for name in srv.snapshots():  # if it finished first, it is complete
            assert run_dump(os.path.join(srv.snapshot_dir, name)).returncode == 0


# --- failures ---------------------------------------------------------------------------------

@kvnode_only
def test_snapshot_into_a_read_only_data_dir_fails_cleanly(base_dir):
    # Root ignores file modes, so run the server as nobody when the tests run as root.
    wrapper = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop privileges")
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
    if probe.returncode != 0:
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
