"""The string family: counters, ranges, GETSET/GETDEL/SETNX/MSETNX, with Redis's replies and errors (checked with
KVNODE_TARGET=redis), and atomicity under concurrent clients."""

import pytest
from redis.exceptions import ResponseError

from conftest import Workers


def err(fn, *args):
    with pytest.raises(ResponseError) as e:
        fn(*args)
    return str(e.value)


NOT_INTEGER = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
MAX = 9223372036854775807
MIN = -9223372036854775808


# --- INCR / DECR / INCRBY / DECRBY ---------------------------------------------------------------

def test_incr_decr(client):
    assert client.incr("n") == 1
    assert client.incr("n") == 2
    assert client.decr("n") == 1
    assert client.incrby("n", 10) == 11
    assert client.decrby("n", 20) == -9
    assert client.incrby("n", -1) == -10
    assert client.get("n") == b"-10"
    assert client.decr("fresh") == -1


def test_incr_keeps_expiry(client):
    client.set("n", "5", ex=100)
    assert client.incr("n") == 6
    assert 99 <= client.ttl("n") <= 100


def test_incr_wire(raw):
    c = raw()
    assert c.cmd("INCR", "n") == b":1\r\n"
    assert c.cmd("INCRBY", "n", "41") == b":42\r\n"
    assert c.cmd("GET", "n") == b"$2\r\n42\r\n"


@pytest.mark.parametrize("value", ["abc", "1.5", " 1", "1 ", "+1", "01", "-0", "", "99999999999999999999", "1e3"])
def test_incr_on_non_integer(r2, value):
    r2.set("n", value)
    assert err(r2.incr, "n") == NOT_INTEGER
    assert r2.get("n") == value.encode()


def test_incr_overflow(r2):
    r2.set("n", MAX)
    assert err(r2.incr, "n") == "increment or decrement would overflow"
    r2.set("n", MIN)
    assert err(r2.decr, "n") == "increment or decrement would overflow"
    assert err(r2.incrby, "n", -1) == "increment or decrement would overflow"
    assert r2.incrby("n", MAX) == -1
    assert err(r2.decrby, "n", MIN) == "decrement would overflow"
    r2.set("m", 0)
    assert r2.decrby("m", MAX) == -MAX
    assert err(r2.incrby, "m", "x") == NOT_INTEGER
    assert err(r2.incrby, "m", "9223372036854775808") == NOT_INTEGER
    assert err(r2.execute_command, "INCR") == "wrong number of arguments for 'incr' command"
    assert err(r2.execute_command, "INCRBY", "m") == "wrong number of arguments for 'incrby' command"


def test_fifty_clients_incr_exactly(server):
    """50 clients x 1,000 INCR on one key, across every event loop, end at exactly 50,000."""
    def work():
        with server.client() as c:
            return [c.incr("race") for _ in range(1000)]

    with Workers(timeout=300) as workers:
        for n in range(50):
            workers.start(f"client {n}", work)
    replies = [value for values in workers.results.values() for value in values]
    # Every INCR answered a distinct value: none was lost or applied twice.
    assert sorted(replies) == list(range(1, 50_001))
    with server.client() as c:
        assert c.get("race") == b"50000"


# --- INCRBYFLOAT ------------------------------------------------------------------------------------

@pytest.mark.parametrize("start,increment,expected", [
    ("10.5", "0.1", b"10.6"),
    ("10.6", "3.0e3", b"3010.60000000000000009"),  # long double arithmetic shows through, as in Redis
    (None, "5.0e3", b"5000"),
    (None, "1e-5", b"0.00001"),
    (None, "-0", b"0"),
    ("3", "1.5", b"4.5"),
    ("5", "-5", b"0"),
    (None, "0x10", b"16"),  # strtold reads hex
    (None, "1e300", b"1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"),
    ("-1.25", "0", b"-1.25"),
])
def test_incrbyfloat_formatting(raw, start, increment, expected):
    # A raw connection: redis-py turns INCRBYFLOAT's bulk reply into a Python float.
    c = raw()
    if start is not None:
        c.cmd("SET", "f", start)
    reply = c.cmd("INCRBYFLOAT", "f", increment)
    assert reply == b"$%d\r\n%s\r\n" % (len(expected), expected)
    assert c.cmd("GET", "f") == reply


def test_incrbyfloat_resp3_is_bulk(raw):
    c = raw()
    c.cmd("HELLO", "3")
    assert c.cmd("INCRBYFLOAT", "f", "1.5") == b"$3\r\n1.5\r\n"


def test_incrbyfloat_errors(r2):
    r2.set("s", "abc")
    assert err(r2.incrbyfloat, "s", 1) == NOT_FLOAT
    r2.set("f", "1")
    for bad in ("abc", "nan", " 1", "1 ", "", "1e99999"):
        assert err(r2.execute_command, "INCRBYFLOAT", "f", bad) == NOT_FLOAT, bad
    assert err(r2.execute_command, "INCRBYFLOAT", "f", "inf") == "increment would produce NaN or Infinity"
    assert r2.get("f") == b"1"
    assert err(r2.execute_command, "INCRBYFLOAT", "f") == "wrong number of arguments for 'incrbyfloat' command"


def test_incrbyfloat_keeps_expiry(client):
    client.set("f", "1", ex=100)
    assert client.incrbyfloat("f", 0.5) == 1.5
    assert 99 <= client.ttl("f") <= 100


# --- APPEND / STRLEN / GETRANGE / SETRANGE ---------------------------------------------------------

