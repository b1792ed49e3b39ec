"""The ordered keyspace: KEYS (with kvnode's PIVOT/LIMIT/DESC/WITHVALUES), PDEL, SCAN, and the generic key
commands. Redis behaviour is checked with KVNODE_TARGET=redis; kvnode's extensions are kvnode_only."""

import os
import random
import threading
import time

import pytest
from redis.exceptions import ResponseError

from conftest import start_server
from replies import poll

kvnode_only = pytest.mark.kvnode_only


def err(fn, *args):
    with pytest.raises(ResponseError) as e:
        fn(*args)
    return str(e.value)


def keys(c, *args):
    return c.execute_command("KEYS", *args)


# --- KEYS: Redis glob semantics (order-free, so they hold on Redis too) -----------------------

GLOB_KEYS = [b"hello", b"hallo", b"hxllo", b"hllo", b"heeello", b"h*llo", b"h?llo", b"h[a]llo",
             b"h\\llo", b"caf\xc3\xa9", b"cafe", b"", b"a-b", b"a]b", b"user:1:x", b"user:10:x", b"user:2:x"]


@pytest.fixture
def glob_keys(r2):
    r2.mset({k: b"v" for k in GLOB_KEYS})
    return r2


@pytest.mark.parametrize("pattern,expected", [
    ("*", GLOB_KEYS),
    ("h?llo", [b"hello", b"hallo", b"hxllo", b"h*llo", b"h?llo", b"h\\llo"]),
    ("h*llo", [b"hello", b"hallo", b"hxllo", b"hllo", b"heeello", b"h*llo", b"h?llo", b"h[a]llo", b"h\\llo"]),
    ("h[ae]llo", [b"hello", b"hallo"]),
    ("h[^e]llo", [b"hallo", b"hxllo", b"h*llo", b"h?llo", b"h\\llo"]),
    ("h[a-e]llo", [b"hello", b"hallo"]),
    ("h[e-a]llo", [b"hello", b"hallo"]),  # reversed ranges work too
    ("h\\*llo", [b"h*llo"]),
    ("h\\?llo", [b"h?llo"]),
    ("h\\[a]llo", [b"h[a]llo"]),
    ("h\\\\llo", [b"h\\llo"]),
    ("a[\\]]b", [b"a]b"]),
    ("a[\\-]b", [b"a-b"]),
    ("hello", [b"hello"]),  # no wildcard: exactly that key
    ("hell", []),
    ("caf?", [b"cafe"]),  # ? is one byte, and é is two
    ("caf??", [b"caf\xc3\xa9"]),
    ("caf\xc3\xa9", [b"caf\xc3\xa9"]),
    ("", [b""]),  # the empty pattern matches the empty key only
    ("user:1*", [b"user:1:x", b"user:10:x"]),
    ("user:1:*", [b"user:1:x"]),
    ("nothing*", []),
])
def test_keys_glob(glob_keys, pattern, expected):
    assert sorted(keys(glob_keys, pattern.encode("latin-1") if "\xc3" in pattern else pattern)) == sorted(expected)


def test_keys_skips_nothing_else(client):
    assert keys(client, "*") == []
    client.set("a", "1")
    assert keys(client, "*") == [b"a"]


def test_keys_wire_reply(raw):
    c = raw()
    assert c.cmd("KEYS", "*") == b"*0\r\n"
    c.cmd("SET", "k", "v")
    assert c.cmd("KEYS", "k*") == b"*1\r\n$1\r\nk\r\n"


def test_keys_arity(r2):
    assert err(r2.execute_command, "KEYS") == "wrong number of arguments for 'keys' command"


# --- KEYS: kvnode's ordered paging -----------------------------------------------------------

@pytest.fixture
def four(client):
    client.mset({"key1": 1, "key2": 2, "key3": 3, "key4": 4})
    return client


@kvnode_only
def test_keys_issue_examples(four):
    assert keys(four, "*", "LIMIT", 2) == [b"key1", b"key2"]
    assert keys(four, "*", "PIVOT", "key2", "LIMIT", 2) == [b"key3", b"key4"]
    assert keys(four, "*", "DESC", "PIVOT", "key3") == [b"key2", b"key1"]
    assert keys(four, "key?", "WITHVALUES", "LIMIT", 1) == [b"key1", b"1"]


