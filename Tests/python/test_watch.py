"""KV.WATCH, black-box: watchers cut off at random points resume with FROM and see the change log exactly; a watcher
that stops reading is cut off with kv.lagged while the server's memory stays bounded, and resumes without a loss;
progress messages; INITIAL, PREVKV, KV.UNWATCH; a RESP2 watcher's subscribed mode."""

from __future__ import annotations

import os
import random
import socket
import threading
import time

import pytest
import redis

from conftest import Raw, Server, Workers, encode, rss_bytes, start_server, wait_until
from revision_tools import (Event, Watch, current_keyspace, event_of, history, matches, parse_resp, read_log,
                            replay, revision)

pytestmark = pytest.mark.kvnode_only

# Idle watchers hear of the current revision every 50 ms instead of every 10 s: how a reader knows it has everything.
PROGRESS = ("--watch-progress-interval-ms", "50")


def seed_for(request) -> int:
    """A fresh seed each run unless KVNODE_TEST_SEED fixes it; shown in the test's report when it fails."""
    seed = int(os.environ.get("KVNODE_TEST_SEED", random.randrange(1 << 32)))
    request.node.user_properties.append(("seed", seed))
    print(f"seed {seed} (rerun with KVNODE_TEST_SEED={seed})")
    return seed


# --- Watchers cut off at random points -------------------------------------------------------------------------

class Follower:
    """A watcher that keeps being cut off: it reads a random number of frames, closes its socket, and watches again
    with `FROM` the revision after the last one it holds completely.

    Events arrive one frame at a time, so a cut can fall inside a revision (an MSET's events): the events of the
    newest revision are held back until a later revision's event or a `kv.progress` shows that revision is
    complete, and a cut drops them, to be replayed whole. `events` is what it kept, in arrival order."""

    def __init__(self, server: Server, protocol: int, kind: str, argument: bytes, seed: int):
        self.server, self.protocol, self.kind, self.argument = server, protocol, kind, argument
        self.rng = random.Random(seed)
        self.events: list[Event] = []
        self.complete_through = 0  # every event of every revision up to this one is in `events`
        self.connections = 0
        self.final: int | None = None  # set by the test once the writer is done: the revision to reach
        self.done = False

    def __repr__(self) -> str:
        return f"{self.kind} {self.argument!r} RESP{self.protocol}"

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            assert self.connections < 3000, f"{self}: no end after {self.connections} connections"
            if self.follow_once():
                self.done = True
                return
            if self.rng.random() < 0.3:
                time.sleep(self.rng.uniform(0, 0.03))  # the writer moves on: the next watch replays more

    def follow_once(self) -> bool:
        """One connection; true once the final revision is reached."""
        self.connections += 1
        # Unlimited only once the writer is done, so that every follower is cut off many times while it writes.
        budget = self.rng.choice([0, 1, 2, 3, 5, 10, 30] + ([10**9] if self.final is not None else []))
        pending: list[Event] = []

        def keep_pending(through: int) -> None:
            if pending and pending[-1].revision <= through:
                self.events.extend(pending)
                pending.clear()
            self.complete_through = max(self.complete_through, through)

        with Watch(self.server, self.protocol) as watch:
            watch.start(self.kind, self.argument, "FROM", self.complete_through + 1)
            for _ in range(budget):
                frame = watch.frame()
                if frame[0] == b"kv.event":
                    event = event_of(frame)
                    if pending and event.revision != pending[-1].revision:
                        keep_pending(pending[-1].revision)
                    pending.append(event)
                elif frame[0] == b"kv.progress":
                    keep_pending(frame[2])
                    if self.final is not None and self.complete_through >= self.final:
                        return True
                else:
                    raise AssertionError(f"{self}: unexpected frame {frame!r}")
        return False


