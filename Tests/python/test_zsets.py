"""The sorted set family with Redis 7.0's replies, errors, double formatting and notifications, with redis-py (RESP2 and
RESP3, hiredis and the pure-Python parser), raw bytes and redis-cli; every expectation holds against a real
redis-server 7.0 too (KVNODE_TARGET=redis), except the change-log tests marked kvnode_only."""

import random

import pytest

from client_variants import client  # noqa: F401
from type_helpers import WRONGTYPE, cli, err, keyspace_events, wrongtype

NOT_FLOAT = "value is not a valid float"
NOT_INTEGER = "value is not an integer or out of range"
SCORE_RANGE = "min or max is not a float"
LEX_RANGE = "min or max not valid string range item"


def pairs(reply):
    """WITHSCORES replies as [(member, float score)], whether the client left them flat or made pairs of them."""
    if reply and not isinstance(reply[0], (list, tuple)):
        reply = list(zip(reply[0::2], reply[1::2]))
    return [(member, float(score)) for member, score in reply]


# --- ZADD / ZINCRBY / ZSCORE / ZMSCORE / ZCARD / ZREM ----------------------------------------------------------------

def test_add_score_card_remove(client):
    assert client.zadd("z", {"a": 1, "b": 2.5, "c": -3}) == 3
    assert client.zadd("z", {"a": 5, "d": 0}) == 1
    assert client.zcard("z") == 4 and client.zcard("missing") == 0
    assert client.zscore("z", "a") == 5.0 and client.zscore("z", "b") == 2.5
    assert client.zscore("z", "nope") is None and client.zscore("missing", "a") is None
    assert client.zmscore("z", ["a", "nope", "c"]) == [5.0, None, -3.0]
    assert client.zmscore("missing", ["a", "b"]) == [None, None]
    assert client.zrange("z", 0, -1) == [b"c", b"d", b"b", b"a"]
    assert client.zrem("z", "a", "nope", "a") == 1
    assert client.zrem("missing", "a") == 0
    assert client.zrem("z", "b", "c", "d") == 3
    assert client.exists("z") == 0


def test_add_flags(client):
    client.zadd("z", {"a": 10, "b": 20})
    assert client.zadd("z", {"a": 1, "new": 1}, nx=True) == 1
    assert client.zscore("z", "a") == 10
    assert client.zadd("z", {"a": 11, "other": 1}, xx=True) == 0
    assert client.zscore("z", "a") == 11 and client.zscore("z", "other") is None
    assert client.zadd("z", {"a": 12, "b": 20, "c": 3}, ch=True) == 2
    assert client.zadd("z", {"a": 5, "b": 30}, gt=True, ch=True) == 1
    assert client.zmscore("z", ["a", "b"]) == [12.0, 30.0]
    assert client.zadd("z", {"a": 5, "b": 40, "d": 7}, lt=True, ch=True) == 2
    assert client.zmscore("z", ["a", "b", "d"]) == [5.0, 30.0, 7.0]
    assert client.zadd("z", {"a": 2}, incr=True) == 7.0
    assert client.zadd("z", {"a": 2}, incr=True, nx=True) is None
    assert client.zadd("z", {"zz": 2}, incr=True, xx=True) is None
    assert client.zadd("z", {"a": -1}, incr=True, gt=True) is None
    assert client.zadd("z", {"a": 0}, incr=True) == 7.0
    assert client.zadd("missing", {"a": 1}, xx=True) == 0 and client.exists("missing") == 0
    assert client.zadd("missing", {"a": 1}, xx=True, incr=True) is None
    assert client.zincrby("z", 1.5, "a") == 8.5
    assert client.zincrby("z", 3, "fresh") == 3.0
    # Duplicate members in one ZADD: the last score wins, counted once.
    assert client.zadd("dup", {"x": 1}) == 1
    assert client.execute_command("ZADD", "dup2", 1, "m", 2, "m") == 1
    assert client.zscore("dup2", "m") == 2.0


