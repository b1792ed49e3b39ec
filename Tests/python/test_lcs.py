"""LCS, the longest common subsequence of two string values, with Redis 7.0's replies (the subsequence, LEN, IDX with
MINMATCHLEN and WITHMATCHLEN; IDX a map in RESP3), errors and memory limit, through redis-py (RESP2 and RESP3,
hiredis and the pure-Python parser), raw sockets and redis-cli. Every expectation holds against redis-server 7.0
(KVNODE_TARGET=redis); the randomized test compares the server with a Python port of Redis's `lcsCommand`, so the
port is checked against Redis too.
"""

import random
import shutil
import subprocess

import pytest
from redis.exceptions import ResponseError

from client_variants import client  # noqa: F401


def command_error(c, *args) -> str:
    with pytest.raises(ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def idx(reply):
    """An IDX reply as (matches, len), whichever protocol: a map in RESP3, a flat array in RESP2."""
    if isinstance(reply, dict):
        assert list(reply) == [b"matches", b"len"]
        return reply[b"matches"], reply[b"len"]
    assert reply[0] == b"matches" and reply[2] == b"len" and len(reply) == 4
    return reply[1], reply[3]


def model(a: bytes, b: bytes, minimum: int = 0, with_length: bool = False):
    """Redis's lcsCommand in Python: (subsequence, length, IDX matches)."""
    rows, cols = len(a) + 1, len(b) + 1
    table = [[0] * cols for _ in range(rows)]
    for i in range(1, rows):
        for j in range(1, cols):
            table[i][j] = table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(table[i - 1][j], table[i][j - 1])
    out, matches, run = bytearray(), [], None
    i, j = len(a), len(b)

    def emit(run):
        length = run[1] - run[0] + 1
        if minimum == 0 or length >= minimum:
            matches.append([[run[0], run[1]], [run[2], run[2] + length - 1]] + ([length] if with_length else []))

    while i > 0 and j > 0:
        if a[i - 1] == b[j - 1]:
            out.append(a[i - 1])
            if run and run[0] == i and run[2] == j:
                run = (i - 1, run[1], j - 1)
            else:
                run = (i - 1, i - 1, j - 1)
            i, j = i - 1, j - 1
            if run[0] == 0 or run[2] == 0:
                emit(run)
                run = None
        else:
            if table[i - 1][j] > table[i][j - 1]:
                i -= 1
            else:
                j -= 1
            if run:
                emit(run)
                run = None
    return bytes(reversed(out)), table[-1][-1], matches


def test_documented_example(client):
    client.mset({"key1": "ohmytext", "key2": "mynewtext"})
    assert client.lcs("key1", "key2") == b"mytext"
    assert client.lcs("key1", "key2", len=True) == 6
    matches, length = idx(client.execute_command("LCS", "key1", "key2", "IDX"))
    assert (matches, length) == ([[[4, 7], [5, 8]], [[2, 3], [0, 1]]], 6)
    matches, length = idx(client.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"))
    assert (matches, length) == ([[[4, 7], [5, 8]]], 6)
    matches, length = idx(client.execute_command("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4",
                                                         "WITHMATCHLEN"))
    assert (matches, length) == ([[[4, 7], [5, 8], 4]], 6)


def test_options_in_any_order_and_case(client):
    client.mset({"a": "ohmytext", "b": "mynewtext"})
    for arguments in (["withmatchlen", "idx"], ["IdX", "WithMatchLen", "minmatchlen", "0"],
                      ["MINMATCHLEN", "-5", "IDX", "WITHMATCHLEN"], ["IDX", "IDX", "WITHMATCHLEN"]):
        matches, length = idx(client.execute_command("LCS", "a", "b", *arguments))
        assert (matches, length) == ([[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]], 6), arguments
    assert client.execute_command("LCS", "a", "b", "LEN", "LEN", "WITHMATCHLEN", "MINMATCHLEN", "3") == 6
    assert client.execute_command("LCS", "a", "b", "MINMATCHLEN", "3") == b"mytext"


def test_missing_and_empty_values(client):
    client.set("k", "abc")
    client.set("empty", "")
    assert client.lcs("k", "missing") == b""
    assert client.lcs("missing", "k", len=True) == 0
    assert client.lcs("missing", "gone") == b""
    assert client.lcs("empty", "k") == b""
    assert idx(client.execute_command("LCS", "k", "missing", "IDX")) == ([], 0)
    assert client.lcs("k", "k") == b"abc"
    assert idx(client.execute_command("LCS", "k", "k", "IDX", "WITHMATCHLEN")) == ([[[0, 2], [0, 2], 3]], 3)


def test_binary_values(client):
    client.set("a", b"\x00\xff\x00\x01\r\n")
    client.set("b", b"\xff\x01\r\x00\n")
    assert client.lcs("a", "b") == b"\xff\x01\r\n"
    assert client.lcs("a", "b", len=True) == 4


def test_errors(client):
    client.mset({"a": "x", "b": "y"})
    assert command_error(client, "LCS", "a", "b", "LEN", "IDX") == \
        "If you want both the length and indexes, please just use IDX."
    assert command_error(client, "LCS", "a", "b", "FOO") == "syntax error"
    assert command_error(client, "LCS", "a", "b", "MINMATCHLEN") == "syntax error"
    assert command_error(client, "LCS", "a", "b", "MINMATCHLEN", "x") == "value is not an integer or out of range"
    assert command_error(client, "LCS", "a", "b", "MINMATCHLEN", "1.5", "IDX") == \
        "value is not an integer or out of range"
    # Options are read in order: a syntax error before a conflict, a conflict found only at the end.
    assert command_error(client, "LCS", "a", "b", "LEN", "IDX", "FOO") == "syntax error"
    assert command_error(client, "LCS", "a") == "wrong number of arguments for 'lcs' command"


def test_the_table_is_bounded_by_proto_max_bulk_len(r2):
    # (600 + 1)^2 cells of 4 bytes are more than 1 MB; (400 + 1) * (600 + 1) are less.
    r2.mset({"a": "a" * 600, "b": "a" * 600, "c": "a" * 400})
    r2.config_set("proto-max-bulk-len", 1024 * 1024)
    try:
        for arguments in ([], ["LEN"], ["IDX"]):
            assert command_error(r2, "LCS", "a", "b", *arguments) == \
                "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
        # The options are checked first.
        assert command_error(r2, "LCS", "a", "b", "FOO") == "syntax error"
        assert r2.lcs("a", "c", len=True) == 400
        assert r2.lcs("a", "c") == b"a" * 400
    finally:
        r2.config_set("proto-max-bulk-len", 512 * 1024 * 1024)


def test_matches_a_port_of_redis(r2, r3):
    rng = random.Random(1405)
    for case in range(150):
        alphabet = rng.choice([b"ab", b"abc", b"acgt", bytes(range(256))])
        a = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        b = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        r2.mset({"a": a, "b": b})
        minimum = rng.choice([0, 0, 1, 2, 3])
        subsequence, length, matches = model(a, b, minimum, with_length=True)
        assert r2.lcs("a", "b") == subsequence, (a, b)
        assert r2.lcs("a", "b", len=True) == length, (a, b)
        for c in (r2, r3):
            reply = c.execute_command("LCS", "a", "b", "IDX", "MINMATCHLEN", minimum, "WITHMATCHLEN")
            assert idx(reply) == (matches, length), (a, b, minimum)


def test_on_the_wire(raw):
    c = raw()
    assert c.cmd("MSET", "a", "ohmytext", "b", "mynewtext") == b"+OK\r\n"
    expected_matches = (b"*2\r\n"
                        b"*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
                        b"*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n")
    assert c.cmd("LCS", "a", "b", "IDX", "WITHMATCHLEN") == \
        b"*4\r\n$7\r\nmatches\r\n" + expected_matches + b"$3\r\nlen\r\n:6\r\n"
    assert c.cmd("LCS", "a", "b") == b"$6\r\nmytext\r\n"
    assert c.cmd("LCS", "a", "b", "LEN") == b":6\r\n"
    assert c.cmd("HELLO", "3").startswith(b"%")
    assert c.cmd("LCS", "a", "b", "IDX", "WITHMATCHLEN") == \
        b"%2\r\n$7\r\nmatches\r\n" + expected_matches + b"$3\r\nlen\r\n:6\r\n"
    assert c.cmd("LCS", "a", "missing", "IDX") == b"%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"


def test_in_a_transaction(client):
    client.mset({"a": "ohmytext", "b": "mynewtext"})
    with client.pipeline(transaction=True) as tx:
        tx.lcs("a", "b")
        tx.set("b", "text")
        tx.lcs("a", "b", len=True)
        assert tx.execute() == [b"mytext", True, 4]


def test_redis_cli(server):
    if shutil.which("redis-cli") is None:
        pytest.skip("redis-cli is not installed")

    def cli(*args: str) -> str:
        result = subprocess.run(["redis-cli", "--no-raw", "-h", server.host, "-p", str(server.port), *args],
                                capture_output=True, timeout=30, text=True)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert cli("MSET", "key1", "ohmytext", "key2", "mynewtext") == "OK\n"
    assert cli("LCS", "key1", "key2") == '"mytext"\n'
    assert cli("LCS", "key1", "key2", "LEN") == "(integer) 6\n"
    assert cli("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN") == (
        '1) "matches"\n'
        "2) 1) 1) 1) (integer) 4\n"
        "         2) (integer) 7\n"
        "      2) 1) (integer) 5\n"
        "         2) (integer) 8\n"
        "      3) (integer) 4\n"
        '3) "len"\n'
        "4) (integer) 6\n")
    assert cli("-3", "LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4") == (
        '1# "matches" => \n'
        "   1) 1) 1) (integer) 4\n"
        "         2) (integer) 7\n"
        "      2) 1) (integer) 5\n"
        "         2) (integer) 8\n"
        '2# "len" => (integer) 6\n')
