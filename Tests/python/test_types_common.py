"""The generic commands across value types (DEL, EXISTS, TYPE, RENAME, COPY, the EXPIRE family, KEYS, SCAN TYPE,
RANDOMKEY, DBSIZE, FLUSHDB, OBJECT), checked against redis-server too; then kvnode's own: KEYS WITHVALUES, PDEL, the
change log's collection events (KV.HISTORY, KV.WATCH, KV.GET), replaying the log, and the background collector."""

from __future__ import annotations

import time

import pytest
import redis

from conftest import start_server, wait_until
from type_helpers import WRONGTYPE, dump, err, keyspace_events, wrongtype


def fill(r):
    r.set("str", "v")
    r.hset("hash", mapping={"f": "1", "g": "2"})
    r.sadd("set", "a", "b")


# --- Generic commands ---------------------------------------------------------------------------------------------------

def test_exists_del_unlink_touch_type(client):
    fill(client)
    assert client.exists("str", "hash", "set", "missing", "hash") == 4
    assert client.touch("str", "hash", "set", "missing") == 3
    assert [client.type(k) for k in ("str", "hash", "set", "missing")] in (
        [b"string", b"hash", b"set", b"none"], ["string", "hash", "set", "none"])
    assert client.dbsize() == 3
    assert client.delete("hash", "missing") == 1
    assert client.unlink("set", "str") == 2
    assert client.dbsize() == 0


def test_rename_moves_any_type_with_its_expiry(r2):
    fill(r2)
    r2.expire("hash", 1000)
    assert r2.rename("hash", "h2") is True
    assert r2.exists("hash") == 0 and r2.hgetall("h2") == {b"f": b"1", b"g": b"2"}
    assert 990 <= r2.ttl("h2") <= 1000
    assert r2.rename("set", "str") is True  # over a string
    assert r2.type("str") == b"set" and r2.smembers("str") == {b"a", b"b"}
    assert r2.renamenx("str", "h2") is False
    assert r2.renamenx("str", "fresh") is True
    assert r2.smembers("fresh") == {b"a", b"b"}
    assert r2.rename("h2", "h2") is True
    assert err(r2.rename, "missing", "x") == "no such key"
    # The renamed collection is the same one: writes to it go on from where they were.
    r2.hset("h2", "h", "3")
    assert r2.hlen("h2") == 3
    r2.hset("hash", "new", "1")
    assert r2.hgetall("hash") == {b"new": b"1"}


def test_copy_is_independent(r2):
    fill(r2)
    r2.expire("hash", 500)
    assert r2.copy("hash", "hcopy") is True
    assert r2.hgetall("hcopy") == {b"f": b"1", b"g": b"2"} and 490 <= r2.ttl("hcopy") <= 500
    r2.hset("hcopy", "f", "changed")
    assert r2.hget("hash", "f") == b"1"
    assert r2.copy("set", "str") is False
    assert r2.copy("set", "str", replace=True) is True
    assert r2.smembers("str") == {b"a", b"b"}
    r2.srem("str", "a")
    assert r2.smembers("set") == {b"a", b"b"}
    assert r2.copy("missing", "x") is False


def test_expiry_family_on_collections(r2):
    fill(r2)
    assert r2.ttl("hash") == -1
    assert r2.expire("hash", 100) is True and 99 <= r2.ttl("hash") <= 100
    assert r2.pexpire("set", 100_000) is True and 99_000 <= r2.pttl("set") <= 100_000
    assert r2.expiretime("hash") > time.time()
    assert r2.persist("hash") is True and r2.ttl("hash") == -1
    assert r2.persist("hash") is False
    assert r2.expire("hash", 100, gt=True) is False
    r2.hset("hash", "h", "3")  # writing an element keeps the expiry (none here) and the fields
    assert r2.hlen("hash") == 3
    r2.expire("set", 1000)
    r2.sadd("set", "c")
    assert 990 <= r2.ttl("set") <= 1000  # adding a member keeps the expiry
    assert r2.expire("set", -1) is True
    assert r2.exists("set") == 0
    r2.pexpire("hash", 50)
    wait_until(lambda: r2.exists("hash") == 0, message="the hash to expire")
    assert r2.hgetall("hash") == {} and r2.dbsize() == 1


