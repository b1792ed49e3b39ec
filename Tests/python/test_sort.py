"""SORT and SORT_RO on lists, sets and sorted sets, as Redis 7.0: numeric and ALPHA order, DESC, LIMIT, BY patterns
(string keys, hash fields, `nosort`), GET patterns (`#`, strings, hash fields, several), STORE (a list; an empty
result deletes the destination; `sortstore` notifications; the change log; serving a blocked BLPOP), the error texts
and their order, WRONGTYPE, COMMAND GETKEYS, the ACL rule on BY/GET, redis-py in RESP2 and RESP3 with and without
hiredis. Every expectation holds against a real redis-server (KVNODE_TARGET=redis) unless marked kvnode_only."""

from __future__ import annotations

import pytest
import redis

from blocking_helpers import block
from client_variants import client  # noqa: F401 - RESP2/RESP3 with and without hiredis
from type_helpers import cli, err, keyspace_events, wrongtype

NOT_DOUBLE = "One or more scores can't be converted into double"


def sort(r, *args):
    return r.execute_command("SORT", *args)


def sort_ro(r, *args):
    return r.execute_command("SORT_RO", *args)


def test_numbers_and_alpha_on_a_list(client):  # noqa: F811 - the fixture
    client.rpush("l", "3", "1", "2", "10", "-1.5")
    assert client.sort("l") == [b"-1.5", b"1", b"2", b"3", b"10"]
    assert client.sort("l", desc=True) == [b"10", b"3", b"2", b"1", b"-1.5"]
    assert client.sort("l", alpha=True) == [b"-1.5", b"1", b"10", b"2", b"3"]
    assert client.sort("l", alpha=True, desc=True) == [b"3", b"2", b"10", b"1", b"-1.5"]
    assert client.sort_ro("l", desc=True) == [b"10", b"3", b"2", b"1", b"-1.5"]
    assert client.sort("missing") == [] and client.sort_ro("missing", alpha=True) == []
    # The list itself is unchanged.
    assert client.lrange("l", 0, -1) == [b"3", b"1", b"2", b"10", b"-1.5"]


def test_numbers_as_strtod_reads_them_and_ties_by_bytes(r2):
    r2.rpush("l", "", " 2", "0x10", "inf", "-inf", "1e3", "1.0", "01", "1")
    # An empty value is 0, leading blanks and hex are read, equal numbers go by their bytes.
    assert sort(r2, "l") == [b"-inf", b"", b"01", b"1", b"1.0", b" 2", b"0x10", b"1e3", b"inf"]
    assert sort(r2, "l", "DESC") == [b"inf", b"1e3", b"0x10", b" 2", b"1.0", b"1", b"01", b"", b"-inf"]
    for bad in ("abc", "1 ", "nan", "1e400", "1e-400", "1x"):
        r2.delete("bad")
        r2.rpush("bad", "1", bad)
        assert err(sort, r2, "bad") == NOT_DOUBLE, bad
        assert sort(r2, "bad", "ALPHA") == sorted([b"1", bad.encode()])
        # Left in its order, nothing is read as a number.
        assert sort(r2, "bad", "BY", "nosort") == [b"1", bad.encode()]


def test_limit(r2):
    r2.rpush("l", *[str(n) for n in range(10, 0, -1)])
    assert sort(r2, "l", "LIMIT", "0", "3") == [b"1", b"2", b"3"]
    assert sort(r2, "l", "LIMIT", "8", "5") == [b"9", b"10"]
    assert sort(r2, "l", "LIMIT", "-5", "2") == [b"1", b"2"]
    assert sort(r2, "l", "LIMIT", "7", "-1") == [b"8", b"9", b"10"]
    assert sort(r2, "l", "LIMIT", "3", "0") == []
    assert sort(r2, "l", "LIMIT", "10", "1") == [] and sort(r2, "l", "LIMIT", "99", "-1") == []
    assert sort(r2, "l", "DESC", "LIMIT", "1", "2") == [b"9", b"8"]
    assert sort(r2, "l", "LIMIT", "9223372036854775807", "9223372036854775807") == []
    assert sort(r2, "l", "LIMIT", "1", "9223372036854775807") == [str(n).encode() for n in range(2, 11)]
    assert sort(r2, "missing", "LIMIT", "0", "1") == []