@kvnode_only
def test_keys_order_and_desc(four):
    four.set("a", "x")
    four.set("z", "y")
    assert keys(four, "*") == [b"a", b"key1", b"key2", b"key3", b"key4", b"z"]
    assert keys(four, "*", "DESC") == [b"z", b"key4", b"key3", b"key2", b"key1", b"a"]
    assert keys(four, "key*", "DESC", "LIMIT", 3) == [b"key4", b"key3", b"key2"]
    assert keys(four, "*", "WITHVALUES") == [b"a", b"x", b"key1", b"1", b"key2", b"2", b"key3", b"3",
                                             b"key4", b"4", b"z", b"y"]


@kvnode_only
def test_keys_desc_with_values(four):
    four.set("a", "x")
    assert keys(four, "*", "DESC", "WITHVALUES") == [b"key4", b"4", b"key3", b"3", b"key2", b"2", b"key1", b"1",
                                                     b"a", b"x"]
    assert keys(four, "key*", "WITHVALUES", "DESC", "LIMIT", 2) == [b"key4", b"4", b"key3", b"3"]
    assert keys(four, "*", "DESC", "PIVOT", "key3", "WITHVALUES") == [b"key2", b"2", b"key1", b"1", b"a", b"x"]
    assert keys(four, "key?", "DESC", "WITHVALUES", "PIVOT", "key2") == [b"key1", b"1"]
    assert keys(four, "key3", "DESC", "WITHVALUES") == [b"key3", b"3"]
    assert keys(four, "nothing*", "DESC", "WITHVALUES") == []


@kvnode_only
def test_keys_pivot_is_exclusive_and_need_not_exist(four):
    assert keys(four, "*", "PIVOT", "key2") == [b"key3", b"key4"]
    assert keys(four, "*", "PIVOT", "key25") == [b"key3", b"key4"]
    assert keys(four, "*", "PIVOT", "key2", "DESC") == [b"key1"]
    assert keys(four, "*", "PIVOT", "key25", "DESC") == [b"key2", b"key1"]


@kvnode_only
def test_keys_pivot_beyond_either_end(four):
    four.set("key", "prefix itself")
    # Below every key: ascending returns all of them (including the key equal to the literal prefix).
    assert keys(four, "key*", "PIVOT", "a") == [b"key", b"key1", b"key2", b"key3", b"key4"]
    assert keys(four, "key*", "PIVOT", "") == [b"key", b"key1", b"key2", b"key3", b"key4"]
    assert keys(four, "key*", "PIVOT", "a", "DESC") == []
    # Above every key: descending returns all of them, ascending none.
    assert keys(four, "key*", "PIVOT", "zzz") == []
    assert keys(four, "key*", "PIVOT", "zzz", "DESC") == [b"key4", b"key3", b"key2", b"key1", b"key"]
    assert keys(four, "key*", "PIVOT", "key4") == []
    assert keys(four, "key*", "PIVOT", "key", "DESC") == []


@kvnode_only
def test_keys_paging_walks_everything_once(client):
    expected = sorted(f"item:{i:04d}".encode() for i in range(250))
    client.mset({k: b"v" for k in expected})
    for order in ([], ["DESC"]):
        seen, pivot = [], None
        while True:
            page = keys(client, "item:*", "LIMIT", 17, *order, *(["PIVOT", pivot] if pivot else []))
            if not page:
                break
            seen += page
            pivot = page[-1]
        assert seen == (expected[::-1] if order else expected)


@kvnode_only
def test_keys_options_any_order_case_insensitive_last_wins(four):
    assert keys(four, "*", "limit", 1, "Desc", "LIMIT", 3, "pivot", "key9", "PIVOT", "key4") == [
        b"key3", b"key2", b"key1"]
    assert keys(four, "*", "WithValues", "limit", 1, "withvalues") == [b"key1", b"1"]