class MixedWriter:
    """One client running a seeded random mix of writing commands, with TTLs short enough that the sweeper and lazy
    expiry (reads of expired keys) delete keys while it runs. It notes the revision of each MSET and EXEC, read back
    with KV.GET (it is the only client that writes), to check that a multi-key command is one revision."""

    KEYS = [b"w:k%d" % i for i in range(16)] + [b"w:hot", b"x:%d" % 0, b"x:1", b"x:2"]
    COUNTERS = [b"w:n0", b"w:n1", b"x:n"]

    def __init__(self, client: redis.Redis, seed: int):
        self.r = client
        self.rng = random.Random(seed)
        self.expiry_deadline = 0.0  # monotonic time by which every TTL given has run out
        # (revision, [(key, value)] it set, every key it touched)
        self.multi_key: list[tuple[int, list[tuple[bytes, bytes]], set[bytes]]] = []
        self.counts: dict[str, int] = {}

    def key(self) -> bytes:
        return self.rng.choice(self.KEYS) if self.rng.random() < 0.85 else self.rng.choice(self.COUNTERS)

    def value(self) -> bytes:
        return b"v%d" % self.rng.randrange(10**6)

    def ttl_ms(self) -> int:
        ttl = self.rng.choice([5, 20, 50, 120, 300])
        self.expiry_deadline = max(self.expiry_deadline, time.monotonic() + ttl / 1000 + 0.05)
        return ttl

    def step(self) -> None:
        r, rng = self.r, self.rng
        op = rng.choices(["set", "setpx", "incr", "del", "pexpire", "expire", "mset", "exec", "pdel", "get",
                          "append", "kvset", "kvdel", "rename", "flushdb"],
                         [20, 8, 8, 8, 6, 1, 6, 6, 2, 10, 4, 6, 3, 2, 0.15])[0]
        self.counts[op] = self.counts.get(op, 0) + 1
        if op == "set":
            r.set(self.key(), self.value())
        elif op == "setpx":
            r.set(self.key(), self.value(), px=self.ttl_ms())
        elif op == "incr":
            try:
                r.incr(rng.choice(self.COUNTERS))
            except redis.ResponseError:  # a counter some SET or APPEND made a string
                pass
        elif op == "del":
            r.delete(*rng.sample(self.KEYS, rng.randint(1, 3)))
        elif op == "pexpire":
            r.pexpire(self.key(), self.ttl_ms())
        elif op == "expire":
            key = self.key()
            if r.expire(key, 1):
                self.expiry_deadline = max(self.expiry_deadline, time.monotonic() + 1.05)
        elif op == "mset":
            pairs = [(k, self.value()) for k in dict.fromkeys(rng.sample(self.KEYS, rng.randint(2, 5)))]
            r.mset(dict(pairs))
            self.multi_key.append((self.revision_of(pairs[0][0]), pairs, {k for k, _ in pairs}))
        elif op == "exec":
            pairs = [(k, self.value()) for k in dict.fromkeys(rng.sample(self.KEYS, rng.randint(2, 4)))]
            counter = rng.choice(self.COUNTERS)
            with r.pipeline(transaction=True) as p:
                for k, v in pairs:
                    p.set(k, v)
                p.incr(counter)
                p.execute(raise_on_error=False)
            self.multi_key.append((self.revision_of(pairs[0][0]), pairs, {k for k, _ in pairs} | {counter}))
        elif op == "pdel":
            r.execute_command("PDEL", rng.choice([b"w:k1*", b"x:*", b"w:k?"]))
        elif op == "get":
            r.get(self.key())
        elif op == "append":
            r.append(self.key(), b"+")
        elif op == "kvset":
            key = self.key()
            current = r.execute_command("KV.GET", key)
            expected = 0 if current is None else current[3]
            won = r.execute_command("KV.SET", key, self.value(), "IFREV", expected)
            # Only this client writes: IFREV fails only when the key's TTL ran out in between.
            assert won is not None or current[9] != -1, f"KV.SET {key!r} IFREV {expected} failed: {current}"
        elif op == "kvdel":
            r.execute_command("KV.DEL", self.key())
        elif op == "rename":
            source, target = rng.sample(self.KEYS, 2)
            try:
                r.rename(source, target)
            except redis.ResponseError:  # no such key
                pass
        elif op == "flushdb":
            r.flushdb()

    def revision_of(self, key: bytes) -> int:
        return self.r.execute_command("KV.GET", key)[3]


WATCHES = [("PREFIX", b"w:", 3), ("PREFIX", b"w:", 2), ("PATTERN", b"w:k1*", 3), ("PATTERN", b"*:n*", 2),
           ("KEY", b"w:hot", 2), ("KEY", b"w:k3", 3), ("PREFIX", b"", 2)]


