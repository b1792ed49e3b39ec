"""The hash family with Redis 7's replies, errors and notifications, with redis-py in RESP2 and RESP3, raw bytes and
redis-cli; every expectation holds against a real redis-server too (KVNODE_TARGET=redis)."""

import pytest

from conftest import encode
from type_helpers import WRONGTYPE, cli, err, keyspace_events, wrongtype

NOT_INTEGER = "value is not an integer or out of range"


# --- HSET / HGET / HMGET / HGETALL / HKEYS / HVALS / HLEN / HEXISTS / HSTRLEN ------------------------------------------

def test_hset_and_reads(client):
    assert client.hset("h", mapping={"f1": "v1", "f2": "v2"}) == 2
    assert client.hset("h", mapping={"f2": "changed", "f3": ""}) == 1
    assert client.hget("h", "f1") == b"v1"
    assert client.hget("h", "f2") == b"changed"
    assert client.hget("h", "f3") == b""
    assert client.hget("h", "nope") is None
    assert client.hget("missing", "f1") is None
    assert client.hmget("h", ["f1", "nope", "f3"]) == [b"v1", None, b""]
    assert client.hmget("missing", ["a", "b"]) == [None, None]
    assert client.hgetall("h") == {b"f1": b"v1", b"f2": b"changed", b"f3": b""}
    assert client.hgetall("missing") == {}
    assert sorted(client.hkeys("h")) == [b"f1", b"f2", b"f3"]
    assert sorted(client.hvals("h")) == [b"", b"changed", b"v1"]
    assert client.hkeys("missing") == [] and client.hvals("missing") == []
    assert client.hlen("h") == 3 and client.hlen("missing") == 0
    assert client.hexists("h", "f1") is True and client.hexists("h", "no") is False
    assert client.hexists("missing", "f1") is False
    assert client.hstrlen("h", "f2") == 7 and client.hstrlen("h", "no") == 0 and client.hstrlen("missing", "f") == 0


def test_binary_fields_and_values(r2):
    field, value = b"\x00f\xff\r\n", b"\x00\x01v\xfe"
    r2.hset("h", field, value)
    assert r2.hget("h", field) == value
    assert r2.hgetall("h") == {field: value}


def test_wire_replies(raw):
    c = raw()
    assert c.cmd("HSET", "h", "a", "1", "b", "2") == b":2\r\n"
    assert c.cmd("HMSET", "h", "c", "3") == b"+OK\r\n"
    assert c.cmd("HGET", "h", "zz") == b"$-1\r\n"
    assert c.cmd("HGETALL", "h") == b"*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"
    assert c.cmd("HGETALL", "nokey") == b"*0\r\n"
    assert c.cmd("HELLO", "3").startswith(b"%")
    assert c.cmd("HGETALL", "nokey") == b"%0\r\n"
    assert c.cmd("HGET", "h", "zz") == b"_\r\n"
    assert c.cmd("HMGET", "h", "a", "zz") == b"*2\r\n$1\r\n1\r\n_\r\n"


def test_hgetall_is_a_map_in_resp3(raw):
    c = raw()
    c.cmd("HELLO", "3")
    c.cmd("HSET", "h", "a", "1")
    assert c.cmd("HGETALL", "h") == b"%1\r\n$1\r\na\r\n$1\r\n1\r\n"


@pytest.mark.parametrize("command", [["HSET", "h"], ["HSET", "h", "a"], ["HSET", "h", "a", "b", "c"],
                                     ["HMSET", "h", "a"], ["HMSET", "h", "a", "b", "c"]])
def test_hset_arity(raw, command):
    c = raw()
    name = command[0].lower()
    assert c.cmd(*command) == f"-ERR wrong number of arguments for '{name}' command\r\n".encode()


def test_hsetnx(client):
    assert client.hsetnx("h", "f", "1") == 1
    assert client.hsetnx("h", "f", "2") == 0
    assert client.hget("h", "f") == b"1"
    assert client.hsetnx("h", "g", "3") == 1
    assert client.hlen("h") == 2


def test_duplicate_fields_in_one_hset(client):
    assert client.execute_command("HSET", "h", "f", "1", "f", "2") == 1
    assert client.hget("h", "f") == b"2"
    assert client.hlen("h") == 1


# --- HDEL ---------------------------------------------------------------------------------------------------------------

def test_hdel_counts_and_removes_the_emptied_key(client):
    client.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    assert client.hdel("h", "a", "zz", "a") == 1
    assert client.hlen("h") == 2
    assert client.hdel("h", "b", "c") == 2
    assert client.exists("h") == 0
    assert client.type("h") in (b"none", "none")
    assert client.hdel("h", "a") == 0