@kvnode_only
def test_keys_limit_zero_and_errors(four):
    assert keys(four, "*", "LIMIT", 0) == []
    assert keys(four, "*", "LIMIT", 0, "WITHVALUES") == []
    assert keys(four, "*", "LIMIT", 0, "LIMIT", 1) == [b"key1"]
    for bad in (["LIMIT", -1], ["LIMIT", "x"], ["LIMIT", "1.5"], ["LIMIT"], ["PIVOT"], ["FOO"], ["ASC", "x"],
                ["LIMIT", 0, "FOO"]):
        assert err(keys, four, "*", *bad) == "syntax error", bad


@kvnode_only
def test_keys_exact_pattern_with_options(four):
    assert keys(four, "key2", "WITHVALUES") == [b"key2", b"2"]
    assert keys(four, "key2", "PIVOT", "key2") == []
    assert keys(four, "key2", "PIVOT", "key1") == [b"key2"]
    assert keys(four, "key2", "PIVOT", "key3", "DESC") == [b"key2"]


@kvnode_only
def test_keys_sees_writes_earlier_in_the_same_pipeline(client):
    client.mset({"p:b": 1, "p:d": 2})
    with client.pipeline(transaction=False) as p:
        p.set("p:a", 0).delete("p:b").set("p:c", 3).execute_command("KEYS", "p:*", "WITHVALUES")
        assert p.execute()[-1] == [b"p:a", b"0", b"p:c", b"3", b"p:d", b"2"]


# --- Literal prefixes that end in the byte 0xFF ----------------------------------------------
# A prefix's range ends at its successor: the prefix with its last byte incremented, after dropping trailing 0xFF
# bytes (a\xff* ends before b); a prefix of only 0xFF bytes has no end. These keys sit on both sides of each edge.

FF_KEYS = [b"a", b"a\xfe", b"a\xfe\xff", b"a\xff", b"a\xff\x00", b"a\xffa", b"a\xff\xff", b"a\xff\xff\x00",
           b"a\xff\xff\xff", b"b", b"b\x00", b"\xff", b"\xff\xff", b"\xff\xff\x00"]
FF_PATTERNS = [  # pattern, the matching keys in byte order
    (b"a\xff*", [b"a\xff", b"a\xff\x00", b"a\xffa", b"a\xff\xff", b"a\xff\xff\x00", b"a\xff\xff\xff"]),
    (b"a\\\xff*", [b"a\xff", b"a\xff\x00", b"a\xffa", b"a\xff\xff", b"a\xff\xff\x00", b"a\xff\xff\xff"]),  # escaped
    (b"a\xff\xff*", [b"a\xff\xff", b"a\xff\xff\x00", b"a\xff\xff\xff"]),
    (b"a\xff?", [b"a\xff\x00", b"a\xffa", b"a\xff\xff"]),
    (b"a\xff[\xff]*", [b"a\xff\xff", b"a\xff\xff\x00", b"a\xff\xff\xff"]),
    (b"a\xfe*", [b"a\xfe", b"a\xfe\xff"]),
    (b"\xff*", [b"\xff", b"\xff\xff", b"\xff\xff\x00"]),
    (b"\xff\xff*", [b"\xff\xff", b"\xff\xff\x00"]),
    (b"a\xff", [b"a\xff"]),
]
FF_KEYS_SORTED = sorted(FF_KEYS)


@pytest.fixture
def ff_keys(r2):
    r2.mset({k: k for k in FF_KEYS})
    return r2


@pytest.mark.parametrize("pattern,expected", FF_PATTERNS)
def test_keys_and_scan_of_a_prefix_ending_in_byte_ff(ff_keys, pattern, expected):
    assert sorted(keys(ff_keys, pattern)) == expected
    assert sorted(full_scan(ff_keys, match=pattern, count=2)) == expected


