"""Numbered databases (issue 14): SELECT, MOVE, SWAPDB, COPY ... DB, FLUSHDB per database, DBSIZE, INFO keyspace,
keyspace notifications with the database, and redis-py's `redis://host/n` URLs.

Every expectation is validated against redis-server 7.0 (KVNODE_TARGET=redis)."""
import subprocess

import pytest
import redis

from conftest import TARGET, start_server

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
