"""Redis 8.4's compare-and-set through redis-py 8 (its `set(ifeq=...)`, `delex` and `digest` helpers), in RESP2 and
RESP3: SET's IFEQ / IFNE / IFDEQ / IFDNE conditions, DELEX, DIGEST, their keyspace notifications, their COMMAND
metadata, and a race of 50 clients doing optimistic increments.

kvnode-only: the reference Redis here is 7.0, which has none of this, and no Redis 8.4 server is installed. The
expectations were matched against Redis 8.4's source instead:
- src/t_string.c `parseExtendedStringArgumentsOrReply`: the conditions replace NX/XX, exclude them and each other
  (`cond_mut_excl`; both orders are a syntax error since redis/redis#15291), and need a value after them;
- src/t_string.c `setGenericCommand`: a missing key fails IFEQ/IFDEQ (as XX) and passes IFNE/IFDNE before anything is
  compared, so a malformed digest is only an error once the key exists; WRONGTYPE (`checkType`) for a non-string;
  a failed condition replies nil, or with GET the old value, and writes nothing; `notifyKeyspaceEvent(... "set")`;
- src/t_string.c `validateHexDigest`: exactly 16 characters (`DIGEST_HEX_LENGTH`), else
  "ERR must be exactly 16 hexadecimal characters"; only the length is checked (redis/redis#14502);
- src/t_string.c `stringDigest` / `digestCommand`: XXH3_64bits, seed 0, formatted "%016" PRIx64 (zero-padded lower
  case, redis/redis#14502), compared with `strcasecmp` (any case);
- src/db.c `delexCommand` (redis/redis#14435, #14529): without a condition it is DEL of one key; the argument count is
  checked before the key is looked up; a missing key replies 0; a deletion notifies `del`;
- src/commands/set.json, delex.json, digest.json for COMMAND INFO / DOCS.
Where kvnode deliberately differs: SET ... IFDEQ <malformed> GET on an existing key replies only the error (Redis
replies the old value and then the error, two replies to one request).
"""

import pytest
import redis
from redis.exceptions import ResponseError

from conftest import Workers, wait_until

pytestmark = [
    pytest.mark.kvnode_only,
    # redis-py marks its compare-and-set helpers experimental and warns on every call.
    pytest.mark.filterwarnings("ignore:.*experimental:UserWarning"),
]

MALFORMED_DIGEST = "must be exactly 16 hexadecimal characters"
# A value whose XXH3 begins with four zero digits (redis/redis#14496).
ZERO_LEADING = b"v8lf0c11xh8ymlqztfd3eeq16kfn4sspw7fqmnuuq3k3t75em5wdizgcdw7uc26nnf961u2jkfzkjytls2kwlj7626sd"


def err(fn, *args, **kwargs):
    with pytest.raises(ResponseError) as e:
        fn(*args, **kwargs)
    return str(e.value)


# --- DIGEST ---------------------------------------------------------------------------------------------------------

def test_digest_is_xxh3_as_sixteen_lower_case_hex_digits(client):
    client.set("hello", "Hello world")
    client.set("test", "test")
    client.set("zeros", ZERO_LEADING)
    client.set("empty", "")
    # Redis's documented examples, a digest that needs its leading zeros, and the empty string.
    assert client.digest("hello") == b"b6acb9d84a38ff74"
    assert client.digest("test") == b"9ec9f7918d7dfc40"
    assert client.digest("zeros") == b"00006c38adf31777"
    assert client.digest("empty") == b"2d06800538d394c2"
    assert client.digest("missing") is None


def test_digest_on_the_wire(raw):
    c = raw()
    assert c.cmd("SET", "k", "test") == b"+OK\r\n"
    assert c.cmd("DIGEST", "k") == b"$16\r\n9ec9f7918d7dfc40\r\n"
    assert c.cmd("DIGEST", "missing") == b"$-1\r\n"
    assert c.cmd("HELLO", "3").startswith(b"%")
    assert c.cmd("DIGEST", "missing") == b"_\r\n"
    assert c.cmd("DIGEST") == b"-ERR wrong number of arguments for 'digest' command\r\n"


