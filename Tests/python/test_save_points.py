"""The `save` setting (CONFIG SET save, --save): snapshots taken by the server itself when a save point is reached,
and the INFO persistence counters behind it (rdb_changes_since_last_save, rdb_saves, ...).

Each test that depends on when the last save happened runs a server of its own, so nothing another test did counts.
The reference redis-server is started with --save "", which CONFIG SET overrides."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time

import pytest

from conftest import TARGET, Raw, kvnode_bin, start_server

kvnode_only = pytest.mark.kvnode_only

INVALID = b"-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"
# With `save "1 N"` a server saves once N keys changed and more than a second passed since the last save, checked
# several times a second; a window this long would see a save if the change count were not what held it back.
QUIET_WINDOW = 3.5
DEADLINE = 30.0


def persistence(c: Raw) -> dict[str, str]:
    reply = c.cmd("INFO", "persistence")
    text = reply.split(b"\r\n", 1)[1].decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def saves(c: Raw) -> int:
    return int(persistence(c)["rdb_saves"])


def changes(c: Raw) -> int:
    return int(persistence(c)["rdb_changes_since_last_save"])


def lastsave(c: Raw) -> int:
    reply = c.cmd("LASTSAVE")
    assert reply.startswith(b":"), reply
    return int(reply[1:-2])


def wait_for(predicate, what: str, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stays(predicate, what: str, window: float = QUIET_WINDOW):
    """`predicate` holds at every poll for the whole window."""
    end = time.monotonic() + window
    while time.monotonic() < end:
        assert predicate(), f"{what} stopped holding within {window}s"
        time.sleep(0.1)


def saved_files(srv) -> list[str]:
    """What the server wrote: kvnode's snapshot directories, or Redis's dump.rdb."""
    if TARGET == "redis":
        return [n for n in os.listdir(srv.data_dir) if n == "dump.rdb"]
    try:
        return [n for n in os.listdir(os.path.join(srv.data_dir, "snapshots")) if not n.startswith(".")]
    except FileNotFoundError:
        return []


def get_save(c: Raw) -> bytes:
    reply = c.cmd("CONFIG", "GET", "save")
    assert reply.startswith(b"*2\r\n$4\r\nsave\r\n$"), reply
    return reply.split(b"\r\n")[4]


# --- the setting ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["1", "a b", "1 a", "0 1", "1 -1", "1 1 2", " 1 1", "1 1 ", "1\t 1", "1 1x", "-"])
def test_invalid_save_points_are_refused_with_redis_error(raw, value):
    c = raw()
    assert c.cmd("CONFIG", "SET", "save", "3600 1") == b"+OK\r\n"
    try:
        assert c.cmd("CONFIG", "SET", "save", value) == INVALID
        assert get_save(c) == b"3600 1"  # unchanged
    finally:
        assert c.cmd("CONFIG", "SET", "save", "") == b"+OK\r\n"


@pytest.mark.parametrize("value, shown", [
    ("", b""),
    ("3600 1 300 100 60 10000", b"3600 1 300 100 60 10000"),
    ("1 0", b"1 0"),
    ("+5 007", b"5 7"),                    # strtoll: a sign and leading zeros
    ("\t5 7", b"5 7"),                     # strtoll skips leading white space
    ("1  1  3 4", b"1 0 1 0 3 4"),         # split at every space: an empty field reads as 0
    ("99999999999999999999 1", b"9223372036854775807 1"),  # clamped, as strtoll does
    ("1 4294967297", b"1 1"),              # changes is a C int in Redis
])
def test_save_points_are_parsed_and_shown_like_redis(raw, value, shown):
    c = raw()
    try:
        assert c.cmd("CONFIG", "SET", "save", value) == b"+OK\r\n"
        assert get_save(c) == shown
    finally:
        assert c.cmd("CONFIG", "SET", "save", "") == b"+OK\r\n"


@kvnode_only
def test_no_save_points_by_default(raw, server):
    """kvnode keeps every key in LevelDB, so it takes no snapshot by itself unless told to."""
    c = raw()
    assert get_save(c) == b""
    before = saves(c)
    for i in range(5):
        c.cmd("SET", f"k{i}", "v")
    stays(lambda: saves(c) == before, "no snapshot without save points")


@kvnode_only
def test_save_option_sets_the_save_points():
    with start_server("--save", "1 2") as srv, Raw(srv.host, srv.port) as c:
        assert get_save(c) == b"1 2"
        assert c.cmd("MSET", "a", "1", "b", "2") == b"+OK\r\n"
        wait_for(lambda: saves(c) == 1 and changes(c) == 0, "the snapshot of the --save point")
        assert len(saved_files(srv)) == 1


@kvnode_only
@pytest.mark.parametrize("value", ["1", "a b", "0 1"])
def test_save_option_refuses_invalid_save_points(value):
    with tempfile.TemporaryDirectory() as data:
        result = subprocess.run([kvnode_bin(), "--addr", "127.0.0.1:0", "--data", data, "--save", value],
                                capture_output=True, timeout=60)
    assert result.returncode != 0
    assert b"--save" in result.stderr


# --- the change counter -----------------------------------------------------------------------

def test_changes_since_last_save_count_every_key_and_reset_after_a_save(raw):
    c = raw()
    assert c.cmd("SAVE") == b"+OK\r\n"
    assert changes(c) == 0
    assert c.cmd("MSET", "a", "1", "b", "2", "c", "3") == b"+OK\r\n"
    assert changes(c) == 3
    assert c.cmd("DEL", "a", "b", "missing") == b":2\r\n"
    assert changes(c) == 5
    assert c.cmd("INCR", "n") == b":1\r\n"
    assert c.cmd("EXPIRE", "n", "100") == b":1\r\n"
    assert c.cmd("PERSIST", "n") == b":1\r\n"
    assert c.cmd("PERSIST", "n") == b":0\r\n"       # nothing changed
    assert c.cmd("SETRANGE", "n", "0", "") == b":1\r\n"  # nothing changed
    assert c.cmd("GET", "c") == b"$1\r\n3\r\n"     # reads count nothing
    assert changes(c) == 8
    assert c.cmd("MSET", "x", "1", "y", "2") == b"+OK\r\n"
    assert c.cmd("FLUSHDB") == b"+OK\r\n"          # every key it removes
    assert changes(c) == 8 + 2 + 4
    assert c.cmd("FLUSHDB") == b"+OK\r\n"
    assert changes(c) == 14

    started = saves(c)
    assert c.cmd("BGSAVE") == b"+Background saving started\r\n"
    wait_for(lambda: persistence(c)["rdb_bgsave_in_progress"] == "0" and changes(c) == 0, "the BGSAVE to complete")
    info = persistence(c)
    assert int(info["rdb_saves"]) == started + 1
    assert info["rdb_last_bgsave_status"] == "ok"
    assert int(info["rdb_last_save_time"]) == lastsave(c)
    assert int(info["rdb_last_bgsave_time_sec"]) >= 0
    assert info["rdb_current_bgsave_time_sec"] == "-1"


def test_resetstat_zeroes_the_saves_started_but_not_the_changes(raw):
    c = raw()
    assert c.cmd("SAVE") == b"+OK\r\n"
    assert c.cmd("SET", "k", "v") == b"+OK\r\n"
    assert saves(c) >= 1
    assert c.cmd("CONFIG", "RESETSTAT") == b"+OK\r\n"
    assert saves(c) == 0
    assert changes(c) == 1


def test_expired_keys_are_not_changes(raw):
    c = raw()
    assert c.cmd("SET", "k", "v", "PX", "1") == b"+OK\r\n"
    assert c.cmd("SAVE") == b"+OK\r\n"
    time.sleep(0.01)
    assert c.cmd("GET", "k") == b"$-1\r\n"  # removed by the read
    assert changes(c) == 0


# --- save points ------------------------------------------------------------------------------

def test_save_point_waits_for_enough_changes_then_saves():
    with start_server() as srv, Raw(srv.host, srv.port) as c:
        base_saves, base_lastsave = saves(c), lastsave(c)
        assert c.cmd("CONFIG", "SET", "save", "1 3") == b"+OK\r\n"
        assert c.cmd("SET", "a", "1") == b"+OK\r\n"
        assert c.cmd("SET", "b", "2") == b"+OK\r\n"
        # More than a second passes: only the change count holds the save back.
        stays(lambda: saves(c) == base_saves and lastsave(c) == base_lastsave and changes(c) == 2,
              "no snapshot with 2 of 3 changes")
        assert saved_files(srv) == []

        assert c.cmd("SET", "c", "3") == b"+OK\r\n"
        wait_for(lambda: saves(c) == base_saves + 1 and changes(c) == 0, "the snapshot after 3 changes")
        info = persistence(c)
        assert info["rdb_last_bgsave_status"] == "ok"
        first = lastsave(c)
        assert first >= base_lastsave
        assert len(saved_files(srv)) == 1

        # The save points keep working: three more changes, another snapshot.
        assert c.cmd("MSET", "d", "4", "e", "5", "f", "6") == b"+OK\r\n"
        wait_for(lambda: saves(c) == base_saves + 2 and changes(c) == 0, "the second snapshot")
        assert lastsave(c) > first  # more than a second after the first


def test_empty_save_disables_the_save_points():
    with start_server() as srv, Raw(srv.host, srv.port) as c:
        base = saves(c)
        assert c.cmd("CONFIG", "SET", "save", "1 1") == b"+OK\r\n"
        assert c.cmd("CONFIG", "SET", "save", "") == b"+OK\r\n"
        assert get_save(c) == b""
        for i in range(5):
            assert c.cmd("SET", f"k{i}", "v") == b"+OK\r\n"
        stays(lambda: saves(c) == base and changes(c) == 5, "no snapshot after save \"\"")
        assert saved_files(srv) == []


@kvnode_only
def test_failed_save_is_retried_after_the_retry_delay():
    """A snapshot that fails (DATA/snapshots is a file, which stops root too) is tried again only after Redis's
    CONFIG_BGSAVE_RETRY_DELAY of 5 seconds, not at every check; once the cause is gone the next one succeeds."""
    with start_server() as srv, Raw(srv.host, srv.port) as c:
        blocker = os.path.join(srv.data_dir, "snapshots")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        assert c.cmd("SET", "k", "v") == b"+OK\r\n"
        assert c.cmd("CONFIG", "SET", "save", "1 1") == b"+OK\r\n"
        wait_for(lambda: saves(c) >= 1, "the first attempt")
        wait_for(lambda: persistence(c)["rdb_last_bgsave_status"] == "err", "the first attempt to fail")
        assert changes(c) == 1
        attempts = saves(c)
        # Checked ten times a second, it would try ~50 times in 5 s without the delay; with it, at most once more.
        stays(lambda: saves(c) <= attempts + 1, "at most one retry within the retry delay", window=5.0)
        wait_for(lambda: saves(c) >= attempts + 1, "a retry")

        os.remove(blocker)
        wait_for(lambda: persistence(c)["rdb_last_bgsave_status"] == "ok" and changes(c) == 0,
                 "a successful snapshot once the snapshot directory can be created", timeout=DEADLINE + 10)
        assert len(saved_files(srv)) == 1