def test_append_strlen(client):
    assert client.append("s", "hello") == 5
    assert client.append("s", " world") == 11
    assert client.get("s") == b"hello world"
    assert client.strlen("s") == 11
    assert client.strlen("missing") == 0
    assert client.append("s", "") == 11
    assert client.append("e", "") == 0
    assert client.exists("e") == 1  # APPEND creates the key even with nothing to add
    client.set("t", "x", ex=100)
    client.append("t", "y")
    assert 99 <= client.ttl("t") <= 100


def test_getrange(client):
    client.set("s", "This is a string")
    assert client.getrange("s", 0, 3) == b"This"
    assert client.getrange("s", -3, -1) == b"ing"
    assert client.getrange("s", 0, -1) == b"This is a string"
    assert client.getrange("s", 10, 100) == b"string"
    assert client.getrange("s", 5, 3) == b""
    assert client.getrange("s", -1, -5) == b""
    assert client.getrange("s", -100, 3) == b"This"
    assert client.getrange("s", 100, 200) == b""
    assert client.getrange("s", MIN, MAX) == b"This is a string"
    assert client.getrange("missing", 0, -1) == b""
    client.set("empty", "")
    assert client.getrange("empty", 0, -1) == b""


def test_getrange_errors(r2):
    r2.set("s", "abc")
    assert err(r2.getrange, "s", "a", 1) == NOT_INTEGER
    assert err(r2.getrange, "s", 0, "b") == NOT_INTEGER
    assert err(r2.getrange, "missing", "a", 1) == NOT_INTEGER


def test_setrange(client):
    client.set("s", "Hello World")
    assert client.setrange("s", 6, "Redis") == 11
    assert client.get("s") == b"Hello Redis"
    assert client.setrange("s", 20, "!") == 21
    assert client.get("s") == b"Hello Redis" + b"\x00" * 9 + b"!"
    assert client.setrange("s", 0, "J") == 21
    assert client.get("s")[:5] == b"Jello"
    assert client.setrange("new", 3, "ab") == 5
    assert client.get("new") == b"\x00\x00\x00ab"
    assert client.setrange("none", 5, "") == 0
    assert client.exists("none") == 0
    assert client.setrange("s", 100, "") == 21
    client.set("t", "abc", ex=100)
    assert client.setrange("t", 1, "X") == 3
    assert client.get("t") == b"aXc" and 99 <= client.ttl("t") <= 100


def test_setrange_errors(r2):
    r2.set("s", "abc")
    assert err(r2.setrange, "s", -1, "x") == "offset is out of range"
    assert err(r2.setrange, "s", "x", "x") == NOT_INTEGER
    assert err(r2.setrange, "s", 536870912, "x") == "string exceeds maximum allowed size (proto-max-bulk-len)"
    assert err(r2.setrange, "missing", 536870912, "x") == "string exceeds maximum allowed size (proto-max-bulk-len)"
    assert r2.setrange("missing", 536870912, "") == 0
    assert r2.setrange("s", 536870911, "") == 3
    assert r2.exists("missing") == 0


# --- GETSET / GETDEL / SETNX / MSETNX ----------------------------------------------------------------

def test_getset(client):
    assert client.getset("k", "1") is None
    assert client.getset("k", "2") == b"1"
    assert client.get("k") == b"2"
    client.expire("k", 100)
    assert client.getset("k", "3") == b"2"
    assert client.ttl("k") == -1  # GETSET is a SET: the expiry goes


def test_getdel(client):
    client.set("k", "v")
    assert client.getdel("k") == b"v"
    assert client.exists("k") == 0
    assert client.getdel("k") is None


def test_setnx(client):
    assert client.setnx("k", "1") is True
    assert client.setnx("k", "2") is False
    assert client.get("k") == b"1"


def test_msetnx_all_or_nothing(client):
    assert client.msetnx({"a": 1, "b": 2}) is True
    assert client.mget("a", "b") == [b"1", b"2"]
    assert client.msetnx({"c": 3, "b": 9, "d": 4}) is False
    assert client.mget("b", "c", "d") == [b"2", None, None]
    assert client.msetnx({"c": 3, "d": 4}) is True
    assert client.execute_command("MSETNX", "e", "1", "e", "2") == 1
    assert client.get("e") == b"2"


def test_msetnx_errors(r2):
    assert err(r2.execute_command, "MSETNX", "a") == "wrong number of arguments for 'msetnx' command"
    assert err(r2.execute_command, "MSETNX", "a", "1", "b") == "wrong number of arguments for 'msetnx' command"
    assert r2.exists("a") == 0


def test_msetnx_concurrent_all_or_nothing(server):
    """Two clients race MSETNX over overlapping keys: exactly one wins, and all its keys are set together."""
    def attempt(tag, keys):
        with server.client() as c:
            return c.msetnx({k: tag for k in keys})

    for round_ in range(50):
        keys = {"A": [f"r{round_}:{i}" for i in range(0, 20)], "B": [f"r{round_}:{i}" for i in range(10, 30)]}
        with Workers() as workers:
            for tag, tag_keys in keys.items():
                workers.start(tag, attempt, tag, tag_keys)
        winners = [tag for tag, won in sorted(workers.results.items()) if won]
        assert len(workers.results) == 2 and len(winners) == 1, workers.results
        with server.client() as c:
            assert c.mget(keys[winners[0]]) == [winners[0].encode()] * 20


def test_string_commands_arity(r2):
    for cmd, args in (("APPEND", ["k"]), ("STRLEN", []), ("GETRANGE", ["k", 0]), ("SETRANGE", ["k", 0]),
                      ("GETSET", ["k"]), ("GETDEL", []), ("SETNX", ["k"]), ("DECRBY", ["k"])):
        assert err(r2.execute_command, cmd, *args) == f"wrong number of arguments for '{cmd.lower()}' command"