def test_an_expired_collection_leaves_dbsize_without_a_read(r2):
    for i in range(20):
        r2.hset(f"h{i}", "f", "v")
        r2.sadd(f"s{i}", "m")
        r2.pexpire(f"h{i}", 30)
        r2.pexpire(f"s{i}", 30)
    r2.set("keep", "1")
    wait_until(lambda: r2.dbsize() == 1, message="the sweeper or DBSIZE to drop the expired collections")
    r2.hset("h0", "again", "1")
    assert r2.hgetall("h0") == {b"again": b"1"}


def test_overwriting_a_collection(r2):
    fill(r2)
    r2.set("hash", "now a string")
    assert r2.get("hash") == b"now a string"
    wrongtype(r2.hget, "hash", "f")
    wrongtype(r2.hset, "str", "f", "x")
    assert r2.getset("str", "w") == b"v"
    r2.delete("hash")
    r2.hset("hash", "z", "9")
    assert r2.hgetall("hash") == {b"z": b"9"}


def test_bit_and_lcs_commands_refuse_collections_and_write_strings(r2):
    fill(r2)
    for key in ("hash", "set"):
        wrongtype(r2.setbit, key, 1, 1)
        wrongtype(r2.getbit, key, 1)
        wrongtype(r2.bitcount, key)
        wrongtype(r2.bitpos, key, 1)
        wrongtype(r2.execute_command, "BITFIELD", key, "GET", "u8", 0)
        wrongtype(r2.execute_command, "BITFIELD_RO", key, "GET", "u8", 0)
        assert err(r2.execute_command, "LCS", key, "str") == "The specified keys must contain string values"
        assert err(r2.execute_command, "LCS", "str", key) == "The specified keys must contain string values"
        wrongtype(r2.execute_command, "SUBSTR", key, 0, 1)
        wrongtype(r2.bitop, "OR", "dest", key)
    assert r2.hgetall("hash") == {b"f": b"1", b"g": b"2"} and r2.exists("dest") == 0
    # A bit write makes a string; BITOP replaces a destination of any type with one, as SET does.
    r2.setbit("bits", 7, 1)
    assert r2.type("bits") == b"string" and r2.get("bits") == b"\x01"
    assert r2.bitop("OR", "hash", "bits") == 1
    assert r2.type("hash") == b"string" and r2.get("hash") == b"\x01"


def test_mget_answers_null_for_other_types(client):
    fill(client)
    assert client.mget("str", "hash", "set", "missing") == [b"v", None, None, None]


def test_keys_scan_randomkey_dbsize(client):
    fill(client)
    assert sorted(client.keys("*")) == [b"hash", b"set", b"str"]
    assert sorted(client.scan(0, count=100)[1]) == [b"hash", b"set", b"str"]
    assert client.scan(0, _type="hash", count=100) == (0, [b"hash"])
    assert client.scan(0, _type="SET", count=100) == (0, [b"set"])
    assert client.scan(0, _type="string", count=100) == (0, [b"str"])
    assert client.scan(0, _type="zset", count=100) == (0, [])
    assert client.scan(0, _type="nosuchtype", count=100) == (0, [])
    assert client.randomkey() in (b"hash", b"set", b"str")
    assert client.dbsize() == 3
    client.flushdb()
    assert client.dbsize() == 0 and client.randomkey() is None
    client.sadd("set", "new")
    assert client.smembers("set") == {b"new"}


def test_object_subcommands(r2):
    fill(r2)
    assert r2.object("encoding", "hash") == b"listpack"
    assert r2.object("encoding", "set") == b"hashtable"
    assert r2.object("refcount", "hash") == 1
    assert r2.object("idletime", "set") == 0
    assert r2.object("encoding", "missing") is None


def test_generic_notifications(server):
    def actions(r):
        r.hset("h", "f", "1")
        r.expire("h", 1000)
        r.persist("h")
        r.rename("h", "h2")
        r.copy("h2", "h3")
        r.sadd("s", "m")
        r.delete("s", "h3")
        r.sadd("gone", "m")
        r.pexpire("gone", 1)
        time.sleep(0.01)
        r.exists("gone")

    assert keyspace_events(server, "gxn", actions) == [
        (b"new", b"h"), (b"expire", b"h"), (b"persist", b"h"), (b"new", b"h2"), (b"rename_from", b"h"),
        (b"rename_to", b"h2"), (b"new", b"h3"), (b"copy_to", b"h3"), (b"new", b"s"), (b"del", b"s"),
        (b"del", b"h3"), (b"new", b"gone"), (b"expire", b"gone"), (b"expired", b"gone"),
    ]


