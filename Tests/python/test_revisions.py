"""Revisions, black-box: KV.SET ... IFREV under a race of 50 clients; history and revisions across a restart and a
kill -9 (at --durability high nothing acknowledged is missing); the change log turned off and on again; compaction's
error from KV.GET AT, KV.HISTORY FROM and KV.WATCH FROM; keyspace notifications, COMMAND and redis-cli."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest
import redis

from conftest import Raw, Workers, start_server, wait_until
from revision_tools import Event, Watch, history, kv_get, parse_resp, read_log, revision

pytestmark = pytest.mark.kvnode_only

PROGRESS = ("--watch-progress-interval-ms", "50")


def compacted(oldest: int, current: int) -> str:
    return f"COMPACTED the oldest retained revision is {oldest}, the current revision is {current}"


# --- Compare-and-set by revision ---------------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_fifty_clients_racing_kv_set_ifrev_exactly_one_wins_each_round(server):
    """50 clients (half RESP2, half RESP3) send `KV.SET race v IFREV r` at once, all with the key's current revision
    r: exactly one gets a revision back, the rest null, and the key then holds the winner's value at the winner's
    revision. The first round races to create the key (IFREV 0), the last to delete it (KV.DEL IFREV)."""
    clients, rounds = 50, 8
    connections = [server.client(protocol=2 + i % 2) for i in range(clients)]
    barrier = threading.Barrier(clients)
    expected = {0: 0}  # round -> the revision every client compares with
    replies: dict[int, list] = {n: [None] * clients for n in range(rounds + 1)}

    def racer(i: int) -> None:
        c = connections[i]
        for n in range(rounds + 1):
            barrier.wait(timeout=30)
            if n < rounds:
                replies[n][i] = c.execute_command("KV.SET", "race", f"round{n}-client{i}", "IFREV", expected[n])
            else:
                replies[n][i] = c.execute_command("KV.DEL", "race", "IFREV", expected[n])
            if barrier.wait(timeout=30) == 0:  # one thread notes the revision the next round starts from
                current = kv_get(c, "race")
                expected[n + 1] = current[b"revision"] if current else None

    base = revision(connections[0])[0]
    try:
        with Workers(timeout=60) as workers:
            for i in range(clients):
                workers.start(f"racer {i}", racer, i)
        for n in range(rounds + 1):
            winners = [(i, rev) for i, rev in enumerate(replies[n]) if rev is not None]
            assert len(winners) == 1, f"round {n} (IFREV {expected[n]}): winners {winners}"
            (winner, won_revision), = winners
            assert won_revision > expected[n]
            if n < rounds:
                assert expected[n + 1] == won_revision, f"round {n}: the key is at {expected[n + 1]}"
                value = kv_get(connections[0], "race", "AT", won_revision)
                assert value[b"value"] == f"round{n}-client{winner}".encode()
                assert value[b"version"] == n + 1 and value[b"created"] == expected[1]
            else:
                assert expected[n + 1] is None and connections[0].get("race") is None
        # Every round took exactly one revision: the losers changed nothing.
        assert revision(connections[0])[0] == base + rounds + 1
    finally:
        for c in connections:
            c.close()


def test_kv_set_and_kv_del_compare_with_the_key_revision(client):
    """IFREV compares with the key's last revision, whoever wrote it (a plain SET or INCR too); IFREV 0 means
    "only if absent"; KV.DEL replies 0 for a missing key and null on a mismatch."""
    first = client.execute_command("KV.SET", "k", "a", "IFREV", 0)
    assert client.execute_command("KV.SET", "k", "b", "IFREV", 0) is None
    client.set("k", "plain")
    assert client.execute_command("KV.SET", "k", "c", "IFREV", first) is None
    now = kv_get(client, "k")
    assert now[b"value"] == b"plain" and now[b"created"] == first and now[b"version"] == 2
    assert client.execute_command("KV.SET", "k", "c", "IFREV", now[b"revision"]) == now[b"revision"] + 1
    assert client.execute_command("KV.DEL", "k", "IFREV", now[b"revision"]) is None
    deleted = client.execute_command("KV.DEL", "k", "IFREV", now[b"revision"] + 1)
    assert deleted == now[b"revision"] + 2
    assert client.execute_command("KV.DEL", "k") == 0
    assert client.execute_command("KV.DEL", "k", "IFREV", 5) is None
    # A new key starts again: created is its own revision, version 1.
    again = client.execute_command("KV.SET", "k", "d", "EX", 100)
    got = kv_get(client, "k")
    assert (got[b"revision"], got[b"created"], got[b"version"]) == (again, again, 1)
    assert got[b"expires_at_ms"] > time.time() * 1000
    # Without KEEPTTL, KV.SET drops the TTL, as SET does; with it, keeps it.
    client.execute_command("KV.SET", "k", "e", "KEEPTTL")
    assert client.ttl("k") > 0
    client.execute_command("KV.SET", "k", "f")
    assert client.ttl("k") == -1 and kv_get(client, "k")[b"expires_at_ms"] == -1


# --- Restart and crash -------------------------------------------------------------------------------------------

def snapshot_of_revisions(c: redis.Redis, keys: list[str]) -> tuple:
    return (revision(c), {k: history(c, k.encode(), "LIMIT", 1000) for k in keys},
            {k: kv_get(c, k) for k in keys})


@pytest.mark.timeout(120)
def test_history_and_revisions_survive_a_restart_and_a_kill_9():
    """A clean restart and (at --durability high, where every reply waits for its fsync) a kill -9 keep every
    revision, key revision and history entry; the next write takes the next revision, never one already used."""
    keys = ["a", "b", "n", "gone"]
    with start_server("--durability", "high", *PROGRESS) as srv:
        with srv.client() as c:
            c.execute_command("KV.SET", "a", "1")
            c.mset({"a": "2", "b": "1", "gone": "x"})
            c.incr("n")
            c.incr("n")
            c.delete("gone")
            c.execute_command("KV.SET", "b", "2", "PX", 600_000)
            before = snapshot_of_revisions(c, keys)
        assert before[0] == (6, 1)
        for crash in (False, True):
            srv.restart(crash=crash)
            with srv.client(protocol=3) as c:
                assert snapshot_of_revisions(c, keys) == before, "after a " + ("kill -9" if crash else "restart")
        with srv.client() as c:
            assert c.execute_command("KV.SET", "a", "3") == 7
            assert [e.revision for e in read_log(srv, 7)] == [1, 2, 2, 2, 3, 4, 5, 6, 7]


@pytest.mark.timeout(150)
def test_at_durability_high_nothing_acknowledged_is_missing_after_kill_9():
    """Writers record every revision the server acknowledged (KV.SET's reply) and every INCR result; after a kill -9
    in the middle of their writes and a restart, each is in its key's KV.HISTORY and in a replay of the log, with
    its value; the log numbers its revisions without a gap; the next write takes a revision after every one
    acknowledged."""
    with start_server("--durability", "high", *PROGRESS) as srv:
        acknowledged: list[Event] = []
        counted: list[tuple[bytes, bytes]] = []
        lock = threading.Lock()

        def writer(n: int, stop: threading.Event) -> None:
            with srv.client(protocol=2 + n % 2) as c:
                for i in range(100_000):
                    if stop.is_set():
                        return
                    key, value = f"w{n}:{i % 50}".encode(), f"{n}-{i}".encode()
                    try:
                        rev = c.execute_command("KV.SET", key, value)
                        count = c.incr(f"count{n}")
                    except (redis.ConnectionError, redis.TimeoutError):
                        return  # killed: what was not acknowledged may be lost
                    with lock:
                        acknowledged.append(Event(rev, b"set", key, value))
                        counted.append((f"count{n}".encode(), str(count).encode()))

        with Workers(timeout=60) as workers:
            for n in range(4):
                workers.start(f"writer {n}", writer, n, workers.stop)
            workers.wait_until(lambda: len(acknowledged) >= 400, timeout=60, message="400 acknowledged writes")
            srv.kill()
        srv.start()
        with srv.client() as c:
            current, oldest = revision(c)
            assert oldest == 1
            assert current >= max(e.revision for e in acknowledged)
            by_key: dict[bytes, list[Event]] = {}
            for event in acknowledged:
                by_key.setdefault(event.key, []).append(event)
            for key, events in by_key.items():
                kept = set(history(c, key, "LIMIT", 10_000))
                missing = [e for e in events if e not in kept]
                assert not missing, f"acknowledged but missing from KV.HISTORY {key!r}: {missing[:5]}"
            log = read_log(srv, current)
            assert sorted({e.revision for e in log}) == list(range(1, current + 1))
            assert not set(acknowledged) - set(log), "acknowledged writes missing from the log's replay"
            logged_counts = {(e.key, e.value) for e in log}
            assert not set(counted) - logged_counts, "acknowledged INCR results missing from the log"
            assert c.execute_command("KV.SET", "after", "1") == current + 1
        print(f"{len(acknowledged)} acknowledged KV.SETs, {current} revisions after the crash")


@pytest.mark.timeout(120)
def test_change_log_off_and_on_again_restarts_the_log_and_keeps_counting():
    """With --change-log off revisions still advance, but nothing that needs the log answers; turned on again, the
    log starts after the revisions it missed: an older FROM or AT gets COMPACTED, and revisions keep increasing."""
    with start_server(*PROGRESS) as srv:
        with srv.client() as c:
            assert [c.execute_command("KV.SET", "a", v) for v in ("1", "2")] == [1, 2]
        srv.stop()
        srv.extra_args += ["--change-log", "off"]
        srv.start()
        with srv.client() as c:
            assert c.execute_command("KV.SET", "a", "3") == 3
            c.set("b", "1")
            assert kv_get(c, "a")[b"revision"] == 3 and kv_get(c, "a")[b"version"] == 3
            assert revision(c)[0] == 4
            with pytest.raises(redis.ResponseError, match="needs the change log"):
                Watch(srv, 2).start("KEY", "a", "FROM", 1)
            for command in (("KV.HISTORY", "a"), ("KV.GET", "a", "AT", "3"), ("KV.GET", "a", "AT", "1")):
                with pytest.raises(redis.ResponseError, match="needs the change log"):
                    c.execute_command(*command)
        srv.stop()
        srv.extra_args = srv.extra_args[:-2]
        srv.start()
        with srv.client() as c:
            assert revision(c) == (4, 5)
            for command in (("KV.HISTORY", "a", "FROM", 1), ("KV.GET", "a", "AT", 3)):
                with pytest.raises(redis.ResponseError) as error:
                    c.execute_command(*command)
                assert str(error.value) == compacted(5, 4)
            with pytest.raises(redis.ResponseError) as error:
                Watch(srv, 3).start("KEY", "a", "FROM", 2)
            assert str(error.value) == compacted(5, 4)
            assert history(c, b"a") == []
            assert c.execute_command("KV.SET", "a", "4") == 5
            assert kv_get(c, "a", "AT", 5)[b"value"] == b"4"
            assert read_log(srv, 5, start=5) == [Event(5, b"set", b"a", b"4")]


# --- Compaction --------------------------------------------------------------------------------------------------

@pytest.mark.timeout(60)
def test_a_compacted_revision_gets_the_error_naming_the_oldest_kept():
    """--change-log-max-revisions 10: the background trim (each second) drops revisions 1..30 of 40; KV.GET AT,
    KV.HISTORY FROM and KV.WATCH FROM below the horizon reply the COMPACTED error, in both protocols; from the
    horizon on everything is there."""
    with start_server("--change-log-max-revisions", "10", *PROGRESS) as srv, srv.client() as r2, \
            srv.client(protocol=3) as r3:
        for i in range(1, 41):
            assert r2.execute_command("KV.SET", "k", str(i)) == i
        wait_until(lambda: revision(r2) == (40, 31), timeout=20, message="the trim keeping revisions 31..40",
                   interval=0.05)
        error = compacted(31, 40)
        for c in (r2, r3):
            for command in (("KV.GET", "k", "AT", 30), ("KV.GET", "k", "AT", 1), ("KV.HISTORY", "k", "FROM", 30),
                            ("KV.HISTORY", "k", "FROM", 1, "LIMIT", 5)):
                with pytest.raises(redis.ResponseError) as raised:
                    c.execute_command(*command)
                assert str(raised.value) == error, command
            assert kv_get(c, "k", "AT", 31)[b"value"] == b"31"
            assert [e.revision for e in history(c, b"k")] == list(range(31, 41))
            assert [e.revision for e in history(c, b"k", "FROM", 35, "DESC", "LIMIT", 3)] == [35, 34, 33]
        for protocol in (2, 3):
            with pytest.raises(redis.ResponseError) as raised:
                Watch(srv, protocol).start("PREFIX", "", "FROM", 30)
            assert str(raised.value) == error
        with Raw(srv.host, srv.port) as raw:
            assert raw.cmd("KV.WATCH", "KEY", "k", "FROM", "1") == f"-{error}\r\n".encode()
        assert [e.value for e in read_log(srv, 40, start=31)] == [str(i).encode() for i in range(31, 41)]


@pytest.mark.timeout(60)
def test_retention_by_age_and_by_size():
    """--change-log-max-age 1 trims revisions older than a second; --change-log-max-mb 1 keeps the log under 1 MiB."""
    with start_server("--change-log-max-age", "1") as srv, srv.client() as c:
        for i in range(5):
            c.execute_command("KV.SET", "k", str(i))
        wait_until(lambda: revision(c) == (5, 6), timeout=20, message="revisions 1..5 aged out", interval=0.1)
        assert history(c, b"k") == [] and c.get("k") == b"4"
        assert c.execute_command("KV.SET", "k", "x") == 6 and revision(c) == (6, 6)
    with start_server("--change-log-max-mb", "1") as srv, srv.client() as c:
        value = b"v" * 65536
        for i in range(48):  # 3 MiB of events
            c.execute_command("KV.SET", f"k{i % 4}", value)
        wait_until(lambda: c.info("changelog")["change_log_bytes"] <= 1 << 20, timeout=20, interval=0.1,
                   message=lambda: f"the log under 1 MiB ({c.info('changelog')})")
        current, oldest = revision(c)
        assert current == 48 and 20 < oldest <= 48
        assert [e.revision for e in history(c, b"k3")] == list(range(((oldest + 3) // 4) * 4, 49, 4))


# --- Notifications, COMMAND, redis-cli ---------------------------------------------------------------------------

def test_keyspace_notifications_fire_for_kv_set_and_kv_del_as_for_set_and_del(server, r2):
    """CONFIG SET notify-keyspace-events KEA: KV.SET notifies `set` (and `expire` with EX), KV.DEL `del`, exactly as
    SET and DEL do; a KV.SET that loses its IFREV notifies nothing."""
    r2.config_set("notify-keyspace-events", "KEA")
    try:
        def notifications(*commands) -> list[tuple[bytes, bytes]]:
            with server.client() as sub_client:
                p = sub_client.pubsub()
                p.psubscribe("__key*__:*")
                assert p.get_message(timeout=5)["type"] == "psubscribe"
                for command in commands:
                    r2.execute_command(*command)
                r2.publish("end", "x")
                got = []
                p.subscribe("end")
                while True:
                    m = p.get_message(timeout=5)
                    assert m is not None, f"notifications stopped after {got}"
                    if m["type"] == "subscribe":
                        r2.publish("end", "x")
                    elif m["type"] == "message":
                        break
                    elif m["type"] == "pmessage":
                        got.append((m["channel"], m["data"]))
                p.close()
                return got

        plain = notifications(("SET", "k", "1"), ("SET", "k", "2", "EX", "100"), ("DEL", "k"))
        kv = notifications(("KV.SET", "k", "1"), ("KV.SET", "k", "2", "EX", "100"), ("KV.DEL", "k"),
                           ("KV.SET", "k", "3", "IFREV", "999"), ("KV.DEL", "k", "IFREV", "999"))
        assert plain == kv
        assert (b"__keyevent@0__:set", b"k") in kv and (b"__keyevent@0__:del", b"k") in kv
        assert (b"__keyspace@0__:k", b"expire") in kv
    finally:
        r2.config_set("notify-keyspace-events", "")


KV_COMMANDS = ["kv.get", "kv.set", "kv.del", "kv.history", "kv.revision", "kv.watch", "kv.unwatch"]


def test_command_info_and_docs_list_the_kv_commands(raw):
    """COMMAND INFO, COMMAND DOCS and COMMAND LIST know the KV.* commands (read as the server sends them: redis-py
    reshapes COMMAND INFO)."""
    connection = raw()

    def command(*args):
        reply, = parse_resp(connection.cmd("COMMAND", *args))[0]
        return reply

    info = command("INFO", *KV_COMMANDS)
    assert [row[0] for row in info] == [name.encode() for name in KV_COMMANDS]
    arity = {row[0]: row[1] for row in info}
    assert arity[b"kv.get"] == -2 and arity[b"kv.set"] == -3 and arity[b"kv.watch"] == -3
    assert arity[b"kv.revision"] == 1
    flags = {row[0]: set(row[2]) for row in info}
    assert b"write" in flags[b"kv.set"] and b"write" in flags[b"kv.del"] and b"readonly" in flags[b"kv.get"]
    # KV.SET names its key like SET: first key 1, last 1, step 1.
    assert info[1][3:6] == [1, 1, 1]
    assert set(KV_COMMANDS) <= {name.decode() for name in command("LIST")}
    docs = command("DOCS", *KV_COMMANDS)
    documented = dict(zip(docs[::2], docs[1::2]))
    assert set(documented) == {name.encode() for name in KV_COMMANDS}
    for name, doc in documented.items():
        fields = dict(zip(doc[::2], doc[1::2]))
        assert fields[b"summary"], name
    watch_arguments = dict(zip(documented[b"kv.watch"][::2], documented[b"kv.watch"][1::2]))[b"arguments"]
    tokens = {dict(zip(a[::2], a[1::2])).get(b"token") for a in watch_arguments}
    assert {b"FROM", b"INITIAL", b"PREVKV"} <= tokens


@pytest.fixture
def redis_cli():
    path = shutil.which("redis-cli")
    if path is None:
        pytest.fail("redis-cli not installed (apt-get install redis-tools)", pytrace=False)
    return path


def cli(redis_cli: str, server, *args: str) -> str:
    done = subprocess.run([redis_cli, "-h", server.host, "-p", str(server.port), *args], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_redis_cli_drives_kv_set_get_history(redis_cli):
    """redis-cli shows KV.SET's revision, KV.GET's fields (RESP2 pairs, RESP3 a map), KV.HISTORY's entries, a lost
    IFREV as nil and a future revision as an error."""
    with start_server() as server:
        check_redis_cli_session(redis_cli, server)


def check_redis_cli_session(redis_cli: str, server) -> None:
    assert cli(redis_cli, server, "KV.SET", "k", "v1") == "1\n"
    assert cli(redis_cli, server, "--no-raw", "KV.SET", "k", "v2") == "(integer) 2\n"
    assert cli(redis_cli, server, "--no-raw", "KV.SET", "k", "v3", "IFREV", "1") == "(nil)\n"
    assert cli(redis_cli, server, "--no-raw", "KV.GET", "k") == (
        ' 1) "value"\n 2) "v2"\n 3) "revision"\n 4) (integer) 2\n 5) "created"\n 6) (integer) 1\n'
        ' 7) "version"\n 8) (integer) 2\n 9) "expires_at_ms"\n10) (integer) -1\n')
    assert cli(redis_cli, server, "-3", "--no-raw", "KV.GET", "k", "AT", "1") == (
        '1# "value" => "v1"\n2# "revision" => (integer) 1\n3# "created" => (integer) 1\n'
        '4# "version" => (integer) 1\n5# "expires_at_ms" => (integer) -1\n')
    assert cli(redis_cli, server, "--no-raw", "KV.DEL", "k") == "(integer) 3\n"
    assert cli(redis_cli, server, "--no-raw", "KV.HISTORY", "k") == (
        '1) 1) (integer) 1\n   2) "set"\n   3) "v1"\n'
        '2) 1) (integer) 2\n   2) "set"\n   3) "v2"\n'
        '3) 1) (integer) 3\n   2) "del"\n   3) (nil)\n')
    assert cli(redis_cli, server, "KV.HISTORY", "k", "FROM", "2", "LIMIT", "1") == "2\nset\nv2\n"
    assert cli(redis_cli, server, "-3", "--no-raw", "KV.REVISION") == (
        '1# "current" => (integer) 3\n2# "oldest" => (integer) 1\n')
    assert cli(redis_cli, server, "--no-raw", "KV.GET", "k", "AT", "9") == "(error) ERR revision 9 is in the future\n"
    assert cli(redis_cli, server, "--no-raw", "KV.GET", "k") == "(nil)\n"
