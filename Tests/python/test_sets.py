"""The set family with Redis 7's replies, errors and notifications, with redis-py in RESP2 and RESP3, raw bytes and
redis-cli; every expectation holds against a real redis-server too (KVNODE_TARGET=redis)."""

import pytest

from type_helpers import WRONGTYPE, cli, err, keyspace_events, wrongtype

NOT_INTEGER = "value is not an integer or out of range"
POSITIVE = "value is out of range, must be positive"


# --- SADD / SREM / SMEMBERS / SISMEMBER / SMISMEMBER / SCARD -----------------------------------------------------------

def test_add_remove_and_read(client):
    assert client.sadd("s", "a", "b", "c", "a") == 3
    assert client.sadd("s", "c", "d") == 1
    assert client.smembers("s") == {b"a", b"b", b"c", b"d"}
    assert client.scard("s") == 4 and client.scard("missing") == 0
    assert client.sismember("s", "a") in (1, True) and client.sismember("s", "z") in (0, False)
    assert client.sismember("missing", "a") in (0, False)
    assert client.smismember("s", ["a", "z", "d"]) in ([1, 0, 1], [True, False, True])
    assert client.smismember("missing", ["a"]) in ([0], [False])
    assert client.srem("s", "a", "z", "a") == 1
    assert client.smembers("missing") == set()
    assert client.srem("s", "b", "c", "d") == 3
    assert client.exists("s") == 0
    assert client.srem("s", "x") == 0


def test_wire_replies(raw):
    c = raw()
    assert c.cmd("SADD", "s", "1") == b":1\r\n"
    assert c.cmd("SMEMBERS", "s") == b"*1\r\n$1\r\n1\r\n"
    assert c.cmd("SMEMBERS", "nokey") == b"*0\r\n"
    c.cmd("HELLO", "3")
    assert c.cmd("SMEMBERS", "s") == b"~1\r\n$1\r\n1\r\n"
    assert c.cmd("SMEMBERS", "nokey") == b"~0\r\n"
    assert c.cmd("SINTER", "s", "s") == b"~1\r\n$1\r\n1\r\n"
    assert c.cmd("SUNION", "nokey") == b"~0\r\n"
    assert c.cmd("SPOP", "nokey", "1") == b"~0\r\n"
    assert c.cmd("SPOP", "s", "0") == b"~0\r\n"
    assert c.cmd("SRANDMEMBER", "s", "2") == b"*1\r\n$1\r\n1\r\n"
    assert c.cmd("SRANDMEMBER", "nokey", "2") == b"*0\r\n"
    assert c.cmd("SRANDMEMBER", "s", "-2") == b"*2\r\n$1\r\n1\r\n$1\r\n1\r\n"
    assert c.cmd("SRANDMEMBER", "s", "0") == b"*0\r\n"
    assert c.cmd("SPOP", "nokey") == b"_\r\n"
    assert c.cmd("SMISMEMBER", "s", "1", "9") == b"*2\r\n:1\r\n:0\r\n"
    assert c.cmd("SPOP", "s", "5") == b"~1\r\n$1\r\n1\r\n"
    assert c.cmd("EXISTS", "s") == b":0\r\n"


def test_binary_members(r2):
    member = b"\x00\xffm\r\n"
    r2.sadd("s", member, b"")
    assert r2.smembers("s") == {member, b""}
    assert r2.sismember("s", b"") == 1


# --- SPOP / SRANDMEMBER ---------------------------------------------------------------------------------------------------

def test_spop(client):
    members = {f"m{i}".encode() for i in range(20)}
    client.sadd("s", *members)
    popped = client.spop("s")
    assert popped in members and client.scard("s") == 19 and client.sismember("s", popped) in (0, False)
    several = client.spop("s", 5)
    assert len(several) == 5 and len(set(several)) == 5 and set(several) <= members - {popped}
    assert client.scard("s") == 14
    rest = client.spop("s", 100)
    assert len(rest) == 14 and set(rest) | set(several) | {popped} == members
    assert client.exists("s") == 0
    assert client.spop("s") is None
    assert client.spop("s", 3) in ([], set())


def test_spop_most_of_a_large_set(r2):
    r2.sadd("s", *range(2000))
    popped = r2.spop("s", 1990)
    assert len(set(popped)) == 1990
    left = r2.smembers("s")
    assert len(left) == 10 and not (left & set(popped))
    assert left | set(popped) == {str(i).encode() for i in range(2000)}


