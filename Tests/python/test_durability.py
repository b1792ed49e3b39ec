"""--durability low/medium/high told apart by the syscalls the server makes (strace), not by surviving a kill -9:
data handed to the kernel survives a killed process at every level, so only the fsyncs tell the levels apart.
Then a simulated power cut (a copy of the data directory's disk image) shows what reached the device.

Every fsync, fdatasync and syncfs counts, on any descriptor and from any thread; a LevelDB log append is a write to
DATA/NNNNNN.log. The tests write through raw connections, each pipeline's keys and values carrying a token that is
found again in the log appends, and each pipeline ending in `ECHO token`, whose reply marks it on the socket.
"""

from __future__ import annotations

import bisect
import glob
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager

import pytest

from conftest import Raw, encode
from snapshot_tools import KVNode, dump_bin, parse_commands
from syscall_trace import Call, TracedKVNode, parse, to_client, wait_for

pytestmark = pytest.mark.kvnode_only

SETS_PER_BATCH = 5


@pytest.fixture(autouse=True)
def _needs_strace():
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed (scripts/test installs it: apt-get install strace)", pytrace=False)


@pytest.fixture
def base_dir():
    path = tempfile.mkdtemp(prefix="kvnode-durability-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def traced(base_dir: str, durability: str, *extra: str):
    srv = TracedKVNode(base_dir, "--durability", durability, *extra)
    srv.start()
    try:
        yield srv
    finally:
        srv.crash()


def token(name: str, number: int) -> str:
    """A marker no other marker contains (fixed width, closed by "z")."""
    return f"{name}{number:06d}z"


def pairs(tok: str) -> list[tuple[bytes, bytes]]:
    return [(f"{tok}:{i}".encode(), f"value-{tok}-{i}".encode()) for i in range(SETS_PER_BATCH)]


def send_batch(c: Raw, tok: str) -> None:
    c.send(b"".join(encode("SET", k, v) for k, v in pairs(tok)) + encode("ECHO", tok))


def read_batch(c: Raw, tok: str) -> None:
    for _ in range(SETS_PER_BATCH):
        assert c.reply() == b"+OK\r\n"
    assert c.reply() == b"$%d\r\n%s\r\n" % (len(tok), tok.encode())


def write_for(c: Raw, name: str, seconds: float) -> int:
    """Writes one pipeline after the other for `seconds`; returns how many."""
    count = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        send_batch(c, token(name, count))
        read_batch(c, token(name, count))
        count += 1
    return count


def mark(c: Raw, tok: str) -> None:
    """An ECHO whose reply write marks a point in the trace."""
    assert c.cmd("ECHO", tok) == b"$%d\r\n%s\r\n" % (len(tok), tok.encode())


def log_bytes(srv: TracedKVNode) -> bytes:
    return b"".join(open(p, "rb").read() for p in sorted(glob.glob(os.path.join(srv.data_dir, "*.log"))))


def appends_of(srv: TracedKVNode, calls: list[Call], tok: str) -> list[Call]:
    found = [c for c in calls if srv.is_log(c) and tok in c.text]
    assert found, f"no write to the LevelDB log carries {tok}"
    return found


def reply_with(calls: list[Call], tok: str) -> Call:
    (call,) = [c for c in calls if c.is_write and c.target.startswith("TCP:") and tok in c.text]
    return call


def unneeded_syncs(srv: TracedKVNode, calls: list[Call]) -> list[Call]:
    """Syncs with no data appended to the log since the sync before them.

    An fsync of the data directory itself is not counted: it belongs to the flush of a log file that appeared since
    the last one (making the new file's entry durable), not to a flush of its own."""
    data_appended = sorted(a.end for a in calls if srv.carries_data(a))
    out = []
    previous_sync_end = -1
    for call in calls:
        if call.is_sync and os.path.realpath(call.target) != os.path.realpath(srv.data_dir):
            # the first data append that completed after the previous sync: did it complete before this one began?
            i = bisect.bisect_right(data_appended, previous_sync_end)
            if i == len(data_appended) or data_appended[i] >= call.start:
                out.append(call)
            previous_sync_end = call.end
    return out


def syncs_between(calls: list[Call], after: int, before: int) -> list[Call]:
    """The syncs that started after line `after` and completed before line `before`."""
    return [c for c in calls if c.is_sync and c.start > after and c.end < before]


@pytest.mark.parametrize("command", [("BLPOP", "RPUSH"), ("BZPOPMIN", "ZADD", "1")])
def test_high_syncs_a_served_blocked_pop_before_its_reply(base_dir, command):
    """A client blocked in BLPOP or BZPOPMIN is served by another connection's push, under that connection's lease:
    its reply waits for an fsync after the pop reached the log, as any write's does."""
    blocking, push, *score = command
    with traced(base_dir, "high") as srv:
        waiter, pusher = Raw(srv.host, srv.port), Raw(srv.host, srv.port)
        port = waiter.sock.getsockname()[1]
        for round_number in range(5):
            tok = token(f"{blocking.lower()}r", round_number)
            waiter.send(encode(blocking, tok, "0"))
            wait_for(lambda: b"blocked_clients:1" in pusher.cmd("INFO", "clients"), 20, f"{blocking} to block")
            assert pusher.cmd(push, tok, *score, f"item-{tok}") == b":1\r\n"
            assert f"item-{tok}".encode() in waiter.reply()
        waiter.close()
        pusher.close()
    calls = srv.calls()
    replies = [c for c in calls if to_client(c, port)]
    for round_number in range(5):
        tok = token(f"{blocking.lower()}r", round_number)
        appended = max(a.end for a in appends_of(srv, calls, f"item-{tok}"))
        (reply,) = [w for w in replies if f"item-{tok}" in w.text]
        assert syncs_between(calls, appended, reply.start), (
            f"{tok}: the served {blocking}'s reply (trace line {reply.start}) went out before an fsync of its pop "
            f"(log append ending at line {appended})")


@pytest.mark.parametrize("connections", [1, 3])
def test_high_syncs_each_batch_after_its_log_append_and_before_its_reply(base_dir, connections):
    """With one connection, each batch needs a sync of its own; with three over the event loops, a sync made for
    another connection (group commit, or another loop's) may also cover a batch, as long as it ran in between."""
    rounds = 25
    with traced(base_dir, "high") as srv:
        clients = [Raw(srv.host, srv.port) for _ in range(connections)]
        ports = [c.sock.getsockname()[1] for c in clients]
        for r in range(rounds):
            # All connections write at once, so one fsync may serve several of them (group commit).
            for j, c in enumerate(clients):
                send_batch(c, token(f"c{j}r", r))
            for j, c in enumerate(clients):
                tok = token(f"c{j}r", r)
                read_batch(c, tok)
                # Acknowledged, so already written to the write-ahead log (not only to a buffer in the process).
                log = log_bytes(srv)
                assert all(k in log and v in log for k, v in pairs(tok)), f"{tok} acknowledged but not in the log"
        for c in clients:
            c.close()
    calls = srv.calls()

    for j, port in enumerate(ports):
        replies = [c for c in calls if to_client(c, port)]
        previous_echo = -1
        for r in range(rounds):
            tok = token(f"c{j}r", r)
            appended = max(a.end for a in appends_of(srv, calls, tok))
            # The batch's replies: the socket writes after the previous batch's ECHO, up to this one's.
            echo = reply_with(calls, tok)
            first_reply = min(w.start for w in replies if previous_echo < w.start <= echo.start)
            assert syncs_between(calls, appended, first_reply), (
                f"{tok}: no fsync/fdatasync/syncfs completed between its log append (trace line {appended}) "
                f"and its reply (line {first_reply})")
            previous_echo = echo.start
    # Implied by the above (each batch is appended after the previous reply), stated plainly.
    assert len([c for c in calls if c.is_sync]) >= rounds


def test_medium_syncs_about_once_a_second_while_writes_arrive(base_dir):
    with traced(base_dir, "medium") as srv:
        with Raw(srv.host, srv.port) as c:
            mark(c, "idle-start")
            time.sleep(2.5)  # nothing written: no sync is due (a window, as this shows an absence)
            batches = write_for(c, "m", 5)
            # The last writes are synced within about a second; wait for that sync in the trace.
            last = token("m", batches - 1)
            wait_for_trace(srv, lambda calls: [s for s in calls if s.is_sync
                                               and s.start > max(a.end for a in appends_of(srv, calls, last))],
                           what="the sync of the last writes")
            time.sleep(2.5)  # idle again: nothing more to sync
            mark(c, "idle-end")
    calls = srv.calls()

    first = min(appends_of(srv, calls, token("m", 0)), key=lambda a: a.start)
    last = max(appends_of(srv, calls, token("m", batches - 1)), key=lambda a: a.end)
    # Never a sync with nothing new to sync: in the idle seconds before and after the writes, none but those due.
    idle_start = reply_with(calls, "idle-start").start
    assert [s for s in unneeded_syncs(srv, calls) if s.start > idle_start] == []
    during = [s for s in calls if s.is_sync and first.start < s.start < last.end]
    seconds = last.at - first.at
    assert seconds > 4, seconds
    # About one a second (a 1 s sleep between syncs), loosely bounded for a loaded machine; never one per write.
    assert seconds - 2 <= len(during) <= 3 * seconds, (len(during), seconds)
    gaps = [b.at - a.at for a, b in zip(during, during[1:])]
    assert max(gaps) < 3, gaps
    assert len(during) * 10 < batches, (len(during), batches)
    after = syncs_between(calls, last.end, reply_with(calls, "idle-end").start)
    assert len(after) == 1, f"{len(after)} syncs after the last write; expected exactly one"


def test_low_never_syncs_while_writing(base_dir):
    with traced(base_dir, "low") as srv:
        with Raw(srv.host, srv.port) as c:
            batches = write_for(c, "l", 3)  # medium's second, three times over
        srv.crash()  # SIGKILL: the shutdown sync of SIGTERM would be allowed, but it is not what this tests
    calls = srv.calls()
    first = min(a.start for a in appends_of(srv, calls, token("l", 0)))
    appends = [c for c in calls if srv.is_log(c) and c.start > first]
    assert len(appends) >= batches - 1 and batches > 10
    assert [s for s in calls if s.is_sync and s.start > first] == []


def wait_for_trace(srv: TracedKVNode, predicate, what: str, timeout: float = 20):
    """Polls the trace of a running server (strace writes each line as it happens)."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate(parse(srv.trace_path))
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.1)


# --- power cut ----------------------------------------------------------------------------------
# The data directory is an ext2 file system in an image file, mounted through a loop device in a mount namespace of
# the server's own (gone with the server, which detaches the loop device). A copy of the image is what a power cut
# would leave: writes the file system has sent to its device, and nothing that is only in the page cache. ext2 has
# no journal commits, and the kernel writes dirty pages back only after 30 s, so only an fsync puts data there.

def in_mount(image: str, mountpoint: str) -> list[str]:
    """A command prefix that runs the command with `image` mounted on `mountpoint`, in a new mount namespace."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'mount -o loop "{image}" "{mountpoint}" && exec "$0" "$@"']


@pytest.fixture
def disk(base_dir):
    """An empty ext2 image, and a mount point for it."""
    image = os.path.join(base_dir, "disk.img")
    mountpoint = os.path.join(base_dir, "mnt")
    os.makedirs(mountpoint)
    subprocess.run(["truncate", "-s", "64M", image], check=True)
    subprocess.run(["mkfs.ext2", "-q", "-F", image], check=True)
    probe = subprocess.run(in_mount(image, mountpoint) + ["true"], capture_output=True)
    if probe.returncode != 0:  # needs root and loop devices, which an unprivileged container lacks
        pytest.skip(f"cannot mount a loop device here: {probe.stderr.decode().strip()}")
    return image, mountpoint


def keys_after_power_cut(image: str, mountpoint: str) -> set[bytes]:
    """The keys a server would find after a power cut now: kvnode-dump --data on a copy of the image."""
    cut = image + ".cut"
    shutil.copyfile(image, cut)
    res = subprocess.run(in_mount(cut, mountpoint) + [dump_bin(), "--data", os.path.join(mountpoint, "data")],
                         capture_output=True, timeout=120)
    os.unlink(cut)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return {k for k, _, _ in parse_commands(res.stdout)}


@pytest.mark.parametrize("durability", ["high", "medium", "low"])
def test_acknowledged_writes_survive_a_power_cut(disk, base_dir, durability):
    """high: every acknowledged write is on the device when its reply arrives. medium: within about a second, without
    anything else happening. low: not on the device yet (the control: the image really leaves out the page cache)."""
    image, mountpoint = disk
    srv = KVNode(base_dir, "--durability", durability, wrapper=in_mount(image, mountpoint))
    srv.data_dir = os.path.join(mountpoint, "data")
    srv.start()
    try:
        written = {f"key:{i}".encode() for i in range(200)}
        with srv.client() as c:
            for key in sorted(written)[:100]:
                c.set(key, b"v")
            c.mset({key: b"v" for key in sorted(written)[100:]})
        if durability == "high":
            assert written <= keys_after_power_cut(image, mountpoint)
        elif durability == "medium":
            wait_for(lambda: written <= keys_after_power_cut(image, mountpoint), timeout=30,
                     what="the writes to reach the device")
        else:
            assert not written <= keys_after_power_cut(image, mountpoint)
    finally:
        srv.kill()