# --- HINCRBY / HINCRBYFLOAT -----------------------------------------------------------------------------------------------

def test_hincrby(client):
    assert client.hincrby("h", "n", 5) == 5
    assert client.hincrby("h", "n", -7) == -2
    assert client.hget("h", "n") == b"-2"
    client.hset("h", "big", str(2**63 - 1))
    assert err(client.hincrby, "h", "big", 1) == "increment or decrement would overflow"
    assert client.hget("h", "big") == str(2**63 - 1).encode()
    client.hset("h", "text", "abc")
    assert err(client.hincrby, "h", "text", 1) == "hash value is not an integer"
    client.hset("h", "spaced", " 1")
    assert err(client.hincrby, "h", "spaced", 1) == "hash value is not an integer"
    assert err(client.execute_command, "HINCRBY", "h", "n", "x") == NOT_INTEGER


def test_hincrbyfloat(client):
    assert client.hincrbyfloat("h", "f", 10.5) == 10.5
    assert client.execute_command("HINCRBYFLOAT", "h", "f", "0.1") in (b"10.6", 10.6)
    assert client.hget("h", "f") == b"10.6"
    assert client.execute_command("HINCRBYFLOAT", "h", "e", "5.0e3") in (b"5000", 5000.0)
    assert client.hget("h", "e") == b"5000"
    client.hset("h", "text", "abc")
    assert err(client.hincrbyfloat, "h", "text", 1) == "hash value is not a float"
    assert err(client.execute_command, "HINCRBYFLOAT", "h", "f", "x") == "value is not a valid float"
    assert err(client.execute_command, "HINCRBYFLOAT", "h", "f", "inf") == "value is NaN or Infinity"
    client.hset("h", "huge", "1e4932")
    assert err(client.execute_command, "HINCRBYFLOAT", "h", "huge", "1e4932") == "increment would produce NaN or Infinity"


def test_increments_check_the_argument_before_the_type(r2):
    r2.set("s", "1")
    assert err(r2.execute_command, "HINCRBY", "s", "f", "x") == NOT_INTEGER
    wrongtype(r2.hincrby, "s", "f", 1)
    assert err(r2.execute_command, "HINCRBYFLOAT", "s", "f", "x") == "value is not a valid float"
    wrongtype(r2.hincrbyfloat, "s", "f", 1)


# --- HRANDFIELD ----------------------------------------------------------------------------------------------------------

def test_hrandfield_without_count(client):
    assert client.hrandfield("missing") is None
    client.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    for _ in range(20):
        assert client.hrandfield("h") in (b"a", b"b", b"c")


def test_hrandfield_counts(client):
    fields = {f"f{i}".encode(): f"v{i}".encode() for i in range(10)}
    client.hset("h", mapping=fields)
    distinct = client.hrandfield("h", 4)
    assert len(distinct) == 4 and len(set(distinct)) == 4 and set(distinct) <= set(fields)
    assert sorted(client.hrandfield("h", 50)) == sorted(fields)
    repeated = client.hrandfield("h", -25)
    assert len(repeated) == 25 and set(repeated) <= set(fields)
    assert client.hrandfield("h", 0) == []
    assert client.hrandfield("missing", 5) == []
    assert client.hrandfield("missing", -5) == []