@kvnode_only
@pytest.mark.parametrize("pattern,expected", FF_PATTERNS)
def test_ordered_keys_scan_and_pdel_of_a_prefix_ending_in_byte_ff(ff_keys, pattern, expected):
    assert keys(ff_keys, pattern) == expected
    assert keys(ff_keys, pattern, "DESC") == expected[::-1]
    assert keys(ff_keys, pattern, "WITHVALUES") == [part for k in expected for part in (k, k)]
    assert full_scan(ff_keys, match=pattern, count=2) == expected  # in order, each once
    assert ff_keys.execute_command("PDEL", pattern) == len(expected)
    assert keys(ff_keys, "*") == [k for k in FF_KEYS_SORTED if k not in expected]


@kvnode_only
def test_pdel_of_a_prefix_ending_in_byte_ff_across_chunks(r2):
    """PDEL deletes in chunks of 1024, resuming after the last key of each: keys full of 0xFF bytes on both sides."""
    doomed = [b"a\xff" + i.to_bytes(2, "big") for i in range(2500)] + [b"a\xff\xff\xff" * 3]
    kept = [b"a", b"a\xfe\xff\xff", b"b", b"b\x00", b"\xff"]
    r2.mset({k: b"v" for k in doomed + kept})
    assert r2.execute_command("PDEL", b"a\xff*") == len(doomed)
    assert keys(r2, "*") == sorted(kept)


# --- PDEL -------------------------------------------------------------------------------------

@kvnode_only
def test_pdel(client):
    client.mset({"user:1:a": 1, "user:1:b": 2, "user:10:a": 3, "user:2:a": 4, "other": 5})
    assert client.execute_command("PDEL", "user:1:*") == 2
    assert sorted(keys(client, "*")) == [b"other", b"user:10:a", b"user:2:a"]
    assert client.execute_command("PDEL", "user:1:*") == 0
    assert client.execute_command("PDEL", "other") == 1  # an exact pattern deletes that key
    assert client.execute_command("PDEL", "user:?0:a") == 1
    assert client.execute_command("PDEL", "*") == 1
    assert client.dbsize() == 0


@kvnode_only
def test_pdel_many_keys(client):
    client.mset({f"bulk:{i}": i for i in range(5000)})
    client.set("keep", 1)
    assert client.execute_command("PDEL", "bulk:*") == 5000
    assert client.dbsize() == 1
    assert keys(client, "*") == [b"keep"]


@kvnode_only
def test_pdel_arity(r2):
    assert err(r2.execute_command, "PDEL") == "wrong number of arguments for 'pdel' command"
    assert err(r2.execute_command, "PDEL", "a", "b") == "wrong number of arguments for 'pdel' command"


@kvnode_only
def test_pdel_inside_multi(raw):
    c, other = raw(), raw()
    c.cmd("MSET", "t:1", "a", "t:2", "b", "u:1", "c")
    assert c.cmd("MULTI") == b"+OK\r\n"
    for command in (("SET", "t:3", "new"), ("PDEL", "t:*"), ("SET", "t:4", "after"), ("KEYS", "*")):
        assert c.cmd(*command) == b"+QUEUED\r\n"
    assert other.cmd("KEYS", "*") == b"*3\r\n$3\r\nt:1\r\n$3\r\nt:2\r\n$3\r\nu:1\r\n"  # nothing ran yet
    # PDEL sees the transaction's own earlier write (t:3) and not its later one (t:4).
    assert c.cmd("EXEC") == b"*4\r\n+OK\r\n:3\r\n+OK\r\n*2\r\n$3\r\nt:4\r\n$3\r\nu:1\r\n"
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("PDEL", "*") == b"+QUEUED\r\n"
    assert c.cmd("DISCARD") == b"+OK\r\n"
    assert other.cmd("DBSIZE") == b":2\r\n"
    # A wrong number of arguments is refused when queued and discards the transaction, as for any command.
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("PDEL") == b"-ERR wrong number of arguments for 'pdel' command\r\n"
    assert c.cmd("EXEC") == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    assert other.cmd("DBSIZE") == b":2\r\n"