def test_a_list_or_sorted_set_left_in_its_order(r2):
    r2.rpush("l", "c", "a", "b", "d")
    assert sort(r2, "l", "BY", "nosort") == [b"c", b"a", b"b", b"d"]
    assert sort(r2, "l", "BY", "nosort", "DESC") == [b"d", b"b", b"a", b"c"]
    assert sort(r2, "l", "BY", "nosort", "LIMIT", "1", "2") == [b"a", b"b"]
    assert sort(r2, "l", "BY", "nosort", "DESC", "LIMIT", "1", "2") == [b"b", b"a"]
    assert sort(r2, "l", "BY", "nosort", "LIMIT", "3", "9") == [b"d"]
    r2.zadd("z", {"10": 3, "9": 2, "8": 1, "x": 4})
    assert sort(r2, "z", "BY", "nosort") == [b"8", b"9", b"10", b"x"]
    assert sort(r2, "z", "BY", "nosort", "DESC") == [b"x", b"10", b"9", b"8"]
    assert sort(r2, "z", "BY", "nosort", "LIMIT", "1", "2") == [b"9", b"10"]
    assert sort(r2, "z", "BY", "nosort", "DESC", "LIMIT", "1", "2") == [b"10", b"9"]
    assert sort_ro(r2, "z", "BY", "nosort", "LIMIT", "-1", "1") == [b"8"]
    # Sorting a sorted set sorts its members, not by their scores.
    assert err(sort, r2, "z") == NOT_DOUBLE
    r2.zrem("z", "x")
    assert sort(r2, "z") == [b"8", b"9", b"10"]
    assert sort(r2, "z", "ALPHA", "DESC") == [b"9", b"8", b"10"]
    # A BY pattern without `*` (even one that names an existing key) keeps the order, whatever BY follows.
    r2.set("w", "1")
    assert sort(r2, "l", "BY", "w") == [b"c", b"a", b"b", b"d"]
    assert sort(r2, "l", "BY", "nosort", "BY", "w_*", "ALPHA") == [b"c", b"a", b"b", b"d"]


def test_a_small_set_left_in_its_order_and_stored_sorted(r2):
    r2.sadd("s", "3", "1", "10", "2")
    # An intset holds its members by value; DESC does not apply to a set left in its order.
    assert sort(r2, "s", "BY", "nosort") == [b"1", b"2", b"3", b"10"]
    assert sort(r2, "s", "BY", "nosort", "DESC") == [b"1", b"2", b"3", b"10"]
    assert sort(r2, "s", "BY", "nosort", "LIMIT", "1", "2") == [b"2", b"3"]
    assert sort(r2, "s") == [b"1", b"2", b"3", b"10"] and sort(r2, "s", "DESC") == [b"10", b"3", b"2", b"1"]
    # Stored, a set is sorted by its bytes instead, so what is written does not depend on the set's layout.
    assert sort(r2, "s", "BY", "nosort", "STORE", "d") == 4
    assert r2.lrange("d", 0, -1) == [b"1", b"10", b"2", b"3"]
    assert sort(r2, "s", "BY", "nosort", "DESC", "STORE", "d") == 4
    assert r2.lrange("d", 0, -1) == [b"3", b"2", b"10", b"1"]
    r2.sadd("words", "pear", "apple", "fig")
    assert sort(r2, "words", "ALPHA") == [b"apple", b"fig", b"pear"]
    assert sort(r2, "words", "BY", "nosort", "STORE", "d", "LIMIT", "0", "2") == 2
    assert r2.lrange("d", 0, -1) == [b"apple", b"fig"]