def test_multi_exec_across_types(r2):
    r2.set("counter", "1")
    with r2.pipeline() as tx:
        tx.hset("h", "a", "1")
        tx.sadd("s", "x")
        tx.incr("counter")
        tx.type("h")
        tx.delete("h")
        tx.hset("h", "b", "2")
        tx.hgetall("h")
        assert tx.execute() == [1, 1, 2, b"hash", 1, 1, {b"b": b"2"}]


# --- kvnode's own ---------------------------------------------------------------------------------------------------------

@pytest.mark.kvnode_only
def test_keys_withvalues_gives_null_for_collections(r2):
    fill(r2)
    assert r2.execute_command("KEYS", "*", "WITHVALUES") == [b"hash", None, b"set", None, b"str", b"v"]
    assert r2.execute_command("KEYS", "*", "LIMIT", "1", "PIVOT", "hash") == [b"set"]
    assert r2.execute_command("KEYS", "*", "DESC", "LIMIT", "2") == [b"str", b"set"]


@pytest.mark.kvnode_only
def test_pdel_deletes_every_type(r2):
    fill(r2)
    r2.hset("other", "f", "1")
    assert r2.execute_command("PDEL", "s*") == 2
    assert sorted(r2.keys("*")) == [b"hash", b"other"]
    r2.sadd("set", "fresh")
    assert r2.smembers("set") == {b"fresh"}


@pytest.mark.kvnode_only
def test_kv_commands_on_collections(r2):
    # Key names of their own: the log keeps the history of keys other tests used, FLUSHDB or not.
    r2.hset("kv:h", "f", "v")
    first = r2.execute_command("KV.HISTORY", "kv:h")[0][0]
    assert err(r2.execute_command, "KV.GET", "kv:h") == WRONGTYPE
    assert err(r2.execute_command, "KV.GET", "kv:h", "AT", first) == WRONGTYPE
    r2.hset("kv:h", "g", "w")
    r2.hdel("kv:h", "f")
    r2.expire("kv:h", 1000)
    r2.persist("kv:h")
    r2.delete("kv:h")
    history = r2.execute_command("KV.HISTORY", "kv:h")
    assert [entry[1:] for entry in history] == [
        [b"hset", b"f", b"v"], [b"hset", b"g", b"w"], [b"hdel", b"f", None], [b"pexpireat", entry_ms(history[3])],
        [b"persist", None], [b"del", None],
    ]
    revisions = [entry[0] for entry in history]
    assert revisions == sorted(revisions) and len(set(revisions)) == 6
    r2.sadd("kv:s", "a", "b")
    assert [entry[1:] for entry in r2.execute_command("KV.HISTORY", "kv:s")] == [[b"sadd", b"a", None], [b"sadd", b"b", None]]
    # KV.SET overwrites a collection, as SET does.
    assert r2.execute_command("KV.SET", "kv:s", "now a string") > 0
    assert r2.get("kv:s") == b"now a string"


def entry_ms(entry) -> bytes:
    assert entry[1] == b"pexpireat" and int(entry[2]) > time.time() * 1000
    return entry[2]


def watch_frames(server, *watch_args, until_key: bytes, writes=lambda r: None) -> list[list]:
    """KV.WATCH's pushes on a RESP3 connection until the event of a SET of `until_key`, made after `writes`."""
    connection = redis.Connection(host=server.host, port=server.port, protocol=3, socket_timeout=30)
    connection.connect()
    try:
        connection.send_command("KV.WATCH", *watch_args)
        assert connection.read_response(push_request=True)[0] == b"kv.watch"
        with server.client() as writer:
            writes(writer)
            writer.set(until_key, "end")
        frames = []
        while True:
            frame = connection.read_response(push_request=True)
            if frame[0] == b"kv.event" and frame[3] == b"set" and frame[4] == until_key:
                return frames
            frames.append(frame)
    finally:
        connection.disconnect()


