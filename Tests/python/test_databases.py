"""Numbered databases (issue 14): SELECT, MOVE, SWAPDB, COPY ... DB, FLUSHDB per database, DBSIZE, INFO keyspace,
keyspace notifications with the database, and redis-py's `redis://host/n` URLs.

Every expectation is validated against redis-server 7.0 (KVNODE_TARGET=redis)."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from blocking_helpers import Blocked, blocked_ids
from conftest import start_server, wait_until
from revision_tools import Watch
from snapshot_tools import (KVNode, RedisServer, parse_snapshot, pipe_into, read_snapshot, run_dump,
                            split_commands)
from snapshot_tools import require_redis_tools  # noqa: F401 (a fixture)
from type_helpers import dump

@pytest.fixture(scope="module")
def server():
    """A server of its own: some tests here restart it."""
    with start_server() as srv:
        yield srv


def test_select_errors_are_redis_texts(r2):
    assert r2.execute_command("SELECT", 0) is True
    with pytest.raises(redis.ResponseError, match=r"^value is not an integer or out of range$"):
        r2.execute_command("SELECT", "abc")
    with pytest.raises(redis.ResponseError, match=r"^DB index is out of range$"):
        r2.execute_command("SELECT", -1)
    with pytest.raises(redis.ResponseError, match=r"^DB index is out of range$"):
        r2.execute_command("SELECT", 16)


@pytest.mark.parametrize("protocol", [2, 3])
def test_databases_hold_separate_keys(server, protocol):
    with server.client(protocol=protocol, db=1) as one, server.client(protocol=protocol) as zero:
        one.flushall()
        one.set("k", "in-1")
        zero.set("k", "in-0")
        one.hset("h", "f", "v")
        assert one.get("k") == b"in-1" and zero.get("k") == b"in-0"
        assert zero.exists("h") == 0 and one.type("h") == b"hash"
        assert sorted(one.keys("*")) == [b"h", b"k"] and zero.keys("*") == [b"k"]
        assert one.dbsize() == 2 and zero.dbsize() == 1
        assert sorted(one.scan_iter()) == [b"h", b"k"]
        one.flushdb()
        assert one.dbsize() == 0 and zero.get("k") == b"in-0"


def test_a_url_naming_a_database_selects_it(server):
    url = f"redis://{server.host}:{server.port}/3"
    with redis.Redis.from_url(url) as three, server.client() as zero:
        three.set("celery", "x")
        assert zero.exists("celery") == 0
        zero.execute_command("SELECT", 3)
        assert zero.get("celery") == b"x"
        assert b"db=3" in zero.execute_command("CLIENT", "INFO")


def test_move_and_copy_between_databases(r2):
    r2.flushall()
    r2.set("a", "1")
    assert r2.move("a", 2) == 1
    assert r2.exists("a") == 0
    assert r2.move("missing", 2) == 0
    with pytest.raises(redis.ResponseError, match=r"^source and destination objects are the same$"):
        r2.move("a", 0)
    r2.execute_command("SELECT", 2)
    assert r2.get("a") == b"1"
    r2.set("b", "here")
    r2.execute_command("SELECT", 0)
    r2.set("b", "there")
    assert r2.move("b", 2) == 0, "MOVE does not overwrite"
    r2.rpush("l", "x", "y")
    assert r2.execute_command("COPY", "l", "l2", "DB", 5) == 1
    r2.execute_command("SELECT", 5)
    assert r2.lrange("l2", 0, -1) == [b"x", b"y"]
    with pytest.raises(redis.ResponseError, match=r"^DB index is out of range$"):
        r2.move("l2", 16)


def test_swapdb_flushall_and_info_keyspace(r2):
    r2.flushall()
    r2.set("zero", "0")
    r2.execute_command("SELECT", 1)
    r2.set("one", "1", px=100_000)
    r2.set("other", "1")
    assert r2.swapdb(0, 1) is True
    assert sorted(r2.keys()) == [b"zero"]
    r2.execute_command("SELECT", 0)
    assert sorted(r2.keys()) == [b"one", b"other"]
    keyspace = r2.info("keyspace")
    assert keyspace["db0"]["keys"] == 2 and keyspace["db0"]["expires"] == 1
    assert keyspace["db1"] == {"keys": 1, "expires": 0, "avg_ttl": 0}
    with pytest.raises(redis.ResponseError, match=r"^invalid first DB index$"):
        r2.execute_command("SWAPDB", "x", 1)
    with pytest.raises(redis.ResponseError, match=r"^DB index is out of range$"):
        r2.execute_command("SWAPDB", 0, 16)
    r2.flushall()
    assert r2.info("keyspace") == {}


def test_keyspace_notifications_name_the_database(server):
    with server.client() as c, server.client() as listener:
        c.config_set("notify-keyspace-events", "KEA")
        try:
            pubsub = listener.pubsub()
            pubsub.psubscribe("__key*@*__:*")
            assert pubsub.get_message(timeout=5)["type"] == "psubscribe"
            c.execute_command("SELECT", 4)
            c.set("k", "v")
            channels = set()
            for _ in range(2):
                message = pubsub.get_message(timeout=5)
                channels.add(message["channel"])
            assert channels == {b"__keyspace@4__:k", b"__keyevent@4__:set"}
            pubsub.close()
        finally:
            c.config_set("notify-keyspace-events", "")


def test_redis_cli_n_selects_a_database(server):
    base = ["redis-cli", "-h", server.host, "-p", str(server.port)]
    subprocess.run(base + ["FLUSHALL"], check=True, capture_output=True, timeout=30)
    subprocess.run(base + ["-n", "7", "SET", "cli", "seven"], check=True, capture_output=True, timeout=30)
    assert subprocess.run(base + ["-n", "7", "GET", "cli"], check=True, capture_output=True,
                          timeout=30).stdout == b"seven\n"
    assert subprocess.run(base + ["GET", "cli"], check=True, capture_output=True, timeout=30).stdout == b"\n"


# --- Every key command in the selected database ----------------------------------------------------------------


def in_db(server, db: int, protocol: int = 2) -> redis.Redis:
    return server.client(protocol=protocol, db=db)


def test_flushdb_clears_only_the_selected_database(server):
    with in_db(server, 0) as zero, in_db(server, 2) as two, in_db(server, 5) as five:
        for c in (zero, two, five):
            c.set("s", "v", px=100_000)
            c.hset("h", mapping={"a": "1", "b": "2"})
            c.rpush("l", "x", "y")
            c.zadd("z", {"m": 1.5})
        assert two.flushdb() is True
        assert two.dbsize() == 0 and two.keys("*") == [] and two.randomkey() is None
        for c in (zero, five):
            assert c.dbsize() == 4
            assert c.hgetall("h") == {b"a": b"1", b"b": b"2"} and c.lrange("l", 0, -1) == [b"x", b"y"]
            assert c.zscore("z", "m") == 1.5 and 0 < c.pttl("s") <= 100_000
        keyspace = zero.info("keyspace")
        assert set(keyspace) == {"db0", "db5"}
        assert keyspace["db5"]["keys"] == 4 and keyspace["db5"]["expires"] == 1
        # An emptied database can be filled again.
        two.set("again", "1")
        assert two.dbsize() == 1 and zero.exists("again") == 0


def test_keys_scan_randomkey_dbsize_exists_are_scoped(server):
    with in_db(server, 0) as zero, in_db(server, 9) as nine:
        zero.mset({"user:1": "a", "user:2": "b", "other": "c"})
        nine.mset({"user:3": "x"})
        nine.sadd("user:set", "m")
        assert sorted(zero.keys("user:*")) == [b"user:1", b"user:2"]
        assert sorted(nine.keys("user:*")) == [b"user:3", b"user:set"]
        assert sorted(nine.scan_iter(match="user:*")) == [b"user:3", b"user:set"]
        assert list(nine.scan_iter(_type="set")) == [b"user:set"] and list(zero.scan_iter(_type="set")) == []
        assert zero.dbsize() == 3 and nine.dbsize() == 2
        assert zero.exists("user:1", "user:3") == 1 and nine.exists("user:1", "user:3") == 1
        for _ in range(20):
            assert nine.randomkey() in (b"user:3", b"user:set")
        assert zero.type("user:set") == b"none" and nine.type("user:set") == b"set"
        assert zero.delete("user:3") == 0 and nine.get("user:3") == b"x"


@pytest.mark.kvnode_only
def test_kvnode_keys_options_and_pdel_are_scoped(server):
    with in_db(server, 0) as zero, in_db(server, 4) as four:
        zero.mset({"k1": "0", "k2": "0", "k3": "0"})
        four.mset({"k2": "4", "k3": "4", "k4": "4"})
        assert four.execute_command("KEYS", "k*", "PIVOT", "k2", "LIMIT", "5") == [b"k3", b"k4"]
        assert four.execute_command("KEYS", "*", "DESC", "WITHVALUES") == [b"k4", b"4", b"k3", b"4", b"k2", b"4"]
        assert four.execute_command("PDEL", "k*") == 3
        assert four.dbsize() == 0 and zero.dbsize() == 3
        assert zero.execute_command("KEYS", "*", "WITHVALUES") == [b"k1", b"0", b"k2", b"0", b"k3", b"0"]


def test_move_collections_and_keys_with_a_ttl(server):
    with in_db(server, 0) as zero, in_db(server, 3) as three:
        zero.hset("h", mapping={f"f{i}": str(i) for i in range(200)})
        zero.rpush("l", *[str(i) for i in range(10)])
        zero.zadd("z", {"a": 1, "b": float("inf"), "c": -2.5})
        zero.sadd("s", "x", "y")
        zero.set("t", "v", px=500_000)
        zero.hset("h2", "f", "v")
        zero.pexpire("h2", 400_000)
        for key in ("h", "l", "z", "s", "t", "h2"):
            assert zero.move(key, 3) == 1, key
            assert zero.exists(key) == 0
        assert three.hgetall("h") == {f"f{i}".encode(): str(i).encode() for i in range(200)}
        assert three.lrange("l", 0, -1) == [str(i).encode() for i in range(10)]
        assert three.zrange("z", 0, -1, withscores=True) == [(b"c", -2.5), (b"a", 1.0), (b"b", float("inf"))]
        assert three.smembers("s") == {b"x", b"y"}
        assert three.get("t") == b"v" and 0 < three.pttl("t") <= 500_000
        assert three.hget("h2", "f") == b"v" and 0 < three.pttl("h2") <= 400_000
        assert three.info("keyspace")["db3"]["expires"] == 2
        # The moved collection is a live key of database 3: it changes and moves back.
        three.rpush("l", "10")
        assert three.move("l", 0) == 1 and zero.llen("l") == 11
        # MOVE never overwrites, and a missing key moves nothing.
        zero.set("h", "string in 0")
        assert three.move("h", 0) == 0 and three.hlen("h") == 200 and zero.get("h") == b"string in 0"
        assert three.move("missing", 0) == 0


def test_copy_to_another_database(server):
    with in_db(server, 0) as zero, in_db(server, 6) as six:
        zero.zadd("z", {"a": 1, "b": 2})
        zero.pexpire("z", 300_000)
        six.set("z", "old")
        assert zero.copy("z", "z", destination_db=6) == 0
        assert zero.copy("z", "z", destination_db=6, replace=True) == 1
        assert six.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)] and 0 < six.pttl("z") <= 300_000
        assert zero.zcard("z") == 2
        # The same key in another database is not the same object.
        zero.set("s", "v")
        assert zero.copy("s", "s", destination_db=6) == 1 and six.get("s") == b"v"


def test_swapdb_swaps_for_every_client_and_blocked_pops(server):
    with in_db(server, 0) as zero, in_db(server, 1) as one:
        zero.set("a", "zero")
        one.rpush("q", "job")
        waiter = Blocked(server, "BLPOP", "q", "0", db=0)
        wait_until(lambda: waiter.id in blocked_ids(zero), message="BLPOP to block")
        assert zero.swapdb(0, 1) is True
        # The blocked client of database 0 is served by the list database 0 now holds.
        assert waiter.result() in ([b"q", b"job"], (b"q", b"job"))
        assert one.get("a") == b"zero" and zero.get("a") is None
        assert zero.swapdb(1, 1) is True and one.get("a") == b"zero"


def test_a_blocked_pop_waits_on_its_own_database(server):
    with in_db(server, 0) as zero, in_db(server, 1) as one:
        waiter = Blocked(server, "BLPOP", "q", "0", db=1)
        wait_until(lambda: waiter.id in blocked_ids(zero), message="BLPOP to block")
        assert zero.rpush("q", "for zero") == 1
        # A later command of the pushing connection has run after the push: a pop would have happened by then.
        assert zero.lrange("q", 0, -1) == [b"for zero"] and not waiter.done()
        assert waiter.id in blocked_ids(zero)
        assert one.rpush("q", "for one") == 1
        assert waiter.result() in ([b"q", b"for one"], (b"q", b"for one"))
        assert zero.lrange("q", 0, -1) == [b"for zero"] and one.exists("q") == 0


def test_select_inside_multi_applies_to_the_queued_commands_after_it(server):
    with in_db(server, 0) as c, in_db(server, 7) as seven:
        pipe = c.pipeline(transaction=True)
        pipe.set("k", "in 0")
        pipe.execute_command("SELECT", 7)
        pipe.set("k", "in 7")
        pipe.incr("n")
        assert pipe.execute() == [True, True, True, 1]
        assert seven.get("k") == b"in 7" and seven.get("n") == b"1"
        # The connection stays in database 7 after EXEC, as in Redis.
        assert c.get("k") == b"in 7"
        c.execute_command("SELECT", 0)
        assert c.get("k") == b"in 0" and c.exists("n") == 0
        assert b"db=0" in c.execute_command("CLIENT", "INFO")


def test_watch_is_per_database(server):
    with in_db(server, 0) as zero, in_db(server, 2) as two, in_db(server, 2) as other:
        two.set("k", "1")
        pipe = two.pipeline(transaction=True)
        pipe.watch("k")
        zero.set("k", "changed in 0")  # another database's k
        pipe.multi()
        pipe.set("k", "2")
        assert pipe.execute() == [True]
        pipe = two.pipeline(transaction=True)
        pipe.watch("k")
        other.set("k", "changed in 2")
        pipe.multi()
        pipe.set("k", "3")
        with pytest.raises(redis.WatchError):
            pipe.execute()
        # FLUSHDB of another database leaves the watch alone; of the watched one it fails EXEC.
        pipe = two.pipeline(transaction=True)
        pipe.watch("k")
        zero.flushdb()
        pipe.multi()
        pipe.set("k", "4")
        assert pipe.execute() == [True]


def test_reset_selects_database_zero_and_hello_keeps_it(server):
    with in_db(server, 3) as c:
        c.set("k", "3")
        c.execute_command("HELLO", "3")
        assert c.get("k") == b"3"
        assert c.execute_command("RESET") in (b"RESET", "RESET")
        assert c.get("k") is None
        assert b"db=0" in c.execute_command("CLIENT", "INFO")


def test_expired_keys_of_another_database_are_swept_with_its_event(server):
    with in_db(server, 3) as three, server.client() as listener:
        three.config_set("notify-keyspace-events", "Ex")
        try:
            pubsub = listener.pubsub()
            pubsub.psubscribe("__keyevent@*__:expired")
            wait_until(lambda: pubsub.get_message(timeout=0.1), message="the psubscribe confirmation")
            three.set("soon", "v", px=50)
            three.hset("hsoon", "f", "v")
            three.pexpire("hsoon", 50)
            three.set("later", "v", px=600_000)
            events = set()
            while len(events) < 2:  # nobody reads them: the sweeper removes them
                message = wait_until(lambda: pubsub.get_message(timeout=0.1), message=f"expired events after {events}")
                events.add((message["channel"], message["data"]))
            assert events == {(b"__keyevent@3__:expired", b"soon"), (b"__keyevent@3__:expired", b"hsoon")}
            assert three.info("keyspace")["db3"]["keys"] == 1
            pubsub.close()
        finally:
            three.config_set("notify-keyspace-events", "")


@pytest.mark.kvnode_only
def test_swapdb_and_every_database_survive_a_restart(server):
    with in_db(server, 0) as zero, in_db(server, 1) as one:
        zero.set("a", "zero")
        one.hset("h", "f", "one")
        one.set("t", "v", px=600_000)
        assert zero.swapdb(0, 1) is True
    server.restart()
    with in_db(server, 0) as zero, in_db(server, 1) as one:
        assert zero.hget("h", "f") == b"one" and 0 < zero.pttl("t") <= 600_000 and zero.exists("a") == 0
        assert one.get("a") == b"zero"
        keyspace = zero.info("keyspace")
        assert keyspace["db0"]["keys"] == 2 and keyspace["db0"]["expires"] == 1 and keyspace["db1"]["keys"] == 1
        # GET without the lock (database 0 after a SWAPDB) reads the swapped keys too.
        assert zero.get("t") == b"v"
    server.restart(crash=True)
    with in_db(server, 0) as zero:
        assert zero.get("t") == b"v" and zero.dbsize() == 2


@pytest.mark.kvnode_only
def test_databases_option_bounds_select():
    with start_server("--databases", "4") as srv, srv.client() as c:
        assert c.config_get("databases") == {"databases": "4"}
        assert c.execute_command("SELECT", 3) is True
        with pytest.raises(redis.ResponseError, match=r"^DB index is out of range$"):
            c.execute_command("SELECT", 4)


@pytest.mark.kvnode_only
def test_kv_watch_and_history_follow_the_selected_database(server):
    watch = Watch(server, 3)
    try:
        watch.send("SELECT", 2)
        assert watch.frame() == b"OK"
        watch.start("PREFIX", "w:", "INITIAL")
        with in_db(server, 0) as zero, in_db(server, 2) as two:
            zero.set("w:k0", "in zero")
            two.set("w:k2", "in two")
            zero.set("w:k0", "again")
            two.move("w:k2", 0)
            frames = []
            while not frames or frames[-1][0] != b"kv.event" or frames[-1][3] != b"del":
                frames.append(watch.frame())
            events = [(f[3], f[4]) for f in frames if f[0] == b"kv.event"]
            # Only database 2's changes: the set, then MOVE's delete of it (history outlives FLUSHALL: fresh names).
            assert events == [(b"set", b"w:k2"), (b"del", b"w:k2")], frames
            assert len(two.execute_command("KV.HISTORY", "w:k2")) == 2
            assert len(zero.execute_command("KV.HISTORY", "w:k2")) == 1
    finally:
        watch.close()


@pytest.mark.kvnode_only
@pytest.mark.parametrize("tool", ["server", "dump"])
def test_a_snapshot_of_three_databases_restores_into_kvnode_and_redis(server, tool, require_redis_tools, tmp_path):
    """SNAPSHOT holds every database; its replayable stream SELECTs each (none for database 0) and loads, through
    redis-cli --pipe, into a fresh kvnode and a real redis-server with the same content per database."""
    contents = {}
    for db in (0, 2, 11):
        with in_db(server, db) as c:
            c.set("shared", f"string of {db}")
            c.hset("h", mapping={f"f{i}": f"{db}:{i}" for i in range(150)})
            c.rpush("l", *[f"{db}-{i}" for i in range(5)])
            c.sadd("s", "a", str(db))
            c.zadd("z", {"m": db + 0.5, "n": float("-inf")})
            c.set("ttl", "v", px=3_600_000)
            c.execute_command("SET", f"only-in-{db}", "\r\n\x00")
    with in_db(server, 0) as c:
        path = c.execute_command("SNAPSHOT").decode()
        for db in (0, 2, 11):
            c.execute_command("SELECT", db)
            contents[db] = dump(c)
    snapshot = read_snapshot(path)
    assert snapshot.meta["format_version"] == 3 and sorted(set(snapshot.databases)) == [0, 2, 11]
    assert snapshot.meta["key_count"] == 3 * 7
    stream = parse_snapshot(path, tool=tool)
    selects = [command for command in split_commands(stream) if command[0] == b"SELECT"]
    assert selects == [[b"SELECT", b"2"], [b"SELECT", b"11"]]
    base = tempfile.mkdtemp(prefix="kvnode-dbs-")
    redis_server = RedisServer(base)
    try:
        with KVNode(base) as fresh:
            for port in (fresh.port, redis_server.port):
                assert pipe_into(port, stream).endswith("replies: %d" % (len(split_commands(stream))))
                for db in (0, 2, 11):
                    with redis.Redis(host="127.0.0.1", port=port, db=db) as c:
                        assert dump(c) == contents[db], (port, db)
                        assert 3_500_000 < c.pttl("ttl") <= 3_600_000
                with redis.Redis(host="127.0.0.1", port=port) as c:
                    assert sorted(c.info("keyspace")) == ["db0", "db11", "db2"]
    finally:
        redis_server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.kvnode_only
def test_a_snapshot_of_database_zero_alone_is_still_version_2(server):
    with in_db(server, 0) as c:
        c.set("k", "v")
        path = c.execute_command("SNAPSHOT").decode()
    assert read_snapshot(path).meta["format_version"] == 2
    assert b"SELECT" not in parse_snapshot(path)


def test_move_and_copy_notify_in_each_database(server):
    with in_db(server, 1) as one, server.client() as listener:
        one.config_set("notify-keyspace-events", "KEg")
        try:
            pubsub = listener.pubsub()
            pubsub.psubscribe("__key*@*__:*")
            wait_until(lambda: pubsub.get_message(timeout=0.1), message="the psubscribe confirmation")
            one.set("k", "v")
            assert one.move("k", 4) == 1
            one.execute_command("SELECT", 4)
            assert one.copy("k", "c", destination_db=6) == 1
            expected = {
                (b"__keyspace@1__:k", b"move_from"), (b"__keyevent@1__:move_from", b"k"),
                (b"__keyspace@4__:k", b"move_to"), (b"__keyevent@4__:move_to", b"k"),
                (b"__keyspace@6__:c", b"copy_to"), (b"__keyevent@6__:copy_to", b"c"),
            }
            seen = set()
            while not expected <= seen:
                message = wait_until(lambda: pubsub.get_message(timeout=0.1), message=f"events after {seen}")
                seen.add((message["channel"], message["data"]))
            assert seen == expected
            pubsub.close()
        finally:
            one.config_set("notify-keyspace-events", "")


@pytest.mark.kvnode_only
def test_keys_of_another_database_that_expired_while_down_go_at_start_up(server):
    with in_db(server, 3) as three:
        three.set("gone", "v", px=300)
        three.hset("hgone", "f", "v")
        three.pexpire("hgone", 300)
        three.set("stays", "v")
    server.stop()
    time.sleep(0.5)  # both expire while the server is down
    server.start()
    with server.client() as c:
        # No read of database 3: the start-up pass alone removes them from its count.
        wait_until(lambda: c.info("keyspace").get("db3", {}).get("keys") == 1, message="the start-up sweep")
        assert c.info("keyspace")["db3"]["expires"] == 0


@pytest.mark.kvnode_only
def test_kvnode_dump_of_a_data_directory_selects_each_database(tmp_path, require_redis_tools):
    base = str(tmp_path)
    srv = KVNode(base)
    with srv:
        for db in (0, 5):
            with in_db(srv, db) as c:
                c.set("k", f"in {db}")
                c.sadd("s", str(db))
        with in_db(srv, 0) as c:
            c.swapdb(0, 5)  # the dump follows the table: logical 5 holds what was written in 0
            c.execute_command("SELECT", 7)
            c.set("only", "seven", px=3_600_000)
    res = run_dump("--data", srv.data_dir)
    assert res.returncode == 0, res.stderr
    commands = split_commands(res.stdout)
    assert commands[:2] == [[b"SET", b"k", b"in 5"], [b"SADD", b"s", b"5"]]
    assert commands[2:5] == [[b"SELECT", b"5"], [b"SET", b"k", b"in 0"], [b"SADD", b"s", b"0"]]
    assert commands[5][:2] == [b"SELECT", b"7"] and commands[6][:3] == [b"SET", b"only", b"seven"]
    assert len(commands) == 7