def test_by_string_keys_and_hash_fields(r2):
    r2.rpush("ids", "1", "2", "3", "4")
    r2.mset({"w_1": "30", "w_2": "10", "w_3": "20"})  # w_4 missing: 0
    assert sort(r2, "ids", "BY", "w_*") == [b"4", b"2", b"3", b"1"]
    assert sort(r2, "ids", "BY", "w_*", "DESC") == [b"1", b"3", b"2", b"4"]
    assert sort(r2, "ids", "BY", "w_*", "LIMIT", "1", "2") == [b"2", b"3"]
    for i, name in ((1, "delta"), (2, "alpha"), (3, "charlie"), (4, "bravo")):
        r2.hset(f"user:{i}", mapping={"name": name, "age": str(50 - i)})
    assert sort(r2, "ids", "BY", "user:*->name", "ALPHA") == [b"2", b"4", b"3", b"1"]
    assert sort(r2, "ids", "BY", "user:*->age") == [b"4", b"3", b"2", b"1"]
    # A missing field or hash, or a key of another type, sorts as 0 (numbers) or first (ALPHA).
    r2.hdel("user:3", "name")
    r2.delete("user:4", "user:1")
    r2.rpush("user:1", "a list")
    assert sort(r2, "ids", "BY", "user:*->name", "ALPHA") == [b"1", b"3", b"4", b"2"]
    assert sort(r2, "ids", "BY", "user:*->age", "DESC") == [b"2", b"3", b"4", b"1"]
    # Equal BY numbers go by the elements' bytes.
    r2.mset({"w_1": "5", "w_2": "5", "w_3": "5", "w_4": "5"})
    assert sort(r2, "ids", "BY", "w_*", "DESC") == [b"4", b"3", b"2", b"1"]
    # A BY value that is not a number.
    r2.set("w_2", "five")
    assert err(sort, r2, "ids", "BY", "w_*") == NOT_DOUBLE
    assert sort(r2, "ids", "BY", "w_*", "ALPHA") == [b"1", b"3", b"4", b"2"]
    # The pattern's `*` is the first one; `->` with nothing after it is part of a key name.
    r2.rpush("two", "1", "2")
    r2.mset({"y_1_*": "2", "y_2_*": "1", "x_1->": "2", "x_2->": "1"})
    assert sort(r2, "two", "BY", "y_*_*") == [b"2", b"1"]
    assert sort(r2, "two", "BY", "x_*->") == [b"2", b"1"]


def test_get_patterns(r2, r3):
    r2.rpush("ids", "2", "1", "3")
    r2.mset({"name_1": "one", "name_2": "two"})
    r2.hset("h_1", "f", "h-one")
    r2.hset("h_3", "f", "h-three")
    expected = [b"1", b"one", b"h-one", b"2", b"two", None, b"3", None, b"h-three"]
    assert sort(r2, "ids", "GET", "#", "GET", "name_*", "GET", "h_*->f") == expected
    assert sort(r3, "ids", "GET", "#", "GET", "name_*", "GET", "h_*->f") == expected
    assert sort_ro(r3, "ids", "GET", "name_*", "DESC", "LIMIT", "0", "2") == [None, b"two"]
    # A GET pattern without `*` finds nothing.
    assert sort(r2, "ids", "GET", "name_1", "LIMIT", "0", "1") == [None]
    assert r2.sort("ids", by="name_*", get=["#", "name_*"], alpha=True) == [b"3", None, b"1", b"one", b"2", b"two"]
    assert r2.sort("ids", get=["#", "name_*"], groups=True) == [(b"1", b"one"), (b"2", b"two"), (b"3", None)]


def test_get_on_the_wire(raw):
    c = raw()
    c.cmd("RPUSH", "ids", "1", "2")
    c.cmd("SET", "v_1", "x")
    assert c.cmd("SORT", "ids", "GET", "v_*") == b"*2\r\n$1\r\nx\r\n$-1\r\n"
    assert c.cmd("HELLO", "3").startswith(b"%")
    assert c.cmd("SORT", "ids", "GET", "v_*", "GET", "#") == b"*4\r\n$1\r\nx\r\n$1\r\n1\r\n_\r\n$1\r\n2\r\n"
    assert c.cmd("SORT", "none") == b"*0\r\n"
    assert c.cmd("SORT", "ids", "STORE", "d") == b":2\r\n"


def test_store(r2):
    r2.rpush("l", "3", "1", "2")
    r2.set("d", "old", ex=100)
    assert sort(r2, "l", "STORE", "d") == 3
    assert r2.type("d") == b"list" and r2.lrange("d", 0, -1) == [b"1", b"2", b"3"] and r2.ttl("d") == -1
    r2.set("v_1", "one")
    assert sort(r2, "l", "GET", "v_*", "GET", "#", "STORE", "d", "DESC") == 6
    # A missing GET value is stored as an empty string.
    assert r2.lrange("d", 0, -1) == [b"", b"3", b"", b"2", b"one", b"1"]
    # The last STORE wins; the source may be the destination.
    assert sort(r2, "l", "STORE", "x", "STORE", "l", "ALPHA", "DESC") == 3
    assert r2.lrange("l", 0, -1) == [b"3", b"2", b"1"] and r2.exists("x") == 0
    # An empty result deletes the destination.
    assert sort(r2, "missing", "STORE", "d") == 0 and r2.exists("d") == 0
    assert sort(r2, "l", "LIMIT", "5", "5", "STORE", "l") == 0 and r2.exists("l") == 0
    r2.zadd("z", {"b": 2, "a": 1})
    assert sort(r2, "z", "BY", "nosort", "STORE", "zl") == 2 and r2.lrange("zl", 0, -1) == [b"a", b"b"]
    assert r2.sort("z", alpha=True, desc=True, store="zl") == 2 and r2.lrange("zl", 0, -1) == [b"b", b"a"]