@pytest.mark.kvnode_only
def test_kv_watch_delivers_collection_events(server, raw):
    def writes(r):
        r.hset("job:1", mapping={"state": "queued", "try": "0"})
        r.hincrby("job:1", "try", 1)
        r.sadd("job:set", "a", "b")
        r.srem("job:set", "a")
        r.smove("job:set", "job:other", "b")
        r.expire("job:1", 100)
        r.rename("job:1", "job:2")
        r.delete("job:2")

    frames = watch_frames(server, "PREFIX", "job:", until_key=b"job:end", writes=writes)
    shapes = [[part for part in frame[3:] if not (isinstance(part, bytes) and part.isdigit() and len(part) == 13)]
              for frame in frames]
    assert shapes == [
        [b"hset", b"job:1", b"state", b"queued"], [b"hset", b"job:1", b"try", b"0"],
        [b"hset", b"job:1", b"try", b"1"],
        [b"sadd", b"job:set", b"a", None], [b"sadd", b"job:set", b"b", None], [b"srem", b"job:set", b"a", None],
        [b"srem", b"job:set", b"b", None], [b"del", b"job:set", None], [b"sadd", b"job:other", b"b", None],
        [b"pexpireat", b"job:1"], [b"rename", b"job:2", b"job:1"], [b"del", b"job:1", None], [b"del", b"job:2", None],
    ]
    # One revision per command, and a hash's fields of one HSET share it.
    assert frames[0][2] == frames[1][2] != frames[2][2]
    # On the wire, as a RESP3 push.
    c = raw()
    c.cmd("HELLO", "3")
    assert c.cmd("KV.WATCH", "KEY", "w").startswith(b">3\r\n$8\r\nkv.watch\r\n")
    with server.client() as writer:
        writer.hset("w", "f", "v")
        revision = writer.execute_command("KV.HISTORY", "w")[0][0]
    assert c.reply() == b">7\r\n$8\r\nkv.event\r\n:1\r\n:%d\r\n$4\r\nhset\r\n$1\r\nw\r\n$1\r\nf\r\n$1\r\nv\r\n" % revision


@pytest.mark.kvnode_only
def test_kv_watch_initial_sends_collections_element_by_element(server):
    with server.client() as r:
        r.hset("cfg:h", mapping={f"f{i:03}": str(i) for i in range(600)})
        r.sadd("cfg:s", "x", "y")
        r.zadd("cfg:z", {"low": float("-inf"), "tenth": 0.1})
        r.set("cfg:v", "1")
    connection = redis.Connection(host=server.host, port=server.port, protocol=3, socket_timeout=30)
    connection.connect()
    try:
        connection.send_command("KV.WATCH", "PREFIX", "cfg:", "INITIAL")
        frames = []
        while True:
            frame = connection.read_response(push_request=True)
            if frame[0] == b"kv.synced":
                break
            frames.append(frame)
    finally:
        connection.disconnect()
    events = [frame[3:] for frame in frames if frame[0] == b"kv.event"]
    hash_events = [e for e in events if e[1] == b"cfg:h"]
    assert len(hash_events) == 600 and all(e[0] == b"hset" for e in hash_events)
    assert {e[2]: e[3] for e in hash_events} == {f"f{i:03}".encode(): str(i).encode() for i in range(600)}
    assert [e for e in events if e[1] == b"cfg:s"] == [[b"sadd", b"cfg:s", b"x", None], [b"sadd", b"cfg:s", b"y", None]]
    assert [e for e in events if e[1] == b"cfg:z"] == [
        [b"zadd", b"cfg:z", b"low", b"-inf"], [b"zadd", b"cfg:z", b"tenth", b"0.10000000000000001"]]
    assert [e for e in events if e[1] == b"cfg:v"] == [[b"set", b"cfg:v", b"1"]]


REPLAYED = {
    b"set": lambda f: ["SET", f[4], f[5]],
    b"del": lambda f: ["DEL", f[4]],
    b"expired": lambda f: ["DEL", f[4]],
    b"flush": lambda f: ["FLUSHDB"],
    b"pexpireat": lambda f: ["PEXPIREAT", f[4], f[5]],
    b"persist": lambda f: ["PERSIST", f[4]],
    b"rename": lambda f: ["RENAME", f[5], f[4]],
    b"hset": lambda f: ["HSET", f[4], f[5], f[6]],
    b"hdel": lambda f: ["HDEL", f[4], f[5]],
    b"sadd": lambda f: ["SADD", f[4], f[5]],
    b"srem": lambda f: ["SREM", f[4], f[5]],
    b"rpush": lambda f: ["RPUSH", f[4], f[5]],
    b"lpush": lambda f: ["LPUSH", f[4], f[5]],
    b"lpop": lambda f: ["LPOP", f[4]],
    b"rpop": lambda f: ["RPOP", f[4]],
    b"lset": lambda f: ["LSET", f[4], f[5], f[6]],
    b"linsert": lambda f: ["LINSERT", f[4], f[5], f[6], f[7]],
    b"lrem": lambda f: ["LREM", f[4], f[5], f[6]],
    b"zadd": lambda f: ["ZADD", f[4], f[6], f[5]],
    b"zrem": lambda f: ["ZREM", f[4], f[5]],
}