def test_spop_errors(r2):
    r2.sadd("s", "a")
    assert err(r2.execute_command, "SPOP", "s", "-1") == POSITIVE
    assert err(r2.execute_command, "SPOP", "s", "abc") == POSITIVE
    assert err(r2.execute_command, "SPOP", "s", "1", "2") == "syntax error"
    assert r2.smembers("s") == {b"a"}


def test_srandmember(client):
    members = {f"m{i}".encode() for i in range(30)}
    client.sadd("s", *members)
    assert client.srandmember("s") in members
    distinct = client.srandmember("s", 10)
    assert len(distinct) == 10 and len(set(distinct)) == 10 and set(distinct) <= members
    most = client.srandmember("s", 25)
    assert len(set(most)) == 25
    assert sorted(client.srandmember("s", 100)) == sorted(members)
    repeated = client.srandmember("s", -70)
    assert len(repeated) == 70 and set(repeated) <= members
    assert client.scard("s") == 30
    assert client.srandmember("missing") is None
    assert client.srandmember("missing", 3) == []


def test_srandmember_errors(r2):
    r2.sadd("s", "a")
    assert err(r2.execute_command, "SRANDMEMBER", "s", "abc") == NOT_INTEGER
    assert err(r2.execute_command, "SRANDMEMBER", "s", "-9223372036854775808") == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    assert err(r2.execute_command, "SRANDMEMBER", "s", "1", "2") == "syntax error"


def test_random_members_of_a_large_set(r2):
    r2.sadd("s", *[f"member:{i}" for i in range(5000)])
    picks = {r2.srandmember("s") for _ in range(200)}
    assert len(picks) > 20
    distinct = r2.srandmember("s", 100)
    assert len(set(distinct)) == 100
    assert len(r2.srandmember("s", -300)) == 300


# --- SMOVE ---------------------------------------------------------------------------------------------------------------

def test_smove(client):
    client.sadd("a", "x", "y")
    assert client.smove("a", "b", "x") in (1, True)
    assert client.smembers("a") == {b"y"} and client.smembers("b") == {b"x"}
    assert client.smove("a", "b", "nope") in (0, False)
    client.sadd("b", "y")
    assert client.smove("a", "b", "y") in (1, True)  # already in the destination: still moved out of the source
    assert client.exists("a") == 0 and client.smembers("b") == {b"x", b"y"}
    assert client.smove("missing", "b", "x") in (0, False)
    assert client.smove("b", "b", "x") in (1, True) and client.smove("b", "b", "z") in (0, False)


def test_smove_types(r2):
    r2.sadd("s", "m")
    r2.set("str", "1")
    wrongtype(r2.smove, "s", "str", "m")
    wrongtype(r2.smove, "str", "s", "m")
    assert r2.smove("missing", "str", "m") == 0  # a missing source answers before the destination is looked at
    assert r2.smembers("s") == {b"m"}


# --- SINTER / SUNION / SDIFF / STORE / SINTERCARD --------------------------------------------------------------------------

def test_algebra(client):
    client.sadd("a", "1", "2", "3", "4")
    client.sadd("b", "3", "4", "5")
    client.sadd("c", "4", "5", "6")
    assert client.sinter("a", "b") == {b"3", b"4"}
    assert client.sinter("a", "b", "c") == {b"4"}
    assert client.sinter("a", "missing") == set()
    assert client.sunion("a", "b", "missing") == {b"1", b"2", b"3", b"4", b"5"}
    assert client.sdiff("a", "b") == {b"1", b"2"}
    assert client.sdiff("a", "b", "c") == {b"1", b"2"}
    assert client.sdiff("a", "a") == set()
    assert client.sdiff("missing", "a") == set()
    assert client.sintercard(2, ["a", "b"]) == 2
    assert client.sintercard(2, ["a", "b"], limit=1) == 1
    assert client.sintercard(1, ["a"], limit=0) == 4
    assert client.sintercard(2, ["a", "missing"]) == 0