def test_hrandfield_withvalues_shapes(raw):
    c = raw()
    c.cmd("HSET", "h", "a", "1")
    assert c.cmd("HRANDFIELD", "h", "1", "WITHVALUES") == b"*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert c.cmd("HRANDFIELD", "h", "-2", "WITHVALUES") == b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert c.cmd("HRANDFIELD", "h", "0", "WITHVALUES") == b"*0\r\n"
    assert c.cmd("HRANDFIELD", "nokey", "3", "WITHVALUES") == b"*0\r\n"
    c.cmd("HELLO", "3")
    assert c.cmd("HRANDFIELD", "h", "5", "WITHVALUES") == b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert c.cmd("HRANDFIELD", "h", "-2", "WITHVALUES") == (
        b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n")
    assert c.cmd("HRANDFIELD", "nokey") == b"_\r\n"


def test_hrandfield_withvalues_pairs_match(client):
    fields = {f"f{i}".encode(): f"v{i}".encode() for i in range(6)}
    client.hset("h", mapping=fields)
    reply = client.hrandfield("h", -12, withvalues=True)
    pairs = reply if client.get_connection_kwargs().get("protocol") == 3 else list(zip(reply[::2], reply[1::2]))
    assert len(pairs) == 12
    for field, value in pairs:
        assert fields[field] == value


@pytest.mark.parametrize("args,error", [
    (["h", "abc"], NOT_INTEGER),
    (["h", "99999999999999999999"], NOT_INTEGER),
    (["h", "-9223372036854775808"],
     "value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
    (["h", "1", "withvalue"], "syntax error"),
    (["h", "1", "withvalues", "x"], "syntax error"),
    (["h", "4611686018427387904", "withvalues"], "value is out of range"),
])
def test_hrandfield_errors(r2, args, error):
    r2.hset("h", "a", "1")
    assert err(r2.execute_command, "HRANDFIELD", *args) == error


# --- HSCAN ---------------------------------------------------------------------------------------------------------------

def test_hscan_small_hash_comes_whole(client):
    client.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    assert client.hscan("h", 0, count=1) == (0, {b"a": b"1", b"b": b"2", b"c": b"3"})
    assert client.hscan("h", 0, match="b*") == (0, {b"b": b"2"})
    assert client.hscan("missing", 0) == (0, {})


def test_hscan_large_hash_iterates_every_field(client):
    fields = {f"field:{i:04}".encode(): str(i).encode() for i in range(1200)}
    client.hset("h", mapping=fields)
    seen = {}
    cursor, calls = None, 0
    while cursor != 0:
        cursor, page = client.hscan("h", cursor or 0, count=50)
        assert 0 <= cursor < 2**53
        seen.update(page)
        calls += 1
        assert calls < 1000
    assert seen == fields
    assert calls > 2  # COUNT is honoured for a hash Redis holds as a hashtable
    assert dict(client.hscan_iter("h", match="field:00*")) == {k: v for k, v in fields.items() if k.startswith(b"field:00")}


def test_hscan_errors(r2):
    r2.hset("h", "a", "1")
    assert err(r2.execute_command, "HSCAN", "h", "abc") == "invalid cursor"
    assert err(r2.execute_command, "HSCAN", "h", "0", "COUNT", "0") == "syntax error"
    assert err(r2.execute_command, "HSCAN", "h", "0", "COUNT", "x") == NOT_INTEGER
    assert err(r2.execute_command, "HSCAN", "h", "0", "MATCH") == "syntax error"
    assert err(r2.execute_command, "HSCAN", "h", "0", "NOVALUES") == "syntax error"
    # Options are read only for an existing hash, as in Redis.
    assert r2.execute_command("HSCAN", "nokey", "0", "COUNT", "0") == (0, {})


# --- Types, encodings ----------------------------------------------------------------------------------------------------

def test_wrong_types(r2):
    r2.hset("h", "f", "v")
    r2.set("s", "x")
    r2.sadd("set", "m")
    wrongtype(r2.get, "h")
    wrongtype(r2.append, "h", "x")
    wrongtype(r2.incr, "h")
    wrongtype(r2.getset, "h", "x")
    wrongtype(r2.getdel, "h")
    wrongtype(r2.strlen, "h")
    for call in (lambda k: r2.hget(k, "f"), lambda k: r2.hset(k, "f", "v"), lambda k: r2.hgetall(k),
                 lambda k: r2.hlen(k), lambda k: r2.hdel(k, "f"), lambda k: r2.hexists(k, "f"),
                 lambda k: r2.hmget(k, ["f"]), lambda k: r2.hkeys(k), lambda k: r2.hvals(k),
                 lambda k: r2.hsetnx(k, "f", "v"), lambda k: r2.hstrlen(k, "f"), lambda k: r2.hrandfield(k),
                 lambda k: r2.hscan(k, 0)):
        wrongtype(call, "s")
        wrongtype(call, "set")
    assert r2.hget("h", "f") == b"v" and r2.get("s") == b"x"


def test_type_and_encoding(r2):
    r2.hset("h", "f", "v")
    assert r2.type("h") == b"hash"
    assert r2.object("encoding", "h") == b"listpack"
    r2.hset("h", mapping={f"f{i}": "v" for i in range(511)})
    assert r2.hlen("h") == 512
    assert r2.object("encoding", "h") == b"listpack"  # hash-max-listpack-entries 512, Redis 7.0's default
    r2.hset("h", "one-more", "v")
    assert r2.object("encoding", "h") == b"hashtable"
    r2.hdel("h", *[f"f{i}" for i in range(500)])
    assert r2.object("encoding", "h") == b"hashtable"  # Redis never converts back
    r2.hset("long", "f", "x" * 64)
    assert r2.object("encoding", "long") == b"listpack"
    r2.hset("long", "g", "x" * 65)
    assert r2.object("encoding", "long") == b"hashtable"
    r2.hset("longfield", "y" * 65, "1")
    assert r2.object("encoding", "longfield") == b"hashtable"


def test_a_new_hash_never_sees_the_old_fields(r2):
    r2.hset("h", mapping={f"old{i}": "1" for i in range(300)})
    r2.delete("h")
    r2.hset("h", "new", "1")
    assert r2.hgetall("h") == {b"new": b"1"}
    assert r2.hlen("h") == 1
    r2.set("h", "string now")
    r2.delete("h")
    r2.hset("h", "again", "2")
    assert r2.hgetall("h") == {b"again": b"2"}


def test_large_hash(r2):
    fields = {f"f{i:06}": f"value-{i}" for i in range(20_000)}
    pipe = r2.pipeline(transaction=False)
    items = list(fields.items())
    for start in range(0, len(items), 1000):
        pipe.hset("big", mapping=dict(items[start:start + 1000]))
    assert sum(pipe.execute()) == 20_000
    assert r2.hlen("big") == 20_000
    everything = r2.hgetall("big")
    assert len(everything) == 20_000 and everything[b"f012345"] == b"value-12345"
    assert r2.delete("big") == 1
    assert r2.exists("big") == 0 and r2.hlen("big") == 0


# --- Pipelines, transactions, notifications, redis-cli -------------------------------------------------------------------

def test_pipeline_sees_its_own_writes(r2):
    pipe = r2.pipeline(transaction=False)
    pipe.hset("h", "a", "1")
    pipe.hgetall("h")
    pipe.hdel("h", "a")
    pipe.hset("h", "b", "2")
    pipe.hgetall("h")
    pipe.hlen("h")
    assert pipe.execute() == [1, {b"a": b"1"}, 1, 1, {b"b": b"2"}, 1]


def test_transaction_and_watch(server, r2):
    with r2.pipeline() as tx:
        tx.hset("h", "a", "1")
        tx.hincrby("h", "a", 5)
        tx.hgetall("h")
        assert tx.execute() == [1, 6, {b"a": b"6"}]
    with server.client() as other:
        with r2.pipeline() as tx:
            tx.watch("h")
            other.hset("h", "b", "2")
            tx.multi()
            tx.hset("h", "c", "3")
            with pytest.raises(Exception):
                tx.execute()
    assert r2.hgetall("h") == {b"a": b"6", b"b": b"2"}


def test_a_wrongtype_inside_exec_fails_only_that_command(r2):
    r2.set("s", "1")
    with r2.pipeline() as tx:
        tx.hset("h", "a", "1")
        tx.hset("s", "a", "1")
        tx.hget("h", "a")
        results = tx.execute(raise_on_error=False)
    assert results[0] == 1 and str(results[1]) == WRONGTYPE and results[2] == b"1"


def test_notifications(server):
    def actions(r):
        r.hset("h", "a", "1")
        r.hset("h", "a", "2")
        r.hsetnx("h", "a", "3")
        r.hsetnx("h", "b", "3")
        r.hincrby("h", "n", 1)
        r.hincrbyfloat("h", "x", 1.5)
        r.hdel("h", "zz")
        r.hdel("h", "a")
        r.hdel("h", "b", "n", "x")
        r.execute_command("HMSET", "h2", "a", "1")

    assert keyspace_events(server, "hgn", actions) == [
        (b"new", b"h"), (b"hset", b"h"), (b"hset", b"h"), (b"hset", b"h"), (b"hincrby", b"h"),
        (b"hincrbyfloat", b"h"), (b"hdel", b"h"), (b"hdel", b"h"), (b"del", b"h"),
        (b"new", b"h2"), (b"hset", b"h2"),
    ]


def test_redis_cli(server, r2):
    assert cli(server, "HSET", "h", "name", "kvnode", "kind", "server") == "2\n"
    assert cli(server, "HGET", "h", "name") == "kvnode\n"
    assert sorted(cli(server, "HGETALL", "h").splitlines()) == ["kind", "kvnode", "name", "server"]
    assert cli(server, "GET", "h").strip() == WRONGTYPE
    assert cli(server, "TYPE", "h") == "hash\n"
    assert r2.hlen("h") == 2


def test_pipelined_raw_hsets(raw):
    c = raw()
    c.send(b"".join(encode("HSET", "h", f"f{i}", f"v{i}") for i in range(200)) + encode("HLEN", "h"))
    replies = [c.reply() for _ in range(201)]
    assert replies[:200] == [b":1\r\n"] * 200
    assert replies[200] == b":200\r\n"