def mixed_workload(r):
    r.hset("h1", mapping={"a": "1", "b": "2"})
    r.hincrby("h1", "a", 5)
    r.hincrbyfloat("h1", "f", 1.5)
    r.hdel("h1", "b")
    r.hsetnx("h1", "c", "3")
    r.sadd("s1", "1", "2", "3", "x")
    r.srem("s1", "2")
    r.spop("s1")
    r.spop("s1", 1)
    r.sadd("s2", "y", "z")
    r.smove("s2", "s1", "y")
    r.sinterstore("s3", ["s1", "s1"])
    r.sunionstore("s1", ["s1", "s2"])
    r.sdiffstore("s4", ["s1", "s2"])
    r.zadd("z1", {"a": 1, "b": 0.1, "c": float("inf"), "d": -2})
    r.zincrby("z1", 0.2, "b")
    r.zadd("z1", {"a": 5, "e": 7}, gt=True)
    r.zrem("z1", "d")
    r.zpopmax("z1")
    r.zadd("z2", {"b": 3, "x": 1})
    r.zunionstore("z3", {"z1": 2, "z2": 1})
    r.zrangestore("z4", "z3", 0, 1)
    r.zremrangebyrank("z3", 0, 0)
    r.copy("z1", "z5")
    r.rename("z2", "z6")
    r.set("str", "v")
    r.rename("h1", "h2")
    r.copy("h2", "h3")
    r.expire("h3", 1000)
    r.persist("h3")
    r.delete("s2")
    with r.pipeline() as tx:
        tx.hset("h4", "x", "1")
        tx.delete("h4")
        tx.hset("h4", "y", "2")
        tx.sadd("s5", "p")
        tx.execute()
    r.hset("big", mapping={f"f{i}": str(i) for i in range(300)})
    r.delete("big")
    r.hset("h5", "a", "1")
    r.set("h5", "a string now")
    r.rename("s3", "h2")
    r.hset("doomed", "a", "1")
    r.flushdb()
    r.hset("after", mapping={"k": "v"})
    r.sadd("after:set", *range(40))
    r.spop("after:set", 30)
    r.set("h3", "x")
    r.sadd("gone", "m")
    r.pexpire("gone", 1)
    r.hset("tail", "t", "1")
    r.copy("after", "tail", replace=True)
    r.execute_command("SET", "counter", "10")
    r.incr("counter")
    r.rpush("list", "a", "b", "c", "b", "d", "b")
    r.lpush("list", "z")
    r.linsert("list", "before", "b", "x")
    r.linsert("list", "after", "d", "y")
    r.lset("list", 0, "Z")
    r.lrem("list", -2, "b")
    r.lrem("list", 1, "b")
    r.ltrim("list", 1, -2)
    r.lmove("list", "list2", "LEFT", "RIGHT")
    r.copy("list", "list3")
    r.rpush("gone:list", "1")
    r.rpop("gone:list")


@pytest.mark.kvnode_only
def test_replaying_the_log_reproduces_the_keyspace(server):
    with server.client() as r:
        mixed_workload(r)
        time.sleep(0.05)  # "gone" expires
        wait_until(lambda: r.exists("gone") == 0)
        expected = dump(r)
    assert expected[b"after"] == ("hash", {b"k": b"v"}) and len(expected[b"after:set"][1]) == 10
    frames = watch_frames(server, "PREFIX", "", "FROM", "1", until_key=b"__replay_end__")
    with start_server() as replica, replica.client() as target:
        for frame in frames:
            assert frame[0] == b"kv.event", frame
            target.execute_command(*REPLAYED[frame[3]](frame))
        assert dump(target) == expected


@pytest.mark.kvnode_only
def test_deleting_a_large_hash_is_collected_in_the_background(r2):
    pipe = r2.pipeline(transaction=False)
    for start in range(0, 60_000, 2000):
        pipe.hset("big", mapping={f"field:{i}": "x" * 20 for i in range(start, start + 2000)})
    pipe.execute()
    assert r2.hlen("big") == 60_000
    assert r2.delete("big") == 1
    assert r2.exists("big") == 0 and r2.hlen("big") == 0 and r2.dbsize() == 0
    r2.hset("big", "fresh", "1")
    assert r2.hgetall("big") == {b"fresh": b"1"}
    wait_until(lambda: r2.info("memory")["lazyfree_pending_objects"] == 0, message="the collector to finish")
    assert r2.info("memory")["lazyfree_pending_elements"] == 0
    assert r2.hgetall("big") == {b"fresh": b"1"}