def test_store_forms(client):
    client.sadd("a", "1", "2", "3")
    client.sadd("b", "2", "3", "4")
    assert client.sinterstore("dst", ["a", "b"]) == 2
    assert client.smembers("dst") == {b"2", b"3"}
    assert client.sunionstore("dst", ["a", "b"]) == 4
    assert client.smembers("dst") == {b"1", b"2", b"3", b"4"}
    assert client.sdiffstore("dst", ["a", "b"]) == 1
    assert client.smembers("dst") == {b"1"}
    # The destination may be a source, and of any type.
    assert client.sunionstore("a", ["a", "b"]) == 4
    assert client.smembers("a") == {b"1", b"2", b"3", b"4"}
    client.set("str", "x")
    assert client.sinterstore("str", ["a", "b"]) == 3
    assert client.type("str") in (b"set", "set")
    # An empty result deletes the destination.
    assert client.sinterstore("dst", ["a", "missing"]) == 0
    assert client.exists("dst") == 0
    assert client.sdiffstore("b", ["b", "a"]) == 0
    assert client.exists("b") == 0


def test_algebra_checks_every_type_first(r2):
    r2.sadd("s", "1")
    r2.set("str", "x")
    for command in (["SINTER"], ["SUNION"], ["SDIFF"], ["SINTERSTORE", "d"], ["SUNIONSTORE", "d"],
                    ["SDIFFSTORE", "d"], ["SINTERCARD", "2"]):
        assert err(r2.execute_command, *command, "s", "str") == WRONGTYPE
        assert err(r2.execute_command, *command, "missing", "str") == WRONGTYPE
    assert r2.exists("d") == 0


@pytest.mark.parametrize("args,error", [
    (["0", "s"], "numkeys should be greater than 0"),
    (["abc", "s"], "numkeys should be greater than 0"),
    (["3", "s", "t"], "Number of keys can't be greater than number of args"),
    (["1", "s", "LIMIT", "-1"], "LIMIT can't be negative"),
    (["1", "s", "LIMIT", "abc"], "LIMIT can't be negative"),
    (["1", "s", "LIMIT"], "syntax error"),
    (["1", "s", "foo", "1"], "syntax error"),
])
def test_sintercard_errors(r2, args, error):
    r2.sadd("s", "1")
    assert err(r2.execute_command, "SINTERCARD", *args) == error


# --- SSCAN ---------------------------------------------------------------------------------------------------------------

def test_sscan(client):
    client.sadd("ints", *range(10))
    assert client.sscan("ints", 0, count=2) == (0, [str(i).encode() for i in range(10)])
    members = {f"member:{i:04}".encode() for i in range(600)}
    client.sadd("s", *members)
    seen, cursor, calls = set(), None, 0
    while cursor != 0:
        cursor, page = client.sscan("s", cursor or 0, count=40)
        assert 0 <= cursor < 2**53
        seen.update(page)
        calls += 1
        assert calls < 1000
    assert seen == members and calls > 2
    assert set(client.sscan_iter("s", match="member:000*")) == {m for m in members if m.startswith(b"member:000")}
    assert client.sscan("missing", 0) == (0, [])


def test_sscan_errors(r2):
    r2.sadd("s", "a")
    assert err(r2.execute_command, "SSCAN", "s", "abc") == "invalid cursor"
    assert err(r2.execute_command, "SSCAN", "s", "0", "COUNT", "-1") == "syntax error"
    assert err(r2.execute_command, "SSCAN", "s", "0", "MATCH") == "syntax error"


# --- Types, encodings, generations ---------------------------------------------------------------------------------------

def test_wrong_types(r2):
    r2.sadd("s", "m")
    r2.set("str", "x")
    r2.hset("h", "f", "v")
    wrongtype(r2.get, "s")
    wrongtype(r2.hget, "s", "f")
    for call in (lambda k: r2.sadd(k, "m"), lambda k: r2.srem(k, "m"), lambda k: r2.smembers(k),
                 lambda k: r2.sismember(k, "m"), lambda k: r2.smismember(k, ["m"]), lambda k: r2.scard(k),
                 lambda k: r2.spop(k), lambda k: r2.spop(k, 2), lambda k: r2.srandmember(k),
                 lambda k: r2.srandmember(k, 2), lambda k: r2.sscan(k, 0)):
        wrongtype(call, "str")
        wrongtype(call, "h")
    assert r2.smembers("s") == {b"m"}