def test_store_notifications(server):
    def actions(r):
        r.rpush("l", "2", "1")
        sort(r, "l", "STORE", "d")
        sort(r, "l", "STORE", "d")
        sort(r, "missing", "STORE", "d")
        sort(r, "missing", "STORE", "d")  # nothing to delete: no event
        sort(r, "l", "LIMIT", "0", "1")  # no event for a read

    assert keyspace_events(server, "lg", actions) == [
        (b"rpush", b"l"), (b"sortstore", b"d"), (b"sortstore", b"d"), (b"del", b"d"),
    ]


def test_store_serves_a_blocked_client(server, r2):
    r2.rpush("src", "b", "a")
    waiter = block(server, r2, "BLPOP", "dest", "0")
    assert sort(r2, "src", "ALPHA", "STORE", "dest") == 2
    assert waiter.result() in ([b"dest", b"a"], (b"dest", b"a"))
    assert r2.lrange("dest", 0, -1) == [b"b"]


def test_errors_and_their_order(r2):
    r2.rpush("l", "1")
    r2.set("str", "x")
    r2.hset("h", "f", "v")
    assert err(sort, r2, "l", "FOO") == "syntax error"
    assert err(sort, r2, "l", "LIMIT", "1") == "syntax error"
    assert err(sort, r2, "l", "LIMIT", "a", "1") == "value is not an integer or out of range"
    assert err(sort, r2, "l", "LIMIT", "1", "1.5") == "value is not an integer or out of range"
    assert err(sort, r2, "l", "BY") == "syntax error"
    assert err(sort, r2, "l", "GET") == "syntax error"
    assert err(sort, r2, "l", "STORE") == "syntax error"
    assert err(sort_ro, r2, "l", "STORE", "d") == "syntax error"
    assert err(sort, r2) == "wrong number of arguments for 'sort' command"
    assert err(sort_ro, r2) == "wrong number of arguments for 'sort_ro' command"
    wrongtype(sort, r2, "str")
    wrongtype(sort, r2, "h", "STORE", "d")
    wrongtype(sort_ro, r2, "str", "BY", "nosort")
    assert r2.exists("d") == 0
    # Options are read before the key's type is checked.
    assert err(sort, r2, "str", "FOO") == "syntax error"


def test_inside_multi(r2):
    r2.rpush("l", "2", "1")
    with r2.pipeline() as pipe:
        pipe.sort("l")
        pipe.sort("l", store="d")
        pipe.lrange("d", 0, -1)
        pipe.execute_command("SORT_RO", "l", "DESC")
        assert pipe.execute() == [[b"1", b"2"], 2, [b"1", b"2"], [b"2", b"1"]]


def test_command_getkeys(raw):
    c = raw()

    def keys(*args) -> bytes:
        return c.cmd("COMMAND", "GETKEYS", *args)

    assert keys("SORT", "k") == b"*1\r\n$1\r\nk\r\n"
    assert keys("SORT", "k", "STORE", "d") == b"*2\r\n$1\r\nk\r\n$1\r\nd\r\n"
    assert keys("SORT", "k", "STORE", "d", "LIMIT", "0", "1", "GET", "store", "STORE", "e") == b"*2\r\n$1\r\nk\r\n$1\r\ne\r\n"
    assert keys("SORT", "k", "GET", "store") == b"*1\r\n$1\r\nk\r\n"
    assert keys("SORT_RO", "k", "BY", "x", "GET", "y") == b"*1\r\n$1\r\nk\r\n"
    assert c.cmd("COMMAND", "GETKEYSANDFLAGS", "SORT", "k", "STORE", "d") == (
        b"*2\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nd\r\n*2\r\n+OW\r\n+update\r\n")