# --- SET IFEQ / IFNE ------------------------------------------------------------------------------------------------

def test_set_ifeq_sets_only_an_equal_value_and_never_creates(client):
    client.set("k", "old")
    assert client.set("k", "new", ifeq="other") is None
    assert client.get("k") == b"old"
    assert client.set("k", "new", ifeq="old") is True
    assert client.get("k") == b"new"
    assert client.set("k", "x", ifeq="NEW") is None  # bytes, not case-folded
    assert client.set("missing", "v", ifeq="") is None
    assert client.exists("missing") == 0


def test_set_ifne_sets_any_other_value_and_creates_a_missing_key(client):
    client.set("k", "old")
    assert client.set("k", "new", ifne="old") is None
    assert client.set("k", "new", ifne="other") is True
    assert client.get("k") == b"new"
    assert client.set("missing", "v", ifne="v") is True
    assert client.get("missing") == b"v"


def test_set_with_binary_values(client):
    value = bytes(range(256))
    client.set("k", value)
    assert client.set("k", b"\x00", ifeq=value[:-1]) is None
    assert client.set("k", b"\x00", ifeq=value) is True
    assert client.get("k") == b"\x00"


# --- SET IFDEQ / IFDNE ----------------------------------------------------------------------------------------------

def test_set_ifdeq_compares_the_digest_in_any_case(client):
    client.set("k", "test")
    digest = client.digest("k")
    assert client.set("k", "a", ifdeq="0123456789abcdef") is None
    assert client.set("k", "a", ifdeq="zzzzzzzzzzzzzzzz") is None  # well formed, never matches
    assert client.get("k") == b"test"
    assert client.set("k", "a", ifdeq=digest.decode().upper()) is True
    assert client.get("k") == b"a"
    assert client.set("missing", "v", ifdeq=digest.decode()) is None
    assert client.exists("missing") == 0


def test_set_ifdne_sets_unless_the_digest_matches(client):
    client.set("k", "test")
    assert client.set("k", "a", ifdne="9ec9f7918d7dfc40") is None
    assert client.set("k", "a", ifdne="9EC9F7918D7DFC40") is None
    assert client.set("k", "a", ifdne="0000000000000000") is True
    assert client.get("k") == b"a"
    assert client.set("missing", "v", ifdne="9ec9f7918d7dfc40") is True


def test_the_leading_zeros_are_part_of_the_digest(client):
    client.set("k", ZERO_LEADING)
    assert err(client.set, "k", "b", ifdeq="6c38adf31777") == MALFORMED_DIGEST
    assert client.set("k", "b", ifdeq="00006c38adf31777") is True


@pytest.mark.parametrize("digest", ["", "abc", "9ec9f7918d7dfc4", "9ec9f7918d7dfc400"])
def test_a_malformed_digest_is_an_error_once_the_key_exists(client, digest):
    client.set("k", "test")
    assert err(client.set, "k", "x", ifdeq=digest) == MALFORMED_DIGEST
    assert err(client.set, "k", "x", ifdne=digest) == MALFORMED_DIGEST
    assert err(client.delex, "k", ifdeq=digest) == MALFORMED_DIGEST
    assert err(client.delex, "k", ifdne=digest) == MALFORMED_DIGEST
    assert client.get("k") == b"test"
    # A missing key is judged first: IFDEQ fails quietly, IFDNE creates it, DELEX replies 0.
    assert client.set("m", "x", ifdeq=digest) is None
    assert client.delex("m", ifdeq=digest) == 0
    assert client.set("m", "x", ifdne=digest) is True