@pytest.mark.parametrize("args, message", [
    (["ZADD", "z", "xx", "nx", "1", "a"], "XX and NX options at the same time are not compatible"),
    (["ZADD", "z", "gt", "lt", "1", "a"], "GT, LT, and/or NX options at the same time are not compatible"),
    (["ZADD", "z", "gt", "nx", "1", "a"], "GT, LT, and/or NX options at the same time are not compatible"),
    (["ZADD", "z", "lt", "nx", "1", "a"], "GT, LT, and/or NX options at the same time are not compatible"),
    (["ZADD", "z", "incr", "1", "a", "2", "b"], "INCR option supports a single increment-element pair"),
    (["ZADD", "z", "1", "a", "2"], "syntax error"),
    (["ZADD", "z", "foo", "1", "a"], "syntax error"),
    (["ZADD", "z", "ch"], "wrong number of arguments for 'zadd' command"),
    (["ZADD", "z", "abc", "a"], NOT_FLOAT),
    (["ZADD", "z", "nan", "a"], NOT_FLOAT),
    (["ZADD", "z", "1e400", "a"], NOT_FLOAT),
    (["ZADD", "z", " 1", "a"], NOT_FLOAT),
    (["ZADD", "z", "", "a"], NOT_FLOAT),
    (["ZADD", "z", "1", "a", "x", "b"], NOT_FLOAT),
    (["ZINCRBY", "z", "abc", "a"], NOT_FLOAT),
    (["ZINCRBY", "z", "nan", "a"], NOT_FLOAT),
    (["ZRANGEBYSCORE", "z", "a", "1"], SCORE_RANGE),
    (["ZRANGEBYSCORE", "z", "1", "(x"], SCORE_RANGE),
    (["ZRANGEBYSCORE", "z", "nan", "1"], SCORE_RANGE),
    (["ZCOUNT", "z", "a", "b"], SCORE_RANGE),
    (["ZREMRANGEBYSCORE", "z", "a", "1"], SCORE_RANGE),
    (["ZRANGEBYLEX", "z", "a", "b"], LEX_RANGE),
    (["ZRANGEBYLEX", "z", "-", "++"], LEX_RANGE),
    (["ZLEXCOUNT", "z", "a", "b"], LEX_RANGE),
    (["ZREMRANGEBYLEX", "z", "a", "b"], LEX_RANGE),
    (["ZREMRANGEBYRANK", "z", "a", "1"], NOT_INTEGER),
    (["ZRANGE", "z", "0", "x"], NOT_INTEGER),
    (["ZRANGE", "z", "0", "-1", "limit", "0", "1"],
     "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
    (["ZRANGE", "z", "-", "+", "bylex", "withscores"],
     "syntax error, WITHSCORES not supported in combination with BYLEX"),
    (["ZRANGEBYLEX", "z", "-", "+", "withscores"], "syntax error, WITHSCORES not supported in combination with BYLEX"),
    (["ZRANGE", "z", "0", "-1", "limit", "0"], "syntax error"),
    (["ZRANGE", "z", "0", "-1", "rev", "rev"], "syntax error"),
    (["ZRANGE", "z", "0", "1", "byscore", "bylex"], "syntax error"),
    (["ZRANGE", "z", "(1", "2", "byscore", "limit", "a", "1"], NOT_INTEGER),
    (["ZREVRANGE", "z", "0", "-1", "byscore"], "syntax error"),
    (["ZRANGEBYSCORE", "z", "1", "2", "withscores", "limit", "0"], "syntax error"),
    (["ZRANGESTORE", "d", "z", "0", "-1", "withscores"], "syntax error"),
    (["ZPOPMIN", "z", "-1"], "value is out of range, must be positive"),
    (["ZPOPMIN", "z", "abc"], "value is out of range, must be positive"),
    (["ZPOPMAX", "z", "1", "2"], "syntax error"),
    (["ZMPOP", "0", "z", "min"], "numkeys should be greater than 0"),
    (["ZMPOP", "abc", "z", "min"], "numkeys should be greater than 0"),
    (["ZMPOP", "2", "z", "min"], "syntax error"),
    (["ZMPOP", "1", "z", "foo"], "syntax error"),
    (["ZMPOP", "1", "z", "min", "count", "0"], "count should be greater than 0"),
    (["ZMPOP", "1", "z", "min", "count", "1", "count", "1"], "syntax error"),
    (["ZUNION", "0", "z"], "at least 1 input key is needed for 'zunion' command"),
    (["ZUNIONSTORE", "d", "0", "z"], "at least 1 input key is needed for 'zunionstore' command"),
    (["ZINTERCARD", "0", "z"], "at least 1 input key is needed for 'zintercard' command"),
    (["ZUNION", "2", "z"], "syntax error"),
    (["ZUNION", "abc", "z"], NOT_INTEGER),
    (["ZUNION", "1", "z", "weights", "abc"], "weight value is not a float"),
    (["ZUNION", "1", "z", "weights", "1", "2"], "syntax error"),
    (["ZUNION", "1", "z", "aggregate", "foo"], "syntax error"),
    (["ZDIFF", "1", "z", "weights", "1"], "syntax error"),
    (["ZINTERSTORE", "d", "1", "z", "withscores"], "syntax error"),
    (["ZINTERCARD", "2", "z"], "syntax error"),
    (["ZINTERCARD", "1", "z", "limit", "-1"], "LIMIT can't be negative"),
    (["ZINTERCARD", "1", "z", "weights", "1"], "syntax error"),
    (["ZRANDMEMBER", "z", "1", "foo"], "syntax error"),
    (["ZRANDMEMBER", "z", "abc"], NOT_INTEGER),
    (["ZRANDMEMBER", "z", "1", "withscores", "x"], "syntax error"),
    (["ZSCAN", "z", "0", "count", "0"], "syntax error"),
    (["ZSCAN", "z", "abc"], "invalid cursor"),
])
def test_errors(r2, args, message):
    r2.zadd("z", {"a": 1, "b": 2})
    assert err(r2.execute_command, *args) == message
    assert r2.zrange("z", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]


def test_nan_from_increment(client):
    client.zadd("z", {"a": float("inf")})
    assert err(client.zincrby, "z", float("-inf"), "a") == "resulting score is not a number (NaN)"
    assert err(client.zadd, "z", {"a": float("-inf")}, incr=True) == "resulting score is not a number (NaN)"
    assert client.zscore("z", "a") == float("inf")


def test_wrongtype(client):
    client.set("str", "x")
    for call in [lambda: client.zadd("str", {"a": 1}), lambda: client.zscore("str", "a"),
                 lambda: client.zcard("str"), lambda: client.zrange("str", 0, -1), lambda: client.zrank("str", "a"),
                 lambda: client.zrem("str", "a"), lambda: client.zpopmin("str"), lambda: client.zpopmin("str", 0),
                 lambda: client.zunion(["str"]), lambda: client.zrangestore("d", "str", 0, 1),
                 lambda: client.zcount("str", 0, 1), lambda: client.zincrby("str", 1, "a"),
                 lambda: client.zrandmember("str"), lambda: client.zscan("str")]:
        wrongtype(call)
    client.zadd("z", {"a": 1})
    wrongtype(client.sadd, "z", "a")
    wrongtype(client.get, "z")
    assert client.type("z") in (b"zset", "zset")
    # A failed ZADD changes nothing, even after valid pairs.
    assert err(client.execute_command, "ZADD", "z", "2", "a", "x", "b") == NOT_FLOAT
    assert client.zrange("z", 0, -1, withscores=True) in ([(b"a", 1.0)], [[b"a", 1.0]])


# --- Double formatting ------------------------------------------------------------------------------------------------

def test_double_formatting_on_the_wire(raw):
    c = raw()
    assert c.cmd("ZADD", "z", "0.1", "a", "1e308", "b", "inf", "c", "-inf", "d", "1e18", "e", "-0", "f", "3", "g",
                 "1.5e-7", "h") == b":8\r\n"
    expect = {b"a": b"0.10000000000000001", b"b": b"1e+308", b"c": b"inf", b"d": b"-inf", b"e": b"1e+18",
              b"f": b"0", b"g": b"3", b"h": b"1.4999999999999999e-07"}
    for member, text in expect.items():
        assert c.cmd("ZSCORE", "z", member) == b"$%d\r\n%s\r\n" % (len(text), text)
    assert c.cmd("ZINCRBY", "z", "0.2", "a") == b"$19\r\n0.30000000000000004\r\n"
    assert c.cmd("ZRANGE", "z", "0", "1", "WITHSCORES") == b"*4\r\n$1\r\nd\r\n$4\r\n-inf\r\n$1\r\nf\r\n$1\r\n0\r\n"
    c.cmd("HELLO", "3")
    for member, text in expect.items():
        if member != b"a":
            assert c.cmd("ZSCORE", "z", member) == b",%s\r\n" % text
    assert c.cmd("ZSCORE", "z", "a") == b",0.30000000000000004\r\n"
    assert c.cmd("ZINCRBY", "z", "1", "c") == b",inf\r\n"
    assert c.cmd("ZMSCORE", "z", "d", "nope") == b"*2\r\n,-inf\r\n_\r\n"
    assert c.cmd("ZSCORE", "z", "nope") == b"_\r\n"
    assert c.cmd("ZADD", "z", "INCR", "-1e308", "b") == b",0\r\n"
    assert c.cmd("ZRANGE", "z", "0", "1", "WITHSCORES") == b"*2\r\n*2\r\n$1\r\nd\r\n,-inf\r\n*2\r\n$1\r\nb\r\n,0\r\n"


def test_negative_zero(raw):
    c = raw()
    # A small set (listpack in Redis) stores -0 as 0; a large one (skiplist) keeps -0. Both compare equal to 0.
    c.cmd("ZADD", "small", "-0", "m")
    assert c.cmd("ZSCORE", "small", "m") == b"$1\r\n0\r\n"
    c.cmd("ZADD", "big", *[x for i in range(130) for x in (str(i + 1), f"m{i}")])
    c.cmd("ZADD", "big", "-0", "zero")
    assert c.cmd("ZSCORE", "big", "zero") == b"$2\r\n-0\r\n"
    assert c.cmd("ZRANGEBYSCORE", "big", "0", "0") == b"*1\r\n$4\r\nzero\r\n"
    assert c.cmd("ZRANGEBYSCORE", "big", "-0", "(1") == b"*1\r\n$4\r\nzero\r\n"
    assert c.cmd("ZCOUNT", "big", "(-0", "1") == b":1\r\n"
    assert c.cmd("ZADD", "big", "0", "zero") == b":0\r\n"


# --- Ranges -----------------------------------------------------------------------------------------------------------

@pytest.fixture
def ranked(client):
    client.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": float("inf"), "g": float("-inf")})
    return client


def test_range_by_index(ranked):
    c = ranked
    assert c.zrange("z", 0, -1) == [b"g", b"a", b"b", b"c", b"d", b"e", b"f"]
    assert c.zrange("z", 1, 2) == [b"a", b"b"]
    assert c.zrange("z", -2, -1) == [b"e", b"f"]
    assert c.zrange("z", -100, 0) == [b"g"]
    assert c.zrange("z", 5, 100) == [b"e", b"f"]
    assert c.zrange("z", 3, 1) == [] and c.zrange("z", 7, 10) == [] and c.zrange("missing", 0, -1) == []
    assert c.zrange("z", 0, 1, desc=True) == [b"f", b"e"]
    assert c.zrevrange("z", 1, 2) == [b"e", b"d"]
    assert pairs(c.zrevrange("z", 0, 0, withscores=True)) == [(b"f", float("inf"))]
    assert pairs(c.zrange("z", 1, 1, withscores=True)) == [(b"a", 1.0)]


def index_range(n: int, start: int, stop: int) -> range:
    """Redis's normalisation of ZRANGE's `start stop` (zrangeGenericCommand) as the positions it selects."""
    start, stop = start + n if start < 0 else start, stop + n if stop < 0 else stop
    start = max(start, 0)
    if start > stop or start >= n:
        return range(0)
    return range(start, min(stop, n - 1) + 1)


@pytest.mark.parametrize("size", [9, 200])  # a listpack in Redis, and a skiplist
def test_range_by_index_every_start_and_stop(client, size):
    """Every `start stop` around both ends and the middle, both ways, with scores: the members nearer the far end
    of a reply read from the other end too (ZRANGE -3 -1, ZREVRANGE -3 -1)."""
    rnd = random.Random(size)
    scores = {b"m%03d" % i: rnd.choice([float("-inf"), float("inf"), 0, 1, 2.5, -7]) if i % 4 == 0 else i // 3
              for i in range(size)}
    client.zadd("z", scores)
    ordered = sorted(scores.items(), key=lambda item: (item[1], item[0]))
    edges = sorted({0, 1, 2, size // 2, size - 2, size - 1, size, size + 3})
    points = edges + [-p for p in edges if p > 0]
    cases = [(start, stop) for start in points for stop in points]
    with client.pipeline(transaction=False) as p:
        for start, stop in cases:
            p.zrange("z", start, stop, withscores=True)
            p.zrevrange("z", start, stop)
        replies = p.execute()
    for (start, stop), ascending, descending in zip(cases, replies[0::2], replies[1::2]):
        assert pairs(ascending) == [ordered[i] for i in index_range(size, start, stop)], (start, stop)
        assert descending == [ordered[::-1][i][0] for i in index_range(size, start, stop)], (start, stop)


def test_range_by_score(ranked):
    c = ranked
    assert c.zrangebyscore("z", 2, 4) == [b"b", b"c", b"d"]
    assert c.zrangebyscore("z", "(2", "(4") == [b"c"]
    assert c.zrangebyscore("z", "-inf", "+inf") == [b"g", b"a", b"b", b"c", b"d", b"e", b"f"]
    assert c.zrangebyscore("z", "(-inf", "(+inf") == [b"a", b"b", b"c", b"d", b"e"]
    assert c.zrangebyscore("z", "inf", "inf") == [b"f"]
    assert c.zrangebyscore("z", 3, 2) == [] and c.zrangebyscore("z", "(3", 3) == []
    assert c.zrangebyscore("z", 1, 5, start=1, num=2) == [b"b", b"c"]
    assert c.zrangebyscore("z", 1, 5, start=1, num=-1) == [b"b", b"c", b"d", b"e"]
    assert c.zrangebyscore("z", 1, 5, start=-1, num=2) == []
    assert c.zrangebyscore("z", 1, 5, start=10, num=2) == []
    assert c.zrangebyscore("z", 1, 5, start=0, num=0) == []
    assert c.zrevrangebyscore("z", 4, 2) == [b"d", b"c", b"b"]
    assert c.zrevrangebyscore("z", "+inf", "(4", start=0, num=2) == [b"f", b"e"]
    assert pairs(c.zrangebyscore("z", 4, 5, withscores=True)) == [(b"d", 4.0), (b"e", 5.0)]
    assert c.zrange("z", "(1", 3, byscore=True) == [b"b", b"c"]
    assert c.zrange("z", 3, "(1", byscore=True, desc=True) == [b"c", b"b"]
    assert c.zrange("z", "+inf", "-inf", byscore=True, desc=True, offset=1, num=2) == [b"e", b"d"]
    assert c.zcount("z", "-inf", "+inf") == 7 and c.zcount("z", "(1", 3) == 2 and c.zcount("z", 9, 1) == 0
    assert c.zcount("missing", 0, 1) == 0


def test_range_by_lex(client):
    client.zadd("l", {m: 0 for m in ["a", "b", "c", "d", "e", "ab", ""]})
    assert client.zrangebylex("l", "-", "+") == [b"", b"a", b"ab", b"b", b"c", b"d", b"e"]
    assert client.zrangebylex("l", "[a", "(c") == [b"a", b"ab", b"b"]
    assert client.zrangebylex("l", "(a", "[c") == [b"ab", b"b", b"c"]
    assert client.zrangebylex("l", "[", "(a") == [b""]
    assert client.zrangebylex("l", "-", "+", start=2, num=2) == [b"ab", b"b"]
    assert client.zrangebylex("l", "+", "-") == [] and client.zrangebylex("l", "[c", "[b") == []
    assert client.zrangebylex("l", "(b", "(b") == [] and client.zrangebylex("l", "[b", "[b") == [b"b"]
    assert client.zrevrangebylex("l", "(d", "-") == [b"c", b"b", b"ab", b"a", b""]
    assert client.zrevrangebylex("l", "+", "[b", start=1, num=2) == [b"d", b"c"]
    assert client.zrange("l", "[b", "(d", bylex=True) == [b"b", b"c"]
    assert client.zrange("l", "(d", "[b", bylex=True, desc=True) == [b"c", b"b"]
    assert client.zlexcount("l", "-", "+") == 7 and client.zlexcount("l", "(a", "[c") == 3
    assert client.zlexcount("missing", "-", "+") == 0
    assert client.zremrangebylex("l", "-", "(b") == 3
    assert client.zrange("l", 0, -1) == [b"b", b"c", b"d", b"e"]
    assert client.zremrangebylex("l", "[a", "[z") == 4 and client.exists("l") == 0


def test_rank(ranked):
    c = ranked
    assert [c.zrank("z", m) for m in "gabcdef"] == list(range(7))
    assert [c.zrevrank("z", m) for m in "gabcdef"] == list(range(6, -1, -1))
    assert c.zrank("z", "nope") is None and c.zrevrank("missing", "a") is None


def test_remove_ranges(ranked):
    c = ranked
    assert c.zremrangebyrank("z", 0, 1) == 2
    assert c.zrange("z", 0, -1) == [b"b", b"c", b"d", b"e", b"f"]
    assert c.zremrangebyrank("z", -1, -1) == 1 and c.zremrangebyrank("z", 5, 10) == 0
    assert c.zremrangebyscore("z", "(2", 4) == 2
    assert c.zrange("z", 0, -1) == [b"b", b"e"]
    assert c.zremrangebyscore("missing", 0, 1) == 0 and c.zremrangebyrank("missing", 0, 1) == 0
    assert c.zremrangebyscore("z", "-inf", "+inf") == 2 and c.exists("z") == 0


def test_rangestore(client):
    client.zadd("src", {"a": 1, "b": 2, "c": 3})
    assert client.zrangestore("dst", "src", 0, 1) == 2
    assert pairs(client.zrange("dst", 0, -1, withscores=True)) == [(b"a", 1.0), (b"b", 2.0)]
    assert client.zrangestore("dst", "src", 2, 3, byscore=True, desc=True) == 0
    assert client.exists("dst") == 0
    assert client.zrangestore("dst", "src", "[b", "+", bylex=True) == 2
    assert client.zrange("dst", 0, -1) == [b"b", b"c"]
    client.set("str", "x")
    assert client.zrangestore("str", "src", 0, 0) == 1 and client.type("str") in (b"zset", "zset")
    assert client.zrangestore("str", "missing", 0, -1) == 0 and client.exists("str") == 0
    assert client.zrangestore("src", "src", 1, 1) == 1 and client.zrange("src", 0, -1) == [b"b"]


def test_range_reply_shapes(raw):
    c = raw()
    c.cmd("ZADD", "z", "1", "a", "2", "b")
    assert c.cmd("ZRANGE", "z", "0", "-1", "WITHSCORES") == b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"
    assert c.cmd("ZRANGE", "missing", "0", "-1") == b"*0\r\n"
    c.cmd("HELLO", "3")
    assert c.cmd("ZRANGE", "z", "0", "-1", "WITHSCORES") == b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
    assert c.cmd("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", "1", "1") == \
        b"*1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
    assert c.cmd("ZRANGE", "z", "0", "-1") == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert c.cmd("ZRANK", "z", "nope") == b"_\r\n"


# --- Pops and random members --------------------------------------------------------------------------------------------

def test_pops(raw):
    c = raw()
    c.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    assert c.cmd("ZPOPMIN", "z") == b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert c.cmd("ZPOPMAX", "z", "1") == b"*2\r\n$1\r\nd\r\n$1\r\n4\r\n"
    assert c.cmd("ZPOPMIN", "z", "0") == b"*0\r\n"
    assert c.cmd("ZPOPMIN", "missing") == b"*0\r\n"
    assert c.cmd("ZMPOP", "2", "missing", "z", "MAX", "COUNT", "1") == b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    assert c.cmd("ZMPOP", "1", "missing", "MIN") == b"*-1\r\n"
    c.cmd("HELLO", "3")
    c.cmd("ZADD", "z", "5", "e", "6", "f")
    assert c.cmd("ZPOPMIN", "z") == b"*2\r\n$1\r\nb\r\n,2\r\n"
    assert c.cmd("ZPOPMIN", "z", "1") == b"*1\r\n*2\r\n$1\r\ne\r\n,5\r\n"
    assert c.cmd("ZMPOP", "1", "missing", "MIN") == b"_\r\n"
    assert c.cmd("ZMPOP", "1", "z", "MIN", "COUNT", "10") == b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nf\r\n,6\r\n"
    assert c.cmd("EXISTS", "z") == b":0\r\n"


def test_pops_with_clients(client):
    client.zadd("z", {f"m{i}": i for i in range(10)})
    assert pairs(client.zpopmin("z", 3)) == [(b"m0", 0.0), (b"m1", 1.0), (b"m2", 2.0)]
    assert pairs(client.zpopmax("z", 2)) == [(b"m9", 9.0), (b"m8", 8.0)]
    assert pairs(client.zpopmin("z")) == [(b"m3", 3.0)]
    popped = client.zmpop(1, ["z"], min=True, count=2)
    assert popped[0] == b"z" and pairs(popped[1]) == [(b"m4", 4.0), (b"m5", 5.0)]
    assert pairs(client.zpopmax("z", 100)) == [(b"m7", 7.0), (b"m6", 6.0)]
    assert client.exists("z") == 0
    assert client.zmpop(1, ["z"], max=True) is None


def test_pops_then_inserts_beyond_the_popped_end(r2):
    """Pops remember where the live part of the score index starts; an insertion before it must still be seen."""
    r2.zadd("q", {f"m{i:03d}": i for i in range(200)})
    assert r2.zpopmin("q", 50)[-1] == (b"m049", 49.0)
    assert r2.zpopmax("q", 50)[-1] == (b"m150", 150.0)
    assert r2.zrange("q", 0, 0) == [b"m050"] and r2.zrank("q", "m100") == 50 and r2.zcount("q", "-inf", "+inf") == 100
    r2.zadd("q", {"low": 10, "high": 1000, "m050": 49.5})
    assert r2.zrange("q", 0, 1, withscores=True) == [(b"low", 10.0), (b"m050", 49.5)]
    assert r2.zrevrange("q", 0, 0) == [b"high"] and r2.zrank("q", "m100") == 51
    assert r2.zpopmin("q") == [(b"low", 10.0)] and r2.zpopmax("q") == [(b"high", 1000.0)]
    r2.zadd("q", {"m049": 49})
    assert r2.zpopmin("q") == [(b"m049", 49.0)]
    # A popped member re-added where it was.
    r2.zadd("q", {"m000": 0, "m199": 199})
    assert r2.zrange("q", 0, 0) == [b"m000"] and r2.zrange("q", -1, -1) == [b"m199"]
    with r2.pipeline() as tx:
        tx.zpopmin("q", 2)
        tx.zadd("q", {"first": -1})
        tx.zrange("q", 0, 1)
        assert tx.execute()[2] == [b"first", b"m051"]


def test_random_members(client):
    members = {f"m{i}".encode(): float(i) for i in range(20)}
    client.zadd("z", members)
    assert client.zrandmember("z") in members
    assert client.zrandmember("missing") is None
    several = client.zrandmember("z", 5)
    assert len(several) == 5 and len(set(several)) == 5 and set(several) <= set(members)
    assert sorted(client.zrandmember("z", 100)) == sorted(members)
    repeated = client.zrandmember("z", -50)
    assert len(repeated) == 50 and set(repeated) <= set(members)
    with_scores = pairs(client.zrandmember("z", 4, withscores=True))
    assert len(with_scores) == 4 and all(members[m] == s for m, s in with_scores)
    with_scores = pairs(client.zrandmember("z", -30, withscores=True))
    assert len(with_scores) == 30 and all(members[m] == s for m, s in with_scores)
    assert client.zrandmember("z", 0) == [] and client.zrandmember("missing", 3) == []


def test_random_members_of_a_large_set(r2):
    r2.zadd("z", {f"m{i}": i for i in range(3000)})
    sample = r2.zrandmember("z", 100)
    assert len(set(sample)) == 100
    assert len(r2.zrandmember("z", -200)) == 200


# --- Algebra ----------------------------------------------------------------------------------------------------------

def test_union_inter_diff(client):
    client.zadd("a", {"x": 1, "y": 2, "z": 3})
    client.zadd("b", {"y": 10, "z": 20, "w": 30})
    client.sadd("s", "z", "w", "v")
    assert pairs(client.zunion(["a", "b"], withscores=True)) == [
        (b"x", 1.0), (b"y", 12.0), (b"z", 23.0), (b"w", 30.0)]
    assert pairs(client.zinter(["a", "b"], withscores=True)) == [(b"y", 12.0), (b"z", 23.0)]
    assert pairs(client.zinter(["a", "b"], aggregate="MAX", withscores=True)) == [(b"y", 10.0), (b"z", 20.0)]
    assert pairs(client.zunion({"a": 2, "b": 0.5}, aggregate="MIN", withscores=True)) == [
        (b"x", 2.0), (b"y", 4.0), (b"z", 6.0), (b"w", 15.0)]
    assert pairs(client.zdiff(["a", "b"], withscores=True)) == [(b"x", 1.0)]
    assert client.zdiff(["b", "a", "s"]) == []
    # A set's members score 1.
    assert pairs(client.zunion(["s", "a"], withscores=True)) == [
        (b"v", 1.0), (b"w", 1.0), (b"x", 1.0), (b"y", 2.0), (b"z", 4.0)]
    assert client.zinter(["a", "missing"]) == [] and client.zunion(["missing"]) == []
    assert client.zintercard(2, ["a", "b"]) == 2 and client.zintercard(2, ["a", "b"], limit=1) == 1
    assert client.zintercard(2, ["a", "s"]) == 1 and client.zintercard(1, ["missing"]) == 0


def test_algebra_stores(client):
    client.zadd("a", {"x": 1, "y": 2})
    client.zadd("b", {"y": 3})
    assert client.zunionstore("d", ["a", "b"]) == 2
    assert pairs(client.zrange("d", 0, -1, withscores=True)) == [(b"x", 1.0), (b"y", 5.0)]
    assert client.zinterstore("d", {"a": 3, "b": 1}) == 1
    assert pairs(client.zrange("d", 0, -1, withscores=True)) == [(b"y", 9.0)]
    assert client.zdiffstore("d", ["a", "b"]) == 1 and client.zrange("d", 0, -1) == [b"x"]
    assert client.zinterstore("d", ["a", "missing"]) == 0 and client.exists("d") == 0
    # The destination may be an input.
    assert client.zunionstore("a", ["a", "b"], aggregate="MAX") == 2
    assert pairs(client.zrange("a", 0, -1, withscores=True)) == [(b"x", 1.0), (b"y", 3.0)]


def test_algebra_nan_rules(client):
    client.zadd("p", {"m": float("inf")})
    client.zadd("n", {"m": float("-inf")})
    # inf + -inf is NaN: Redis makes it 0; so is inf * 0.
    assert pairs(client.zunion(["p", "n"], withscores=True)) == [(b"m", 0.0)]
    assert pairs(client.zunion({"p": 0}, withscores=True)) == [(b"m", 0.0)]


# --- ZSCAN --------------------------------------------------------------------------------------------------------------

def test_scan_small_and_large(client):
    client.zadd("small", {"a": 1, "b": 1e18, "c": 0.5})
    # A small set (a listpack in Redis) comes whole, in score order, whatever the cursor and COUNT.
    assert client.zscan("small", 0) == (0, [(b"c", 0.5), (b"a", 1.0), (b"b", 1e18)])
    assert client.zscan("small", 7, count=1, match="[ab]") == (0, [(b"a", 1.0), (b"b", 1e18)])
    members = {f"m{i:04d}".encode(): i / 4 for i in range(1000)}
    client.zadd("big", members)
    seen = {}
    cursor, rounds = 0, 0
    while True:
        cursor, items = client.zscan("big", cursor, count=50)
        seen.update(dict(items))
        rounds += 1
        if cursor == 0:
            break
        assert rounds < 1000
    assert seen == members and rounds > 1
    assert dict(client.zscan_iter("big", match="m000*")) == {m: s for m, s in members.items() if m.startswith(b"m000")}
    assert client.zscan("missing", 0) == (0, [])


def test_scan_score_text(raw):
    c = raw()
    c.cmd("ZADD", "small", "1e18", "a")
    # Redis's listpack holds integral scores as integers; its skiplist prints %.17g.
    assert c.cmd("ZSCAN", "small", "0") == b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$19\r\n1000000000000000000\r\n"
    c.cmd("ZADD", "big", *[x for i in range(200) for x in (str(i), f"m{i:03d}")])
    c.cmd("ZADD", "big", "1e18", "a")
    reply = c.cmd("ZSCAN", "big", "0", "COUNT", "1000", "MATCH", "a")
    assert reply.endswith(b"*2\r\n$1\r\na\r\n$5\r\n1e+18\r\n")
    c.cmd("HELLO", "3")
    assert c.cmd("ZSCAN", "small", "0").endswith(b"$19\r\n1000000000000000000\r\n")


# --- Large sets ---------------------------------------------------------------------------------------------------------

def test_large_set_ranks_and_ranges(r2):
    n = 5000
    rng = random.Random(14)
    members = {f"m{i}".encode(): float(rng.randint(-1000, 1000)) for i in range(n)}
    r2.zadd("z", members)
    order = sorted(members, key=lambda m: (members[m], m))
    for index in [0, 1, 17, 2499, 2500, 4000, n - 2, n - 1]:
        assert r2.zrank("z", order[index]) == index
        assert r2.zrevrank("z", order[index]) == n - 1 - index
    assert r2.zrange("z", 4990, 4995) == order[4990:4996]
    assert r2.zrange("z", 10, 12) == order[10:13]
    assert r2.zrange("z", -3, -1, desc=True) == order[:3][::-1]
    assert r2.zrange("z", 0, 2, desc=True) == order[-3:][::-1]
    assert r2.zrangebyscore("z", 10, 20) == [m for m in order if 10 <= members[m] <= 20]
    assert r2.zcount("z", "(0", 100) == sum(1 for s in members.values() if 0 < s <= 100)
    assert r2.zremrangebyrank("z", 100, 199) == 100
    assert r2.zcard("z") == n - 100
    assert r2.zrange("z", 99, 100) == [order[99], order[200]]
    assert r2.object("encoding", "z") in (b"skiplist", "skiplist")


def test_matches_a_model(r2):
    """Random ZADD/ZINCRBY/ZREM/pops checked against a Python model of the set."""
    rng = random.Random(7)
    model: dict[bytes, float] = {}
    for step in range(1500):
        member = f"m{rng.randint(0, 60)}".encode()
        action = rng.random()
        if action < 0.45:
            score = rng.choice([rng.randint(-50, 50), rng.randint(-50, 50) / 8, float("inf"), float("-inf")])
            r2.zadd("z", {member: score})
            model[member] = float(score)
        elif action < 0.6:
            if model.get(member) in (float("inf"), float("-inf")):
                continue
            new = r2.zincrby("z", 0.25, member)
            model[member] = model.get(member, 0.0) + 0.25
            assert new == model[member]
        elif action < 0.8:
            assert r2.zrem("z", member) == (1 if model.pop(member, None) is not None else 0)
        elif action < 0.86 and model:
            ordered = sorted(model.items(), key=lambda kv: (kv[1], kv[0]))
            cut = rng.randint(0, 3)
            if action < 0.82:
                assert r2.zremrangebyrank("z", 0, cut - 1) == min(cut, len(ordered)) if cut else True
                removed = ordered[:cut]
            elif action < 0.84:
                assert r2.zremrangebyrank("z", -cut, -1) == min(cut, len(ordered)) if cut else True
                removed = ordered[-cut:] if cut else []
            else:
                bound = ordered[min(cut, len(ordered) - 1)][1]
                removed = [kv for kv in ordered if kv[1] <= bound]
                assert r2.zremrangebyscore("z", "-inf", bound) == len(removed)
            for member_, _ in removed:
                del model[member_]
        elif model:
            popped = r2.zpopmin("z") if action < 0.93 else r2.zpopmax("z")
            ordered = sorted(model.items(), key=lambda kv: (kv[1], kv[0]))
            expected = ordered[0] if action < 0.93 else ordered[-1]
            assert popped == [expected]
            del model[expected[0]]
        if step % 50 == 0:
            ordered = sorted(model.items(), key=lambda kv: (kv[1], kv[0]))
            assert r2.zrange("z", 0, -1, withscores=True) == ordered
            assert r2.zcard("z") == len(model)


def test_binary_members(r2):
    member = b"\x00\xffm\r\n"
    r2.zadd("z", {member: 1, b"": 2})
    assert r2.zrange("z", 0, -1) == [member, b""]
    assert r2.zscore("z", b"") == 2.0 and r2.zrank("z", member) == 0


# --- Transactions, notifications, redis-cli -----------------------------------------------------------------------------

def test_in_a_transaction(r2):
    with r2.pipeline() as tx:
        tx.zadd("z", {"a": 1, "b": 2})
        tx.zincrby("z", 5, "a")
        tx.zrange("z", 0, -1, withscores=True)
        tx.zpopmin("z")
        tx.zrank("z", "a")
        assert tx.execute() == [2, 6.0, [(b"b", 2.0), (b"a", 6.0)], [(b"b", 2.0)], 0]


def test_notifications(server):
    def actions(r):
        r.zadd("a", {"x": 1, "y": 2, "z": 3})
        r.zadd("a", {"x": 1})
        r.zadd("a", {"x": 5}, incr=True)
        r.zincrby("a", 1, "y")
        r.zrem("a", "nope")
        r.zrem("a", "x")
        r.zpopmin("a")
        r.zpopmax("a")
        r.zadd("a", {"p": 1, "q": 2, "r": 3, "s": 4})
        r.zremrangebyscore("a", 1, 1)
        r.zremrangebyrank("a", 0, 0)
        r.zremrangebylex("a", "-", "+")
        r.zadd("b", {"m": 1})
        r.zunionstore("c", ["b"])
        r.zinterstore("c", ["b", "missing"])
        r.zadd("b", {"n": 2})
        r.zdiffstore("c", ["b"])
        r.zrangestore("d", "b", 0, 0)
        r.zmpop(1, ["b"], min=True, count=5)

    events = keyspace_events(server, "zgn", actions)
    assert events == [
        (b"new", b"a"), (b"zadd", b"a"), (b"zincr", b"a"), (b"zincr", b"a"), (b"zrem", b"a"),
        (b"zpopmin", b"a"), (b"zpopmax", b"a"), (b"del", b"a"),
        (b"new", b"a"), (b"zadd", b"a"), (b"zremrangebyscore", b"a"), (b"zremrangebyrank", b"a"),
        (b"zremrangebylex", b"a"), (b"del", b"a"),
        (b"new", b"b"), (b"zadd", b"b"), (b"new", b"c"), (b"zunionstore", b"c"), (b"del", b"c"),
        (b"zadd", b"b"), (b"new", b"c"), (b"zdiffstore", b"c"), (b"new", b"d"), (b"zrangestore", b"d"),
        (b"zpopmin", b"b"), (b"del", b"b"),
    ]


def test_redis_cli(server, r2):
    assert cli(server, "ZADD", "z", "1", "a", "0.1", "b", "inf", "c") == "3\n"
    assert cli(server, "ZRANGE", "z", "0", "-1", "WITHSCORES") == "b\n0.10000000000000001\na\n1\nc\ninf\n"
    assert cli(server, "ZSCORE", "z", "c") == "inf\n"
    assert cli(server, "ZINCRBY", "z", "0.2", "b") == "0.30000000000000004\n"
    assert cli(server, "ZCARD", "z") == "3\n"
    assert cli(server, "TYPE", "z") == "zset\n"
    assert cli(server, "OBJECT", "ENCODING", "z") == "listpack\n"
    assert cli(server, "SADD", "z", "x").strip() == WRONGTYPE
    assert cli(server, "ZRANGEBYSCORE", "z", "x", "1").strip() == "ERR " + SCORE_RANGE
    assert r2.zrange("z", 0, -1) == [b"b", b"a", b"c"]


def test_generic_commands(r2):
    r2.zadd("z", {"a": 1, "b": 2})
    assert r2.copy("z", "c") and r2.zrange("c", 0, -1, withscores=True) == [(b"a", 1.0), (b"b", 2.0)]
    r2.rename("c", "d")
    assert r2.zscore("d", "b") == 2.0 and r2.exists("c") == 0
    assert r2.expire("d", 100) and 0 < r2.ttl("d") <= 100
    r2.zadd("d", {"e": 3})
    assert 0 < r2.ttl("d") <= 100
    assert list(r2.scan_iter(_type="zset")) in ([b"z", b"d"], [b"d", b"z"])
    assert r2.delete("z", "d") == 2 and r2.exists("z", "d") == 0
    r2.zadd("z", {"fresh": 1})
    assert r2.zrange("z", 0, -1) == [b"fresh"]


# --- Change log (kvnode only) -------------------------------------------------------------------------------------------

@pytest.mark.kvnode_only
def test_change_log_events(r2):
    r2.zadd("kv:z", {"a": 1, "b": 0.1})
    r2.zincrby("kv:z", 1, "a")
    r2.zadd("kv:z", {"a": 2})
    r2.zrem("kv:z", "b")
    r2.zpopmin("kv:z")
    history = r2.execute_command("KV.HISTORY", "kv:z")
    assert [entry[1:] for entry in history] == [
        [b"zadd", b"a", b"1"], [b"zadd", b"b", b"0.10000000000000001"], [b"zadd", b"a", b"2"],
        [b"zrem", b"b", None], [b"zrem", b"a", None], [b"del", None],
    ]
    r2.zadd("kv:y", {"m": float("-inf")})
    r2.zunionstore("kv:y", ["kv:y"], aggregate="SUM")
    assert [entry[1:] for entry in r2.execute_command("KV.HISTORY", "kv:y")] == [
        [b"zadd", b"m", b"-inf"], [b"del", None], [b"zadd", b"m", b"-inf"]]


@pytest.mark.kvnode_only
def test_deleting_a_large_set_is_collected(server, r2):
    r2.zadd("big", {f"m{i}": i for i in range(20000)})
    assert r2.delete("big") == 1
    r2.zadd("big", {"new": 1})
    assert r2.zrange("big", 0, -1, withscores=True) == [(b"new", 1.0)]
    assert r2.zcount("big", "-inf", "+inf") == 1