def test_by_and_get_need_access_to_every_key(server, r2):
    r2.rpush("k", "2", "1")
    r2.acl_setuser("sorter", enabled=True, nopass=True, keys=["k*"], commands=["+@all"])
    r2.acl_setuser("reader", enabled=True, nopass=True, keys=["k*", "%R~*"], commands=["+@all"])
    try:
        with server.client(username="sorter", password="x") as c:
            assert err(sort, c, "k", "BY", "w_*") == "BY option of SORT denied due to insufficient ACL permissions."
            assert err(sort, c, "k", "GET", "#") == "GET option of SORT denied due to insufficient ACL permissions."
            assert err(sort_ro, c, "k", "GET", "k*") == "GET option of SORT denied due to insufficient ACL permissions."
            assert sort(c, "k", "BY", "nosort") == [b"2", b"1"] and sort(c, "k") == [b"1", b"2"]
            assert sort(c, "k", "STORE", "kd") == 2
        with server.client(username="reader", password="x") as c:
            assert sort(c, "k", "BY", "w_*", "GET", "#") == [b"1", b"2"]
    finally:
        r2.acl_deluser("sorter", "reader")


@pytest.mark.kvnode_only
def test_store_goes_through_the_change_log(server):
    from test_types_common import watch_frames

    def writes(r):
        r.rpush("src", "b", "a")
        r.set("sorted", "old")
        sort(r, "src", "ALPHA", "STORE", "sorted")
        sort(r, "none", "STORE", "sorted")

    frames = watch_frames(server, "PREFIX", "sorted", until_key=b"sorted:end", writes=writes)
    shapes = [[part for part in frame[3:] if not (isinstance(part, bytes) and part.isdigit() and len(part) == 13)]
              for frame in frames]
    assert shapes[0][:2] == [b"set", b"sorted"]
    assert [shape[:3] for shape in shapes[1:]] == [
        [b"del", b"sorted", None], [b"rpush", b"sorted", b"a"], [b"rpush", b"sorted", b"b"], [b"del", b"sorted", None],
    ]
    # The replaced value and the new list are one command: one revision.
    assert frames[1][2] == frames[2][2] == frames[3][2] != frames[4][2]


def test_redis_py_sort_in_every_protocol(client):  # noqa: F811 - the fixture
    client.rpush("ids", "3", "1", "2")
    client.mset({"n_1": "one", "n_2": "two", "n_3": "three"})
    assert client.sort("ids", start=1, num=2) == [b"2", b"3"]
    assert client.sort("ids", get="n_*", desc=True) == [b"three", b"two", b"one"]
    assert client.sort("ids", by="n_*", alpha=True) == [b"1", b"3", b"2"]
    assert client.sort_ro("ids", by="nosort", get=["#", "n_*"]) == [b"3", b"three", b"1", b"one", b"2", b"two"]
    assert client.sort("ids", by="nosort", store="out") == 3 and client.lrange("out", 0, -1) == [b"3", b"1", b"2"]
    client.rpush("bad", "x")
    with pytest.raises(redis.ResponseError, match="scores can't be converted"):
        client.sort("bad")


def test_redis_cli(server, r2):
    r2.rpush("l", "b", "c", "a")
    r2.mset({"v_a": "1", "v_b": "2"})
    assert cli(server, "SORT", "l", "ALPHA", "DESC") == "c\nb\na\n"
    assert cli(server, "SORT_RO", "l", "BY", "nosort", "GET", "#", "GET", "v_*") == "b\n2\nc\n\na\n1\n"
    assert cli(server, "SORT", "l", "ALPHA", "STORE", "d") == "3\n"
    assert cli(server, "SORT", "l") == "ERR One or more scores can't be converted into double\n\n"


def test_keyspace_hits_and_misses(r2):
    r2.rpush("l", "a", "b", "c")
    r2.mset({"v_a": "1", "v_b": "2"})

    def counts():
        stats = r2.info("stats")
        return stats["keyspace_hits"], stats["keyspace_misses"]

    r2.config_resetstat()
    sort(r2, "missing")
    assert counts() == (0, 1)
    sort(r2, "l", "ALPHA")
    assert counts() == (1, 1)
    # Each GET lookup counts too: v_a and v_b found, v_c missing.
    sort(r2, "l", "ALPHA", "GET", "v_*")
    assert counts() == (4, 2)