def test_type_and_encoding(r2):
    r2.sadd("s", *range(512))
    assert r2.type("s") == b"set"
    assert r2.object("encoding", "s") == b"intset"
    r2.sadd("s", 512)
    assert r2.object("encoding", "s") == b"hashtable"
    r2.srem("s", *range(500))
    assert r2.object("encoding", "s") == b"hashtable"
    r2.sadd("t", "1", "-5", "9223372036854775807")
    assert r2.object("encoding", "t") == b"intset"
    r2.sadd("t", "01")
    assert r2.object("encoding", "t") == b"hashtable"
    r2.sadd("u", "a")
    assert r2.object("encoding", "u") == b"hashtable"
    r2.sinterstore("v", ["t", "t"])
    assert r2.object("encoding", "v") == b"hashtable"
    r2.sadd("w", "1", "2")
    r2.sunionstore("x", ["w"])
    assert r2.object("encoding", "x") == b"intset"


def test_a_new_set_never_sees_the_old_members(r2):
    r2.sadd("s", *[f"old{i}" for i in range(1000)])
    r2.delete("s")
    r2.sadd("s", "new")
    assert r2.smembers("s") == {b"new"} and r2.scard("s") == 1
    r2.expire("s", 1000)
    r2.sadd("s", "newer")
    assert r2.smembers("s") == {b"new", b"newer"}


# --- Pipelines, transactions, notifications, redis-cli -------------------------------------------------------------------

def test_pipeline_and_transaction(r2):
    pipe = r2.pipeline(transaction=False)
    pipe.sadd("s", "a", "b")
    pipe.smembers("s")
    pipe.srem("s", "a")
    pipe.sinterstore("d", ["s", "s"])
    pipe.smembers("d")
    assert pipe.execute() == [2, {b"a", b"b"}, 1, 1, {b"b"}]
    with r2.pipeline() as tx:
        tx.sadd("t", "x")
        tx.smove("t", "u", "x")
        tx.smembers("u")
        tx.exists("t")
        assert tx.execute() == [1, True, {b"x"}, 0]


def test_watch_is_invalidated_by_a_set_change(server, r2):
    r2.sadd("s", "a")
    with server.client() as other, r2.pipeline() as tx:
        tx.watch("s")
        other.srem("s", "a")
        tx.multi()
        tx.sadd("s", "b")
        with pytest.raises(Exception):
            tx.execute()
    assert r2.exists("s") == 0


def test_notifications(server):
    def actions(r):
        r.sadd("a", "1", "2", "3")
        r.sadd("a", "1")
        r.srem("a", "9")
        r.srem("a", "1")
        r.spop("a")
        r.smove("a", "b", "nope")
        r.sadd("a", "x")
        r.spop("a", 1)
        r.spop("a", 5)
        r.sadd("a", "m", "n")
        r.smove("a", "b", "m")
        r.smove("a", "b", "n")
        r.sinterstore("c", ["b", "b"])
        r.sunionstore("c", ["b", "missing"])
        r.sdiffstore("c", ["b", "b"])
        r.sdiffstore("c", ["b", "b"])

    events = keyspace_events(server, "sgn", actions)
    # SPOP removes a random member: which one does not change the events.
    assert events == [
        (b"new", b"a"), (b"sadd", b"a"), (b"srem", b"a"), (b"spop", b"a"),
        (b"sadd", b"a"), (b"spop", b"a"), (b"spop", b"a"), (b"del", b"a"),
        (b"new", b"a"), (b"sadd", b"a"),
        (b"srem", b"a"), (b"new", b"b"), (b"sadd", b"b"),
        (b"srem", b"a"), (b"del", b"a"), (b"sadd", b"b"),
        (b"new", b"c"), (b"sinterstore", b"c"),
        (b"sunionstore", b"c"),
        (b"del", b"c"),
    ]


def test_redis_cli(server, r2):
    assert cli(server, "SADD", "s", "a", "b") == "2\n"
    assert sorted(cli(server, "SMEMBERS", "s").splitlines()) == ["a", "b"]
    assert cli(server, "SCARD", "s") == "2\n"
    assert cli(server, "TYPE", "s") == "set\n"
    assert cli(server, "HGET", "s", "f").strip() == WRONGTYPE
    assert r2.smembers("s") == {b"a", b"b"}