def test_get_replies_the_old_value_whether_or_not_the_condition_holds(client):
    client.set("k", "old")
    assert client.set("k", "new", ifeq="other", get=True) == b"old"
    assert client.get("k") == b"old"
    assert client.set("k", "new", ifdeq=client.digest("k"), get=True) == b"old"
    assert client.get("k") == b"new"
    assert client.set("missing", "v", ifeq="x", get=True) is None
    assert client.exists("missing") == 0
    assert client.set("missing", "v", ifne="x", get=True) is None
    assert client.get("missing") == b"v"


def test_a_conditional_set_takes_the_expiry_it_is_given(client):
    client.set("k", "a", px=100_000)
    assert client.set("k", "b", ifeq="a", ex=50) is True
    assert 49 <= client.ttl("k") <= 50
    assert client.set("k", "c", ifne="x", keepttl=True) is True
    assert 49 <= client.ttl("k") <= 50
    assert client.set("k", "d", ifeq="c") is True
    assert client.ttl("k") == -1
    assert client.set("k", "e", ifeq="nope", ex=5) is None
    assert client.ttl("k") == -1


@pytest.mark.parametrize("options", [
    ["NX", "IFEQ", "v"], ["IFEQ", "v", "NX"], ["XX", "IFNE", "v"], ["IFNE", "v", "XX"],
    ["NX", "IFDEQ", "0123456789abcdef"], ["IFDNE", "0123456789abcdef", "XX"],
    ["IFEQ", "v", "IFNE", "w"], ["IFEQ", "v", "IFDEQ", "0123456789abcdef"],
    ["IFDEQ", "0123456789abcdef", "IFDNE", "fedcba9876543210"], ["IFEQ"], ["GET", "IFDNE"],
])
def test_conditions_exclude_nx_xx_and_each_other(r2, options):
    # redis-py refuses these combinations itself (DataError), so they go out as a raw command.
    r2.set("k", "v")
    assert err(r2.execute_command, "SET", "k", "new", *options) == "syntax error"
    assert r2.get("k") == b"v"


# --- DELEX ----------------------------------------------------------------------------------------------------------

def test_delex_without_a_condition_is_del(client):
    client.set("k", "v")
    assert client.delex("k") == 1
    assert client.delex("k") == 0
    assert client.exists("k") == 0


@pytest.mark.parametrize("condition, holds, fails", [
    ("ifeq", "test", "other"), ("ifne", "other", "test"),
    ("ifdeq", "9EC9F7918D7DFC40", "0123456789abcdef"), ("ifdne", "0123456789abcdef", "9ec9f7918d7dfc40"),
])
def test_delex_deletes_only_when_the_condition_holds(client, condition, holds, fails):
    client.set("k", "test")
    assert client.delex("k", **{condition: fails}) == 0
    assert client.get("k") == b"test"
    assert client.delex("k", **{condition: holds}) == 1
    assert client.exists("k") == 0
    assert client.delex("k", **{condition: holds}) == 0


def test_delex_checks_the_argument_count_first_and_the_condition_once_the_key_is_found(r2):
    r2.set("k", "v")
    for key in ("k", "missing"):
        assert err(r2.execute_command, "DELEX", key, "IFEQ") == "syntax error"
        assert err(r2.execute_command, "DELEX", key, "IFEQ", "v", "extra") == "syntax error"
    assert err(r2.execute_command, "DELEX", "k", "NX", "v") == "syntax error"
    assert r2.execute_command("DELEX", "missing", "NX", "v") == 0
    assert err(r2.execute_command, "DELEX") == "wrong number of arguments for 'delex' command"
    assert r2.get("k") == b"v"


# --- Transactions, notifications, metadata ---------------------------------------------------------------------------

def test_conditions_inside_a_transaction(client):
    client.set("k", "1")
    with client.pipeline(transaction=True) as tx:
        tx.set("k", "2", ifeq="1")
        tx.set("k", "3", ifeq="1")
        tx.digest("k")
        tx.delex("k", ifeq="2")
        assert tx.execute() == [True, None, b"fb95a7322f5da314", 1]
    assert client.exists("k") == 0


