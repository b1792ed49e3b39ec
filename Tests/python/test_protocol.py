"""Wire-level RESP parsing over raw sockets: inline commands, fragmentation, pipelining and the
exact protocol-error replies of Redis 7 (error, then the server closes the connection)."""

import os
import time

import pytest

from conftest import encode


# --- inline commands -----------------------------------------------------------------------

def test_inline_ping(raw):
    c = raw()
    c.send(b"PING\r\n")
    assert c.reply() == b"+PONG\r\n"
    c.send(b"PING\n")  # a bare LF ends an inline command too
    assert c.reply() == b"+PONG\r\n"


def test_inline_quoted_args(raw):
    c = raw()
    c.send(b"SET \"a b\" 'c d'\r\n")
    assert c.reply() == b"+OK\r\n"
    c.send(b'GET "a b"\r\n')
    assert c.reply() == b"$3\r\nc d\r\n"
    assert c.cmd("GET", "a b") == b"$3\r\nc d\r\n"  # same key via RESP


def test_inline_double_quote_escapes(raw):
    c = raw()
    c.send(b'ECHO "a\\x41\\n\\t"\r\n')
    assert c.reply() == b"$4\r\naA\n\t\r\n"


def test_empty_lines_are_ignored(raw):
    c = raw()
    # Empty inline lines produce no reply, and protocol detection restarts after each one.
    c.send(b"\r\n\r\n\nPING\r\n\r\n*1\r\n$4\r\nPING\r\n\n")
    assert c.reply() == b"+PONG\r\n"
    assert c.reply() == b"+PONG\r\n"
    assert c.cmd("ECHO", "still open") == b"$10\r\nstill open\r\n"


def test_empty_multibulk_is_ignored(raw):
    c = raw()
    c.send(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n")
    assert c.reply() == b"+PONG\r\n"


# --- fragmentation and pipelining ----------------------------------------------------------

def test_command_split_byte_by_byte(raw):
    c = raw()
    data = encode("SET", "split\r\nkey", "v" * 20) + b"PING\r\n" + encode("GET", "split\r\nkey")
    for i in range(len(data)):
        c.send(data[i:i + 1])
        time.sleep(0.002)  # separate TCP segments (TCP_NODELAY is on)
    assert c.reply() == b"+OK\r\n"
    assert c.reply() == b"+PONG\r\n"
    assert c.reply() == b"$20\r\n" + b"v" * 20 + b"\r\n"


def test_pipeline_100k_in_one_send(raw):
    # Like redis-py's pipeline.execute(): everything is written before any reply is read,
    # so the server must keep reading while replies pile up (Redis buffers them).
    n = 100_000
    c = raw(timeout=60)
    c.send(b"".join(encode("SET", f"key:{i}", f"v{i}") for i in range(n)))
    for i in range(n):
        r = c.reply()
        assert r == b"+OK\r\n", f"reply {i}: {r!r}"
    assert c.cmd("DBSIZE") == b":100000\r\n"
    assert c.cmd("GET", "key:99999") == b"$6\r\nv99999\r\n"


def test_mixed_pipeline_replies_in_order(raw):
    c = raw()
    c.send(encode("SET", "a", "1") + encode("NOSUCH") + encode("GET", "a") + b"PING\r\n"
           + encode("GET") + encode("ECHO", "z"))
    assert [c.reply() for _ in range(6)] == [
        b"+OK\r\n",
        b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
        b"$1\r\n1\r\n",
        b"+PONG\r\n",
        b"-ERR wrong number of arguments for 'get' command\r\n",
        b"$1\r\nz\r\n",
    ]


# --- protocol errors: exact reply, then the connection is closed ----------------------------

@pytest.mark.parametrize("data, error", [
    (b"*x\r\n", b"invalid multibulk length"),
    (b"*+1\r\n", b"invalid multibulk length"),
    (b"*2147483648\r\n", b"invalid multibulk length"),
    (b"*1\r\n$x\r\n", b"invalid bulk length"),
    (b"*1\r\n$-1\r\n", b"invalid bulk length"),
    (b"*1\r\n$ 4\r\nPING\r\n", b"invalid bulk length"),
    (b"*1\r\n$536870913\r\n", b"invalid bulk length"),  # proto-max-bulk-len is 512MB
    # The type byte is only checked once a whole line (up to CRLF) has arrived.
    (b"*1\r\nx\r\n", b"expected '$', got 'x'"),
    (b"*2\r\n$4\r\nECHO\r\n:1\r\n", b"expected '$', got ':'"),
    (b'SET "a\r\n', b"unbalanced quotes in request"),
    (b"SET 'a\r\n", b"unbalanced quotes in request"),
    (b'SET "a"b c\r\n', b"unbalanced quotes in request"),  # closing quote must end the arg
], ids=lambda v: repr(v)[2:-1] if isinstance(v, bytes) else v)
def test_protocol_error(raw, data, error):
    c = raw()
    c.send(data)
    assert c.read_until_closed() == b"-ERR Protocol error: " + error + b"\r\n"


def test_protocol_error_after_good_command(raw):
    c = raw()
    c.send(encode("PING") + b"*x\r\n" + encode("PING"))
    # Replies to everything before the bad bytes, then the error, then nothing more.
    assert c.read_until_closed() == b"+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n"


def test_protocol_error_does_not_affect_other_clients(raw):
    good, bad = raw(), raw()
    good.cmd("SET", "k", "v")
    bad.send(b"*x\r\n")
    bad.read_until_closed()
    assert good.cmd("GET", "k") == b"$1\r\nv\r\n"


def _vm_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def test_huge_bulk_length_rejected_without_allocating(server, raw):
    rss_before = _vm_kib(server.pid, "VmRSS")
    c = raw()
    c.send(b"*2\r\n$3\r\nSET\r\n$600000000\r\n")  # 600 MB declared, nothing sent
    assert c.read_until_closed() == b"-ERR Protocol error: invalid bulk length\r\n"
    # Rejected from the header alone: no 600 MB buffer was touched.
    assert _vm_kib(server.pid, "VmRSS") - rss_before < 100 * 1024
    assert raw().cmd("PING") == b"+PONG\r\n"


def test_partial_command_waits_for_more(raw):
    # Incomplete input is not an error: the server just waits for the rest.
    c = raw()
    c.send(b"*2\r\n$4\r\nECHO\r\n$5\r\nhel")
    c.sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        c.sock.recv(1)
    c.sock.settimeout(10)
    c.send(b"lo\r\n")
    assert c.reply() == b"$5\r\nhello\r\n"