@kvnode_only
def test_pdel_under_watch(raw):
    watcher, other = raw(), raw()

    def transaction_runs():
        assert watcher.cmd("MULTI") == b"+OK\r\n"
        assert watcher.cmd("INCR", "runs") == b"+QUEUED\r\n"
        reply = watcher.cmd("EXEC")
        assert reply == b"*-1\r\n" or reply.startswith(b"*1\r\n:"), reply
        return reply != b"*-1\r\n"

    watcher.cmd("MSET", "w:1", "x", "w:2", "y", "other", "z")
    # Another client's PDEL that deletes a watched key aborts the transaction...
    watcher.cmd("WATCH", "w:1")
    assert other.cmd("PDEL", "w:*") == b":2\r\n"
    assert not transaction_runs()
    # ... one that deletes other keys, or matches nothing (the watched key is missing now), does not.
    watcher.cmd("WATCH", "w:1", "w:2")
    assert other.cmd("PDEL", "oth*") == b":1\r\n"
    assert other.cmd("PDEL", "w:*") == b":0\r\n"
    assert transaction_runs()
    # The watching client's own PDEL, inside its transaction, runs.
    watcher.cmd("SET", "w:1", "x")
    watcher.cmd("WATCH", "w:1")
    assert watcher.cmd("MULTI") == b"+OK\r\n"
    assert watcher.cmd("PDEL", "w:*") == b"+QUEUED\r\n"
    assert watcher.cmd("EXEC") == b"*1\r\n:1\r\n"
    # A PDEL by the watching client itself before MULTI aborts, as any write to a watched key does.
    watcher.cmd("SET", "w:1", "x")
    watcher.cmd("WATCH", "w:1")
    assert watcher.cmd("PDEL", "w:1") == b":1\r\n"
    assert not transaction_runs()
    assert watcher.cmd("GET", "runs") == b"$1\r\n1\r\n"


# --- SCAN -------------------------------------------------------------------------------------

def full_scan(c, **kw):
    seen, cursor, calls = [], 0, 0
    while True:
        cursor, batch = c.scan(cursor, **kw)
        seen += batch
        calls += 1
        assert calls < 100_000
        if cursor == 0:
            return seen


def test_scan_returns_every_key(client):
    expected = {f"s:{i}".encode() for i in range(1000)}
    client.mset({k: b"v" for k in expected})
    seen = full_scan(client, count=37)
    assert set(seen) == expected
    assert len(seen) == len(expected)  # nothing changed, so nothing came twice
    assert set(client.scan_iter(count=1000)) == expected


def test_scan_match_count_type(client):
    client.mset({f"a:{i}": 1 for i in range(50)} | {f"b:{i}": 1 for i in range(50)})
    assert set(full_scan(client, match="a:*", count=7)) == {f"a:{i}".encode() for i in range(50)}
    assert set(full_scan(client, match="*:1?", count=5)) == {f"{p}:1{i}".encode() for p in "ab" for i in range(10)}
    assert len(full_scan(client, _type="string")) == 100
    assert len(full_scan(client, _type="STRING")) == 100
    assert full_scan(client, _type="list") == []
    assert full_scan(client, _type="nosuchtype") == []


def test_scan_cursor_is_a_decimal_integer(raw):
    c = raw()
    for i in range(30):
        c.cmd("SET", f"k{i}", "v")
    reply = c.cmd("SCAN", "0", "COUNT", "5")
    assert reply.startswith(b"*2\r\n$")
    cursor = reply.split(b"\r\n")[2]
    assert cursor.isdigit() and int(cursor) != 0 and int(cursor) < 2**63
    assert c.cmd("SCAN", "0", "COUNT", "100").startswith(b"*2\r\n$1\r\n0\r\n*30\r\n")
    assert c.cmd("DEL", *[f"k{i}" for i in range(30)]) == b":30\r\n"
    assert c.cmd("SCAN", "0") == b"*2\r\n$1\r\n0\r\n*0\r\n"