def test_only_writes_that_happen_are_notified(server):
    with server.client() as r, server.client() as listener:
        r.config_set("notify-keyspace-events", "E$g")
        try:
            r.set("k", "a")
            pubsub = listener.pubsub()
            pubsub.psubscribe("__keyevent@0__:*")
            wait_until(lambda: pubsub.get_message(timeout=0.1), message="the psubscribe confirmation")
            r.set("k", "b", ifeq="nope")
            r.delex("k", ifne="a")
            r.delex("gone", ifeq="a")
            r.set("k", "b", ifeq="a")
            r.delex("k", ifdeq=r.digest("k"))
            r.set("end", "1")
            events = []
            while not events or events[-1] != (b"__keyevent@0__:set", b"end"):
                message = wait_until(lambda: pubsub.get_message(timeout=0.1), message=f"events after {events}")
                events.append((message["channel"], message["data"]))
            assert events == [
                (b"__keyevent@0__:set", b"k"), (b"__keyevent@0__:del", b"k"), (b"__keyevent@0__:set", b"end"),
            ]
            pubsub.close()
        finally:
            r.config_set("notify-keyspace-events", "")


def test_command_reports_the_new_commands(r2, raw):
    info = r2.execute_command("COMMAND", "INFO", "delex", "digest", "set")
    assert (info["delex"]["arity"], info["delex"]["flags"]) == (-2, ["write", "fast"])
    assert info["delex"]["acl_categories"] == ["@write", "@string", "@fast"]
    assert (info["digest"]["arity"], info["digest"]["flags"]) == (2, ["readonly", "fast"])
    assert info["digest"]["acl_categories"] == ["@read", "@string", "@fast"]
    assert (info["set"]["arity"], info["set"]["first_key_pos"]) == (-3, 1)
    assert r2.command_getkeysandflags("DELEX", "k") == [[b"k", [b"RM", b"delete"]]]
    assert r2.command_getkeysandflags("DELEX", "k", "IFEQ", "v") == [[b"k", [b"RW", b"delete"]]]
    assert r2.command_getkeysandflags("SET", "k", "v", "IFEQ", "get") == [[b"k", [b"RW", b"update"]]]
    # redis-py parses COMMAND DOCS as COMMAND: read the reply's bytes instead.
    docs = raw().cmd("COMMAND", "DOCS", "set", "delex", "digest")
    for word in (b"ifeq-value", b"ifdne-digest", b"Added 'IFEQ', 'IFNE', 'IFDEQ', 'IFDNE' options.",
                 b"Returns the XXH3 hash of a string value."):
        assert word in docs, word


# --- The race -------------------------------------------------------------------------------------------------------

def test_fifty_clients_incrementing_with_ifdeq_lose_no_update(server):
    """Each client reads the digest, then the value, and writes value+1 only if the digest still matches. The counter
    only grows, so a SET IFDEQ that succeeds proves the value read between was the current one: the counter must end
    at exactly the number of successful sets."""
    clients, attempts = 50, 20
    with server.client() as r:
        r.set("counter", "0")

    def increment(name):
        successes = 0
        with server.client(protocol=3 if name % 2 else 2) as c:
            for _ in range(attempts):
                digest = c.digest("counter")
                value = int(c.get("counter"))
                if c.set("counter", str(value + 1), ifdeq=digest):
                    successes += 1
        return successes

    with Workers(timeout=120) as workers:
        for name in range(clients):
            workers.start(f"client-{name}", increment, name)
    successes = sum(workers.results.values())
    assert len(workers.results) == clients
    with server.client() as r:
        assert int(r.get("counter")) == successes
        assert 1 <= successes <= clients * attempts
        assert r.set("counter", "x", ifdeq=r.digest("counter")) is True
