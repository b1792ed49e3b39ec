"""The list family with Redis 7.0's replies, errors and notifications, with redis-py in RESP2 and RESP3 (hiredis on
and off), raw bytes and redis-cli; every shared expectation holds against a real redis-server too
(KVNODE_TARGET=redis). kvnode's own: list events in the change log, and a long list read without loading it."""

import pytest
import redis

from client_variants import client  # noqa: F401
from type_helpers import cli, err, keyspace_events, wrongtype

NOT_INTEGER = "value is not an integer or out of range"
POSITIVE = "value is out of range, must be positive"


def test_push_pop_and_read(client):
    assert client.rpush("l", "a", "b", "c") == 3
    assert client.lpush("l", "y", "z") == 5
    assert client.lrange("l", 0, -1) == [b"z", b"y", b"a", b"b", b"c"]
    assert client.llen("l") == 5 and client.llen("missing") == 0
    assert client.lindex("l", 0) == b"z" and client.lindex("l", -1) == b"c" and client.lindex("l", 5) is None
    assert client.lindex("missing", 0) is None
    assert client.lrange("l", -2, 100) == [b"b", b"c"] and client.lrange("l", 3, 1) == []
    assert client.lrange("l", -100, 0) == [b"z"] and client.lrange("missing", 0, -1) == []
    assert client.lpop("l") == b"z" and client.rpop("l") == b"c"
    assert client.lpop("l", 2) == [b"y", b"a"] and client.rpop("l", 5) == [b"b"]
    assert client.exists("l") == 0
    assert client.lpop("missing") is None and client.lpop("missing", 2) is None
    assert client.lpushx("l", "a") == 0 and client.rpushx("l", "a") == 0 and client.exists("l") == 0
    client.rpush("l", "a")
    assert client.lpushx("l", "b", "c") == 3 and client.rpushx("l", "d") == 4
    assert client.lrange("l", 0, -1) == [b"c", b"b", b"a", b"d"]
    assert client.lpop("l", 0) == []
    assert client.type("l") in (b"list", "list")
    assert client.object("encoding", "l") in (b"quicklist", "quicklist")


def test_set_insert_remove_trim_position(client):
    client.rpush("l", "a", "b", "c", "a", "b", "a")
    assert client.lset("l", 1, "B") is True and client.lset("l", -1, "Z") is True
    assert client.lrange("l", 0, -1) == [b"a", b"B", b"c", b"a", b"b", b"Z"]
    assert client.linsert("l", "before", "c", "x") == 7
    assert client.linsert("l", "AFTER", "a", "y") == 8
    assert client.linsert("l", "after", "Z", "end") == 9
    assert client.linsert("l", "before", "nope", "x") == -1 and client.linsert("missing", "before", "a", "x") == 0
    assert client.lrange("l", 0, -1) == [b"a", b"y", b"B", b"x", b"c", b"a", b"b", b"Z", b"end"]
    assert client.lpos("l", "a") == 0 and client.lpos("l", "a", rank=2) == 5 and client.lpos("l", "a", rank=-1) == 5
    assert client.lpos("l", "a", count=0) == [0, 5] and client.lpos("l", "a", rank=-1, count=0) == [5, 0]
    assert client.lpos("l", "a", rank=2, maxlen=5) is None and client.lpos("l", "zz", count=1) == []
    assert client.lpos("missing", "a") is None and client.lpos("missing", "a", count=0) == []
    client.rpush("r", "x", "a", "x", "b", "x", "c", "x")
    assert client.lrem("r", 2, "x") == 2 and client.lrange("r", 0, -1) == [b"a", b"b", b"x", b"c", b"x"]
    assert client.lrem("r", -1, "x") == 1 and client.lrange("r", 0, -1) == [b"a", b"b", b"x", b"c"]
    assert client.lrem("r", 0, "x") == 1 and client.lrem("r", 0, "nope") == 0 and client.lrem("missing", 0, "x") == 0
    assert client.lrange("r", 0, -1) == [b"a", b"b", b"c"]
    assert client.ltrim("l", 1, -2) is True
    assert client.lrange("l", 0, -1) == [b"y", b"B", b"x", b"c", b"a", b"b", b"Z"]
    assert client.ltrim("l", 5, 1) is True and client.exists("l") == 0
    assert client.ltrim("missing", 0, 1) is True
    assert client.lrem("r", 0, "a") + client.lrem("r", 0, "b") + client.lrem("r", 0, "c") == 3
    assert client.exists("r") == 0