@pytest.mark.timeout(150)
@pytest.mark.parametrize("durability", ["low", "medium", "high"])
def test_watchers_cut_off_at_random_points_see_exactly_the_log(request, durability):
    """A writer runs mixed commands while watchers (KEY, PREFIX, PATTERN; RESP2 and RESP3) are cut off at random
    points and resume with FROM. Each watcher's events, concatenated, are the log's events for its keys: same
    order, no gap, no duplicate. The log itself (a replay FROM 1) numbers revisions 1..R with no gap, agrees with
    every key's KV.HISTORY, makes each MSET and EXEC one revision, and replayed gives the final keyspace."""
    seed = seed_for(request)
    steps = 2500
    with start_server(*PROGRESS, "--durability", durability, "--expiry-sweep-interval", "30") as srv, \
            srv.client() as r2, Workers(timeout=90) as workers:
        followers = [Follower(srv, protocol, kind, argument, seed + i)
                     for i, (kind, argument, protocol) in enumerate(WATCHES)]
        for i, follower in enumerate(followers):
            workers.start(f"follower {i} {follower}", follower.run, workers.stop)
        writer = MixedWriter(r2, seed)
        for step in range(steps):
            workers.check()
            if step == steps // 2:
                r2.flushdb()  # at least one, whatever the seed
            writer.step()
        # Every TTL given runs out and the sweeper deletes the keys (no read here deletes them lazily).
        wait_until(lambda: time.monotonic() > writer.expiry_deadline, interval=0.01)
        wait_until(lambda: r2.info("keyspace").get("db0", {}).get("expires", 0) == 0, message="every TTL swept")
        final, oldest = revision(r2)
        assert oldest == 1
        for follower in followers:
            follower.final = final
        # Each follower returns once a progress frame reaches the final revision.
        workers.wait_until(lambda: all(f.done for f in followers), timeout=60,
                           message=lambda: "followers reaching revision %d: %s" % (
                               final, [(str(f), f.complete_through) for f in followers]))
        assert revision(r2) == (final, 1), "nothing may write while the followers finish"

        log = read_log(srv, final)
        revisions = [e.revision for e in log]
        assert revisions == sorted(revisions), "the log's replay is out of order"
        assert sorted(set(revisions)) == list(range(1, final + 1)), \
            f"revisions missing from the log: {sorted(set(range(1, final + 1)) - set(revisions))[:20]}"
        for follower in followers:
            expected = [e for e in log if matches(follower.kind, follower.argument, e)]
            assert follower.events == expected, first_difference(str(follower), follower.events, expected)
            assert follower.connections > 5, f"{follower} was hardly cut off ({follower.connections} connections)"
        # The 'h' index (KV.HISTORY) tells the same story as the 'r' log, key by key.
        for key in sorted({e.key for e in log if e.op != b"flush"}):
            from_log = [e for e in log if e.key == key and e.op != b"flush"]
            assert history(r2, key, "LIMIT", 10_000) == from_log, first_difference(
                f"KV.HISTORY {key!r}", history(r2, key, "LIMIT", 10_000), from_log)
        # A multi-key command is one revision holding its keys' events (and lazy expiries of those keys).
        by_revision: dict[int, list[Event]] = {}
        for event in log:
            by_revision.setdefault(event.revision, []).append(event)
        for rev, pairs, touched in writer.multi_key:
            sets = [(e.key, e.value) for e in by_revision[rev] if e.op == b"set"]
            assert sets[:len(pairs)] == pairs, f"revision {rev}: {by_revision[rev]} for {pairs}"
            assert {e.key for e in by_revision[rev]} <= touched, \
                f"revision {rev} holds events of keys it did not touch: {by_revision[rev]}"
        # Replaying the log gives the keyspace; each watcher's events give its part of it.
        final_keyspace = current_keyspace(r2)
        assert replay(log) == final_keyspace
        for follower in followers:
            mine = {k: v for k, v in final_keyspace.items()
                    if matches(follower.kind, follower.argument, Event(0, b"set", k, v))}
            assert replay(follower.events) == mine, str(follower)
        ops = {e.op for e in log}
        assert {b"set", b"del", b"expired", b"flush"} <= ops, f"the mix made only {ops} (writer: {writer.counts})"
        print(f"revisions {final}, events {len(log)}, connections {[f.connections for f in followers]}")


def first_difference(who: str, got: list[Event], expected: list[Event]) -> str:
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            return f"{who}: event {i} is {a}, the log has {b} (around: got {got[max(0, i - 2):i + 3]}, " \
                   f"log {expected[max(0, i - 2):i + 3]})"
    return f"{who}: {len(got)} events, the log has {len(expected)} (tail: got {got[-3:]}, log {expected[-3:]})"