def test_scan_errors(r2):
    assert err(r2.execute_command, "SCAN", "abc") == "invalid cursor"
    assert err(r2.execute_command, "SCAN", " 1") == "invalid cursor"
    assert err(r2.execute_command, "SCAN", "18446744073709551616") == "invalid cursor"
    assert err(r2.execute_command, "SCAN", "0", "COUNT", "0") == "syntax error"
    assert err(r2.execute_command, "SCAN", "0", "COUNT", "x") == "value is not an integer or out of range"
    assert err(r2.execute_command, "SCAN", "0", "MATCH") == "syntax error"
    assert err(r2.execute_command, "SCAN", "0", "FOO", "1") == "syntax error"
    assert err(r2.execute_command, "SCAN") == "wrong number of arguments for 'scan' command"
    assert r2.execute_command("SCAN", "") == (0, [])


def test_scan_unknown_cursor_still_terminates(r2):
    r2.mset({f"u{i}": 1 for i in range(100)})
    cursor, calls = 123456789, 0
    while True:
        cursor, _ = r2.scan(cursor, count=10)
        calls += 1
        assert calls < 1000
        if cursor == 0:
            break


@kvnode_only
def test_scan_evicted_cursor_falls_back_without_skipping(server):
    """Cursors the server no longer remembers resume at their key prefix: duplicates maybe, misses never."""
    with server.client() as c:
        expected = {f"evict:{i:05d}".encode() for i in range(300)}
        c.mset({k: b"v" for k in expected})
        seen, cursor, calls = [], 0, 0
        while True:
            cursor, batch = c.scan(cursor, count=20)
            seen += batch
            calls += 1
            assert calls < 100
            if cursor == 0:
                break
            if calls == 5:
                # Use the cursor once: the server forgets it, so resuming with the same number goes by the
                # key prefix it carries ("evict"), back to the first key of that prefix.
                c.scan(cursor, count=1)
        assert set(seen) == expected
        assert len(seen) == len(expected) + 100


def test_scan_under_concurrent_writes(server):
    """Every key that exists for the whole iteration is returned at least once, while keys between them come and go."""
    stable = {f"s:{i:05d}".encode() for i in range(3000)}
    # Churn keys sort among the stable ones ("s:00042" < "s:00042:c" < "s:00043"), so every SCAN range holds both.
    churn_keys = [f"s:{i:05d}:c".encode() for i in range(3000)]
    with server.client() as c:
        c.mset({k: b"v" for k in stable})
    stop = threading.Event()
    writes = [0] * 3
    errors = []

    def churn(index):
        rnd = random.Random(index)
        try:
            with server.client() as w:
                while not stop.is_set():
                    with w.pipeline(transaction=False) as p:
                        for _ in range(50):
                            k = rnd.choice(churn_keys)
                            p.set(k, "x") if rnd.random() < 0.6 else p.delete(k)
                        p.execute()
                    writes[index] += 50
        except Exception as e:  # reported below
            errors.append(e)

    def scan_during_churn(c, **kw):
        """A full SCAN; after its first call, waits until churn writes have landed, so they overlap the iteration."""
        cursor, seen = c.scan(0, **kw)
        before = sum(writes)
        poll(lambda: sum(writes) >= before + 500 or errors)
        calls = 1
        while cursor != 0:
            cursor, batch = c.scan(cursor, **kw)
            seen += batch
            calls += 1
            assert calls < 100_000
        assert calls > 10  # the iteration spans many calls, the churn in between
        return seen

    threads = [threading.Thread(target=churn, args=(i,)) for i in range(len(writes))]
    for t in threads:
        t.start()
    try:
        poll(lambda: sum(writes) >= 3000 or errors, timeout=30)  # churn keys spread over the whole range
        with server.client() as c:
            for kw in ({"count": 10}, {"count": 97}, {"count": 10, "match": "s:000*"}):
                seen = scan_during_churn(c, **kw)
                expected = {k for k in stable if not kw.get("match") or k.startswith(b"s:000")}
                assert expected <= set(seen), f"missing {len(expected - set(seen))} stable keys"
                returned_churn = set(seen) - stable
                assert returned_churn and returned_churn <= set(churn_keys)  # the churn was inside the range
                assert not errors
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    assert all(n > 0 for n in writes), writes


# --- RANDOMKEY, TYPE, EXISTS, TOUCH, UNLINK ----------------------------------------------------