def test_move_and_multi_pop(client):
    client.rpush("src", "a", "b", "c")
    assert client.lmove("src", "dst", "LEFT", "RIGHT") == b"a"
    assert client.rpoplpush("src", "dst") == b"c"
    assert client.lrange("dst", 0, -1) == [b"c", b"a"] and client.lrange("src", 0, -1) == [b"b"]
    assert client.lmove("dst", "dst", "LEFT", "RIGHT") == b"c" and client.lrange("dst", 0, -1) == [b"a", b"c"]
    assert client.lmove("missing", "dst", "LEFT", "LEFT") is None and client.rpoplpush("missing", "x") is None
    assert client.lmove("src", "src", "RIGHT", "LEFT") == b"b" and client.lrange("src", 0, -1) == [b"b"]
    assert client.lmpop(2, "missing", "dst", direction="RIGHT", count=5) == [b"dst", [b"c", b"a"]]
    assert client.lmpop(1, "missing", direction="LEFT") is None
    assert client.lmpop(2, "src", "x", direction="LEFT") == [b"src", [b"b"]]
    assert client.exists("src", "dst") == 0


def test_errors(r2):
    r2.set("str", "v")
    r2.rpush("l", "a", "b")
    for call in (lambda: r2.lpush("str", "a"), lambda: r2.rpushx("str", "a"), lambda: r2.lpop("str"),
                 lambda: r2.llen("str"), lambda: r2.lrange("str", 0, 1), lambda: r2.lindex("str", 0),
                 lambda: r2.lset("str", 0, "a"), lambda: r2.linsert("str", "before", "a", "b"),
                 lambda: r2.lrem("str", 0, "a"), lambda: r2.ltrim("str", 0, 1), lambda: r2.lpos("str", "a"),
                 lambda: r2.lmove("str", "l", "LEFT", "LEFT"), lambda: r2.lmpop(1, "str", direction="LEFT"),
                 lambda: r2.blpop(["str"], 0.01)):
        wrongtype(call)
    # The destination's type is checked before anything is popped.
    wrongtype(r2.lmove, "l", "str", "LEFT", "LEFT")
    assert r2.lrange("l", 0, -1) == [b"a", b"b"]
    assert err(r2.lpop, "l", -1) == POSITIVE and err(r2.execute_command, "LPOP", "l", "x") == POSITIVE
    assert err(r2.execute_command, "LPOP", "l", "1", "2") == "wrong number of arguments for 'lpop' command"
    assert err(r2.execute_command, "LINDEX", "l", "x") == NOT_INTEGER
    assert err(r2.execute_command, "LRANGE", "l", "0", "x") == NOT_INTEGER
    assert err(r2.lset, "missing", 0, "x") == "no such key" and err(r2.lset, "l", 10, "x") == "index out of range"
    assert err(r2.execute_command, "LINSERT", "l", "middle", "a", "x") == "syntax error"
    assert err(r2.execute_command, "LPOS", "l", "a", "RANK", "0").startswith("RANK can't be zero: use 1 to start")
    assert err(r2.execute_command, "LPOS", "l", "a", "COUNT", "-1") == "COUNT can't be negative"
    assert err(r2.execute_command, "LPOS", "l", "a", "MAXLEN", "-1") == "MAXLEN can't be negative"
    assert err(r2.execute_command, "LPOS", "l", "a", "BOGUS", "1") == "syntax error"
    assert err(r2.execute_command, "LMOVE", "l", "x", "UP", "LEFT") == "syntax error"
    assert err(r2.execute_command, "LMPOP", "0", "l", "LEFT") == "numkeys should be greater than 0"
    assert err(r2.execute_command, "LMPOP", "x", "l", "LEFT") == "numkeys should be greater than 0"
    assert err(r2.execute_command, "LMPOP", "2", "l", "LEFT") == "syntax error"
    assert err(r2.execute_command, "LMPOP", "1", "l", "MIDDLE") == "syntax error"
    assert err(r2.execute_command, "LMPOP", "1", "l", "LEFT", "COUNT", "0") == "count should be greater than 0"
    assert err(r2.execute_command, "LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1") == "syntax error"
    assert err(r2.execute_command, "LREM", "l", "x", "a") == NOT_INTEGER