# --- A watcher that stops reading ----------------------------------------------------------------------------------

def watchers(c: redis.Redis) -> int:
    return c.info("changelog")["kv_watchers"]


@pytest.mark.timeout(120)
def test_a_watcher_that_stops_reading_is_cut_off_and_resumes_without_a_loss():
    """A RESP3 watcher of every key never reads while a writer stores 80 MB of 256 KiB values. The server cuts it
    off once 4 MiB (--watch-output-limit-mb 4) wait for it, and its memory grows by far less than what was written.
    When the watcher finally reads, it finds its events with no gap, then `kv.lagged` naming the last revision it
    was sent, then the end of the connection; a watch FROM that revision + 1 delivers every later event."""
    value_size, writes, limit_mb = 256 * 1024, 320, 4
    with start_server("--watch-output-limit-mb", str(limit_mb), "--durability", "low", "--write-buffer-mb", "1",
                      "--block-cache-mb", "8", *PROGRESS) as srv, srv.client() as c:
        def value(i: int) -> bytes:
            return (b"%07d," % i) * (value_size // 8)

        # Warm up without a watcher: LevelDB's memtables and the allocator reach their working size.
        for i in range(80):
            c.execute_command("KV.SET", f"warm:{i % 8}", value(i))
        baseline = rss_bytes(srv.pid)
        quiet = socket.socket()
        quiet.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        quiet.connect((srv.host, srv.port))
        try:
            quiet.sendall(encode("HELLO", "3") + encode("KV.WATCH", "PREFIX", ""))
            wait_until(lambda: watchers(c) == 1, message="the watch registered")
            start = revision(c)[0]
            peak = baseline
            cut_at = None
            for i in range(writes):
                c.execute_command("KV.SET", f"big:{i % 8}", value(i))
                peak = max(peak, rss_bytes(srv.pid))
                if cut_at is None and watchers(c) == 0:
                    cut_at = i
            final = revision(c)[0]
            assert final == start + writes
            assert cut_at is not None and cut_at < writes // 2, f"cut off after write {cut_at} of {writes}"
            growth = peak - baseline
            print(f"RSS baseline {baseline >> 20} MiB, peak {peak >> 20} MiB (+{growth >> 20} MiB) for "
                  f"{writes * value_size >> 20} MiB written; cut off after write {cut_at}")
            # The unsent output (the limit), LevelDB's 1 MiB memtables, allocator slack: far less than written.
            assert growth < (limit_mb + 24) << 20, f"RSS grew by {growth >> 20} MiB"

            reader = Raw.__new__(Raw)
            reader.sock, reader.buf = quiet, b""
            frames, rest = parse_resp(reader.read_until_closed(timeout=30))
        finally:
            quiet.close()
        assert rest == b""
        hello, acknowledgement, *events, lagged = frames
        assert hello[b"proto"] == 3 and acknowledgement == [b"kv.watch", 1, start]
        assert lagged[:2] == [b"kv.lagged", 1], lagged
        last_sent = lagged[2]
        assert [frame[2] for frame in events] == list(range(start + 1, last_sent + 1))
        assert all(event_of(frame) == Event(start + k + 1, b"set", b"big:%d" % (k % 8), value(k))
                   for k, frame in enumerate(events))

        # Resumed, it gets everything after the last revision it was sent.
        resumed = []
        with Watch(srv, 3) as watch:
            watch.start("PREFIX", "", "FROM", last_sent + 1)
            while True:
                frame = watch.frame()
                if frame[0] == b"kv.progress" and frame[2] >= final:
                    break
                if frame[0] == b"kv.event":
                    event = event_of(frame)
                    assert event == Event(event.revision, b"set", b"big:%d" % ((event.revision - start - 1) % 8),
                                          value(event.revision - start - 1)), event.revision
                    resumed.append(event.revision)
        assert resumed == list(range(last_sent + 1, final + 1))


@pytest.mark.timeout(120)
def test_a_watcher_cut_off_during_its_replay_resumes_without_a_loss():
    """A watcher replaying 50 MB of log FROM 1 never reads, while new writes pile up behind its replay: the replay
    goes no faster than the socket takes it (the server's memory grows by far less than the log), the watcher is cut
    off, and `kv.lagged` names a revision through which it really was sent every event, however far its replay got,
    so resuming after it loses nothing."""
    value_size, logged, limit_mb = 256 * 1024, 200, 4
    with start_server("--watch-output-limit-mb", str(limit_mb), "--durability", "low", "--write-buffer-mb", "1",
                      "--block-cache-mb", "8", *PROGRESS) as srv, srv.client() as c:
        def value(i: int) -> bytes:
            return (b"%07d," % i) * (value_size // 8)

        for i in range(1, logged + 1):
            c.execute_command("KV.SET", f"big:{i % 8}", value(i))
        baseline = peak = rss_bytes(srv.pid)
        quiet = socket.socket()
        quiet.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        quiet.connect((srv.host, srv.port))
        try:
            quiet.sendall(encode("HELLO", "3") + encode("KV.WATCH", "PREFIX", "", "FROM", "1"))
            wait_until(lambda: watchers(c) == 1, message="the watch registered")
            final = logged
            for _ in range(200):  # until the writes waiting behind the replay pass the limit
                final += 1
                c.execute_command("KV.SET", f"big:{final % 8}", value(final))
                peak = max(peak, rss_bytes(srv.pid))
                if watchers(c) == 0:
                    break
            assert watchers(c) == 0, "the watcher was never cut off"
            growth = peak - baseline
            print(f"RSS baseline {baseline >> 20} MiB, peak {peak >> 20} MiB (+{growth >> 20} MiB) replaying "
                  f"{logged * value_size >> 20} MiB; cut off after {final - logged} more writes")
            reader = Raw.__new__(Raw)
            reader.sock, reader.buf = quiet, b""
            frames, rest = parse_resp(reader.read_until_closed(timeout=30))
        finally:
            quiet.close()
        hello, acknowledgement, *events, lagged = frames
        assert acknowledgement == [b"kv.watch", 1, logged] and lagged[:2] == [b"kv.lagged", 1], (acknowledgement, lagged)
        last_sent = lagged[2]
        got = [frame[2] for frame in events]
        assert got[:last_sent] == list(range(1, last_sent + 1)), \
            f"kv.lagged {last_sent}, but the watcher was sent revisions {got[0]}..{got[-1]}"
        assert last_sent < logged, "cut off after its replay: the test wants it cut in the middle"
        assert all(event_of(frame).value == value(frame[2]) for frame in events)
        assert growth < (limit_mb + 24) << 20, f"RSS grew by {growth >> 20} MiB while replaying to a non-reader"
        with Watch(srv, 3) as watch:
            watch.start("PREFIX", "", "FROM", last_sent + 1)
            resumed = []
            while not resumed or resumed[-1] < final:
                frame = watch.frame()
                if frame[0] == b"kv.event":
                    assert event_of(frame).value == value(frame[2])
                    resumed.append(frame[2])
        assert resumed == list(range(last_sent + 1, final + 1))


# --- Progress ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_an_idle_watcher_hears_the_current_revision(protocol):
    """kv.progress tells an idle watcher the revision it is caught up to, including writes to keys it does not
    watch, so that it can resume after it; a watcher that keeps receiving events gets none."""
    with start_server(*PROGRESS) as srv, srv.client() as c, Watch(srv, protocol) as watch:
        c.set("other", "0")
        watch_id, start = watch.start("KEY", "watched")
        assert start == 1

        def next_progress(at_least: int) -> int:
            for _ in range(200):
                frame = watch.frame()
                assert frame[0] == b"kv.progress" and frame[1] == watch_id, frame
                if frame[2] >= at_least:
                    return frame[2]
            raise AssertionError(f"no progress to {at_least}")

        assert next_progress(1) == 1
        for i in range(5):
            c.set("other", str(i))
        assert next_progress(6) == 6
        c.set("watched", "x")
        frame = watch.frame()
        while frame[0] == b"kv.progress" and frame[2] == 6:
            frame = watch.frame()
        assert frame == [b"kv.event", watch_id, 7, b"set", b"watched", b"x"]
        assert next_progress(7) == 7


# --- INITIAL, PREVKV, KV.UNWATCH -----------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_initial_sends_current_values_then_synced_then_live_events(protocol):
    with start_server(*PROGRESS) as srv, srv.client() as c, Watch(srv, protocol) as watch:
        c.mset({"cfg:a": "1", "cfg:b": "2", "zzz": "3"})
        c.set("cfg:c", "3", px=600_000)
        c.set("cfg:a", "4")
        c.set("cfg:gone", "x", px=1)
        time.sleep(0.01)
        watch_id, start = watch.start("PATTERN", "cfg:*", "INITIAL")
        assert start == 4
        initial = [watch.frame() for _ in range(4)]
        assert initial == [[b"kv.event", watch_id, 3, b"set", b"cfg:a", b"4"],
                           [b"kv.event", watch_id, 1, b"set", b"cfg:b", b"2"],
                           [b"kv.event", watch_id, 2, b"set", b"cfg:c", b"3"],
                           [b"kv.synced", watch_id, 4]]
        c.set("cfg:b", "5")
        c.set("other", "6")
        c.delete("cfg:c")
        live = [f for f in (watch.frame() for _ in range(6)) if f[0] != b"kv.progress"][:2]
        assert live == [[b"kv.event", watch_id, 5, b"set", b"cfg:b", b"5"],
                        [b"kv.event", watch_id, 7, b"del", b"cfg:c", None]]


@pytest.mark.timeout(90)
def test_initial_over_many_keys_while_a_writer_runs_has_no_gap_at_the_seam(request):
    """INITIAL over 3000 keys (many replay steps) while another client keeps writing them: the initial values are at
    or before the start revision, the live events after it, and together they give the final keyspace."""
    rng = random.Random(seed_for(request))
    with start_server(*PROGRESS) as srv, srv.client() as c, Workers() as workers, Watch(srv, 3) as watch:
        for batch in range(0, 3000, 500):
            c.mset({f"init:{i:05d}": f"v{i}" for i in range(batch, batch + 500)})

        def writer(stop: threading.Event) -> int:
            with srv.client() as w:
                for n in range(600):
                    key = f"init:{rng.randrange(3100):05d}"
                    if rng.random() < 0.2:
                        w.delete(key)
                    else:
                        w.set(key, f"w{n}")
            return revision(w)[0]

        workers.start("writer", writer, workers.stop)
        watch_id, start = watch.start("PREFIX", "init:", "INITIAL")
        initial, live = [], []
        frame = watch.frame()
        while frame[0] != b"kv.synced":
            initial.append(event_of(frame))
            frame = watch.frame()
        assert frame == [b"kv.synced", watch_id, start]
        workers.join()
        final = workers.results["writer"]
        while True:
            frame = watch.frame()
            if frame[0] == b"kv.progress" and frame[2] >= final:
                break
            if frame[0] == b"kv.event":
                live.append(event_of(frame))
        assert [e.key for e in initial] == sorted(e.key for e in initial)
        assert all(e.revision <= start for e in initial) and all(e.revision > start for e in live)
        assert [e.revision for e in live] == sorted(e.revision for e in live)
        assert replay(live, {e.key: e.value for e in initial}) == current_keyspace(c)


@pytest.mark.parametrize("protocol", [2, 3])
def test_prevkv_carries_the_previous_value(protocol):
    with start_server(*PROGRESS) as srv, srv.client() as c, Watch(srv, protocol) as watch:
        c.set("a", "1")
        c.set("a", "2")
        c.delete("a")
        c.set("a", "3", px=20)
        wait_until(lambda: c.exists("a") == 0)
        c.execute_command("KV.SET", "a", "4")
        watch_id, start = watch.start("KEY", "a", "FROM", 1, "PREVKV")
        frames = [watch.frame() for _ in range(6)]
        assert frames == [[b"kv.event", watch_id, 1, b"set", b"a", b"1", None],
                          [b"kv.event", watch_id, 2, b"set", b"a", b"2", b"1"],
                          [b"kv.event", watch_id, 3, b"del", b"a", None, b"2"],
                          [b"kv.event", watch_id, 4, b"set", b"a", b"3", None],
                          [b"kv.event", watch_id, 5, b"expired", b"a", None, b"3"],
                          [b"kv.event", watch_id, 6, b"set", b"a", b"4", None]]
        c.append("a", "5")
        frame = watch.frame()
        while frame[0] == b"kv.progress":
            frame = watch.frame()
        assert frame == [b"kv.event", watch_id, 7, b"set", b"a", b"45", b"4"]


def test_kv_unwatch_ends_one_watch_or_all(server):
    with server.client() as c, Watch(server, 3) as watch:
        first, _ = watch.start("KEY", "a")
        second, _ = watch.start("KEY", "b")
        assert (first, second) == (1, 2)
        watch.send("KV.UNWATCH", first)
        assert watch.frame() == [b"kv.unwatch", 1, 1]
        c.set("a", "1")
        c.set("b", "1")
        frame = watch.frame()
        assert frame[:2] == [b"kv.event", 2] and frame[4] == b"b"
        # The connection still runs commands (RESP3 pushes come out of band).
        watch.send("GET", "b")
        assert watch.frame() == b"1"
        watch.send("KV.UNWATCH")
        assert watch.frame() == [b"kv.unwatch", 2, 0]
        third, _ = watch.start("PREFIX", "")
        assert third == 3
        c.set("a", "2")
        c.set("b", "2")
        frames = [watch.frame(), watch.frame()]
        assert [(f[0], f[1], f[4]) for f in frames] == [(b"kv.event", 3, b"a"), (b"kv.event", 3, b"b")]
        assert watch.frame(timeout=0.3) is None


SUBSCRIBED_GET = (b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
                  b"allowed in this context\r\n")


def test_a_resp2_watcher_is_in_subscribed_mode(raw, server):
    """In RESP2 a watching connection only receives frames, as a subscriber does: other commands get Redis's
    subscribed-mode error (the same bytes as after SUBSCRIBE), PING answers as a message; KV.UNWATCH or RESET
    return it to normal."""
    subscriber = raw()
    assert subscriber.cmd("SUBSCRIBE", "ch") == b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    assert subscriber.cmd("GET", "k") == SUBSCRIBED_GET
    watcher = raw()
    assert watcher.cmd("KV.WATCH", "KEY", "k").startswith(b"*3\r\n$8\r\nkv.watch\r\n:1\r\n:")
    assert watcher.cmd("GET", "k") == SUBSCRIBED_GET
    assert watcher.cmd("SET", "k", "v").startswith(b"-ERR Can't execute 'set': only (P|S)SUBSCRIBE")
    assert watcher.cmd("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    assert watcher.cmd("PING", "hi") == b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
    assert watcher.cmd("KV.WATCH", "KEY", "j").startswith(b"*3\r\n$8\r\nkv.watch\r\n:2\r\n")
    assert watcher.cmd("KV.UNWATCH") == b"*3\r\n$10\r\nkv.unwatch\r\n:1\r\n:1\r\n"
    assert watcher.reply() == b"*3\r\n$10\r\nkv.unwatch\r\n:2\r\n:0\r\n"
    assert watcher.cmd("GET", "k") == b"$-1\r\n"
    assert watcher.cmd("KV.WATCH", "KEY", "k").startswith(b"*3\r\n$8\r\nkv.watch\r\n:3\r\n")
    assert watcher.cmd("RESET") == b"+RESET\r\n"
    assert watcher.cmd("SET", "k", "v") == b"+OK\r\n"
    assert watcher.cmd("GET", "k") == b"$1\r\nv\r\n"
    # With KV.WATCH and SUBSCRIBE both, a RESP2 connection stays subscribed until both end.
    assert watcher.cmd("KV.WATCH", "KEY", "k").startswith(b"*3\r\n$8\r\nkv.watch\r\n:")
    assert watcher.cmd("SUBSCRIBE", "ch") == b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    assert watcher.cmd("KV.UNWATCH").startswith(b"*3\r\n$10\r\nkv.unwatch\r\n")
    assert watcher.cmd("GET", "k") == SUBSCRIBED_GET


def test_watch_arguments_are_checked(r2):
    for args, error in [(("KV.WATCH", "KEY"), "wrong number of arguments for 'kv.watch' command"),
                        (("KV.WATCH", "RANGE", "a"), "syntax error"),
                        (("KV.WATCH", "KEY", "a", "FROM"), "syntax error"),
                        (("KV.WATCH", "KEY", "a", "FROM", "0"), "revision must be positive"),
                        (("KV.WATCH", "KEY", "a", "FROM", "x"), "revision must be a non-negative integer"),
                        (("KV.WATCH", "KEY", "a", "FROM", "999"), "revision 999 is in the future"),
                        (("KV.WATCH", "KEY", "a", "FROM", "1", "INITIAL"), "FROM and INITIAL cannot be combined")]:
        with pytest.raises(redis.ResponseError, match=f"^{error}"):
            r2.execute_command(*args)