def test_randomkey(client):
    assert client.randomkey() is None
    names = {f"r{i}".encode() for i in range(20)}
    client.mset({k: b"v" for k in names})
    seen = {client.randomkey() for _ in range(400)}
    assert seen <= names and len(seen) > 5


def test_type(client):
    client.set("s", "v")
    assert client.type("s") in (b"string", "string")
    assert client.type("missing") in (b"none", "none")


def test_type_wire(raw):
    c = raw()
    c.cmd("SET", "s", "v")
    assert c.cmd("TYPE", "s") == b"+string\r\n"
    assert c.cmd("TYPE", "nope") == b"+none\r\n"


def test_touch_and_unlink(client):
    client.mset({"a": 1, "b": 2})
    assert client.touch("a", "b", "c", "a") == 3
    assert client.unlink("a", "c") == 1
    assert client.exists("a") == 0
    assert client.unlink("b", "b") == 1


# --- RENAME, RENAMENX, COPY ---------------------------------------------------------------------

def test_rename(client):
    client.set("a", "1", px=100_000)
    assert client.rename("a", "b") is True
    assert client.get("a") is None and client.get("b") == b"1"
    assert 0 < client.pttl("b") <= 100_000  # the expiry moves with the value
    client.set("c", "3")
    assert client.rename("b", "c") is True  # overwrites, taking b's expiry
    assert client.get("c") == b"1" and client.pttl("c") > 0
    assert client.rename("c", "c") is True
    assert client.get("c") == b"1"
    assert err(client.rename, "missing", "x") == "no such key"
    assert err(client.rename, "missing", "missing") == "no such key"


def test_renamenx(client):
    client.mset({"a": 1, "b": 2})
    assert client.renamenx("a", "b") is False
    assert client.get("a") == b"1"
    assert client.renamenx("a", "c") is True
    assert client.get("c") == b"1" and client.exists("a") == 0
    assert client.renamenx("c", "c") is False
    assert err(client.renamenx, "missing", "x") == "no such key"


def test_copy(client):
    client.set("src", "v", px=100_000)
    assert client.copy("src", "dst") is True
    assert client.get("dst") == b"v" and client.pttl("dst") > 0
    assert client.copy("src", "dst") is False
    client.set("other", "o")
    assert client.copy("other", "dst", replace=True) is True
    assert client.get("dst") == b"o" and client.ttl("dst") == -1
    assert client.copy("missing", "dst2") is False
    assert client.copy("src", "dst3", destination_db=0) is True
    assert client.get("src") == b"v"


def test_copy_errors(r2):
    r2.set("a", "1")
    assert err(r2.execute_command, "COPY", "a", "a") == "source and destination objects are the same"
    assert err(r2.execute_command, "COPY", "a", "b", "DB", "16") == "DB index is out of range"
    assert err(r2.execute_command, "COPY", "a", "b", "DB", "x") == "value is not an integer or out of range"
    assert err(r2.execute_command, "COPY", "a", "b", "FOO") == "syntax error"
    assert err(r2.execute_command, "COPY", "a", "b", "DB") == "syntax error"
    assert err(r2.execute_command, "COPY", "a") == "wrong number of arguments for 'copy' command"


@kvnode_only
def test_keys_default_limit_setting(monkeypatch, tmp_path):
    """--keys-default-limit restores kvnode's old default page size; an explicit LIMIT still wins."""
    from conftest import Server

    monkeypatch.setenv("KVNODE_ARGS", os.environ.get("KVNODE_ARGS", "") + " --keys-default-limit 2")
    srv = Server("kvnode", str(tmp_path))
    srv.start()
    try:
        with srv.client() as c:
            c.mset({"key1": 1, "key2": 2, "key3": 3})
            assert keys(c, "*") == [b"key1", b"key2"]
            assert keys(c, "*", "LIMIT", 3) == [b"key1", b"key2", b"key3"]
            assert keys(c, "*", "LIMIT", 0) == []
    finally:
        srv.stop()


# --- Keyspace events of more commands -----------------------------------------------------------