def test_wire_replies(raw):
    c = raw()
    assert c.cmd("RPUSH", "l", "a") == b":1\r\n"
    assert c.cmd("LPOP", "missing", "2") == b"*-1\r\n" and c.cmd("LPOP", "missing") == b"$-1\r\n"
    assert c.cmd("LMPOP", "1", "missing", "LEFT") == b"*-1\r\n" and c.cmd("LPOS", "missing", "a") == b"$-1\r\n"
    assert c.cmd("LMPOP", "1", "l", "LEFT") == b"*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"
    c.cmd("HELLO", "3")
    assert c.cmd("LPOP", "missing", "2") == b"_\r\n" and c.cmd("LPOP", "missing") == b"_\r\n"
    assert c.cmd("LMPOP", "1", "missing", "LEFT") == b"_\r\n" and c.cmd("BLPOP", "missing", "0.01") == b"_\r\n"
    assert c.cmd("LPOS", "missing", "a", "COUNT", "0") == b"*0\r\n"


def test_notifications(server):
    def actions(r):
        r.rpush("l", "a", "b", "c")
        r.lpush("l", "z")
        r.lpop("l")
        r.rpop("l", 2)
        r.rpush("l", "x", "y", "a")
        r.lset("l", 0, "A")
        r.linsert("l", "before", "x", "w")
        r.lrem("l", 1, "w")
        r.ltrim("l", 0, 10)
        r.lmove("l", "m", "LEFT", "RIGHT")
        r.lmpop(1, "m", direction="LEFT")
        r.lrem("l", 0, "x")
        r.ltrim("l", 1, 0)
    assert keyspace_events(server, "KEA", actions) == [
        (b"rpush", b"l"), (b"lpush", b"l"), (b"lpop", b"l"), (b"rpop", b"l"), (b"rpush", b"l"),
        (b"lset", b"l"), (b"linsert", b"l"), (b"lrem", b"l"), (b"ltrim", b"l"), (b"rpush", b"m"),
        (b"lpop", b"l"), (b"lpop", b"m"), (b"del", b"m"), (b"lrem", b"l"), (b"ltrim", b"l"), (b"del", b"l")]


def test_redis_cli(server):
    assert cli(server, "RPUSH", "l", "a", "b") == "2\n"
    assert cli(server, "LRANGE", "l", "0", "-1") == "a\nb\n"
    assert cli(server, "LPOP", "missing") == "\n"


def test_inside_multi_and_watch(r2):
    r2.rpush("l", "a")
    with r2.pipeline() as pipe:
        pipe.rpush("l", "b")
        pipe.lpop("l")
        pipe.blpop(["l"], 0)
        pipe.blpop(["l"], 0)
        pipe.blmove("l", "m", 0, "LEFT", "LEFT")
        assert pipe.execute() == [2, b"a", (b"l", b"b"), None, None]
    r2.rpush("l", "x")
    with r2.pipeline() as pipe:
        pipe.watch("l")
        r2.lpush("l", "y")  # another connection changes the watched list
        pipe.multi()
        pipe.lpop("l")
        with pytest.raises(redis.WatchError):
            pipe.execute()


@pytest.mark.kvnode_only
def test_change_log_events(r2):
    start = r2.execute_command("KV.REVISION")[1] + 1
    r2.rpush("l", "a", "b")
    r2.lpush("l", "z")
    r2.lset("l", 1, "A")
    r2.linsert("l", "after", "A", "m")
    r2.lrem("l", -1, "m")
    r2.lpop("l")
    r2.ltrim("l", 0, 0)
    history = r2.execute_command("KV.HISTORY", "l", "FROM", start)
    assert [entry[1:] for entry in history] == [
        [b"rpush", b"a", None], [b"rpush", b"b", None], [b"lpush", b"z", None], [b"lset", b"1", b"A"],
        [b"linsert", b"AFTER", b"A", b"m"], [b"lrem", b"-1", b"m"], [b"lpop", b"z", None], [b"rpop", b"b", None]]
    assert r2.lrange("l", 0, -1) == [b"A"]


@pytest.mark.kvnode_only
def test_a_long_list_reads_by_position(r2):
    pipe = r2.pipeline(transaction=False)
    for start in range(0, 100_000, 5000):
        pipe.rpush("big", *[f"item:{i}" for i in range(start, start + 5000)])
    pipe.execute()
    assert r2.llen("big") == 100_000
    assert r2.lindex("big", 54_321) == b"item:54321" and r2.lindex("big", -1) == b"item:99999"
    assert r2.lrange("big", 70_000, 70_002) == [b"item:70000", b"item:70001", b"item:70002"]
    assert r2.linsert("big", "before", "item:3", "new") == 100_001
    assert r2.lrange("big", 2, 4) == [b"item:2", b"new", b"item:3"]
    assert r2.lrem("big", 1, "item:99990") == 1 and r2.lindex("big", -1) == b"item:99999"
    assert r2.lset("big", 50_000, "middle") is True and r2.lindex("big", 50_000) == b"middle"
    assert r2.delete("big") == 1