@pytest.fixture(scope="module")
def notify_server():
    with start_server("--notify-keyspace-events", "KEA") as srv:
        yield srv


@pytest.fixture
def keyevents(notify_server):
    """A client of a server that publishes every keyspace event, and a function returning the (event, key) pairs
    published since the last call, in order. It ends each collection with a message of its own rather than waiting
    for a quiet period: the events before it have all been delivered by then."""
    with notify_server.client() as r:
        r.flushdb()
        pubsub = r.pubsub()
        pubsub.psubscribe("__keyevent@0__:*")
        poll(lambda: r.pubsub_numpat() == 1)

        def collect():
            r.publish("__keyevent@0__:end-of-test", "")
            events = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                if message is None:
                    continue
                event = message["channel"].split(b":", 1)[1]
                if event == b"end-of-test":
                    return events
                events.append((event, message["data"]))
            raise AssertionError(f"the closing message never came; got {events}")

        assert collect() == []  # FLUSHDB of an empty keyspace announces nothing
        yield r, collect
        pubsub.close()


def test_keyspace_events_of_getex_setnx_getset_msetnx_psetex(keyevents):
    r, collect = keyevents
    r.set("g", "v")
    r.execute_command("GETEX", "g", "EX", 100)
    r.execute_command("GETEX", "g", "PERSIST")
    r.execute_command("GETEX", "g", "PX", 100_000)
    r.execute_command("GETEX", "g")  # no option: changes nothing
    r.execute_command("GETEX", "missing", "EX", 5)  # no key: nothing
    r.execute_command("GETEX", "g", "PXAT", 1)  # a time in the past deletes the key
    assert r.setnx("n", 1) and not r.setnx("n", 2)  # the second sets nothing
    r.getset("n", 3)
    r.getset("fresh", 1)
    assert r.msetnx({"m1": 1, "m2": 2}) and not r.msetnx({"m1": 1, "m3": 2})
    r.psetex("ps", 100_000, "v")
    assert collect() == [
        (b"set", b"g"), (b"expire", b"g"), (b"persist", b"g"), (b"expire", b"g"), (b"del", b"g"),
        (b"set", b"n"), (b"set", b"n"), (b"set", b"fresh"), (b"set", b"m1"), (b"set", b"m2"),
        (b"set", b"ps"), (b"expire", b"ps"),
    ]


def test_keyspace_events_of_decr_unlink_renamenx(keyevents):
    r, collect = keyevents
    r.decr("d")
    r.decrby("d", 5)
    r.set("text", "x")
    with pytest.raises(ResponseError):
        r.decr("text")  # not an integer: nothing changes
    r.mset({"u1": 1, "u2": 2})
    assert r.unlink("u1", "nope", "u2") == 2
    assert r.unlink("nope") == 0
    r.mset({"r1": 1, "r2": 2})
    assert not r.renamenx("r1", "r2")  # the target exists: nothing happens
    assert r.renamenx("r1", "r3")
    assert collect() == [
        (b"incrby", b"d"), (b"incrby", b"d"), (b"set", b"text"), (b"set", b"u1"), (b"set", b"u2"),
        (b"del", b"u1"), (b"del", b"u2"), (b"set", b"r1"), (b"set", b"r2"),
        (b"rename_from", b"r1"), (b"rename_to", b"r3"),
    ]


@kvnode_only
def test_keyspace_events_of_pdel(keyevents):
    r, collect = keyevents
    r.mset({"p:1": 1, "p:2": 2, "q:1": 3})
    assert r.execute_command("PDEL", "p:*") == 2
    assert r.execute_command("PDEL", "p:*") == 0  # nothing left: no event
    with r.pipeline(transaction=True) as t:
        t.set("p:3", 3).execute_command("PDEL", "*").execute()
    assert collect() == [
        (b"set", b"p:1"), (b"set", b"p:2"), (b"set", b"q:1"), (b"del", b"p:1"), (b"del", b"p:2"),
        (b"set", b"p:3"), (b"del", b"p:3"), (b"del", b"q:1"),
    ]
