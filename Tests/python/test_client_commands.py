"""CLIENT, RESET, TIME and WAIT, as Redis 7 replies (checked with KVNODE_TARGET=redis unless marked kvnode_only)."""

import select
import socket
import time

import pytest

from conftest import encode, wait_until
from replies import bulk_text, fields, poll

MB = 1 << 20


# --- CLIENT -----------------------------------------------------------------------------------------------------

def test_client_list_and_info_lines(raw):
    a, b = raw(), raw()
    a.cmd("CLIENT", "SETNAME", "alpha")
    b.cmd("HELLO", "3")
    a_id = int(a.cmd("CLIENT", "ID")[1:-2])
    listing = bulk_text(a.cmd("CLIENT", "LIST"))
    assert listing.endswith(b"\n")
    lines = {fields(line)["id"]: fields(line) for line in listing.splitlines()}
    mine = lines[str(a_id)]
    assert mine["name"] == "alpha" and mine["cmd"] == "client|list" and mine["resp"] == "2"
    assert mine["flags"] == "N" and mine["db"] == "0" and mine["multi"] == "-1" and mine["user"] == "default"
    keys = list(mine)
    assert keys[:8] == ["id", "addr", "laddr", "fd", "name", "age", "idle", "flags"]
    assert {"sub", "psub", "qbuf", "obl", "omem", "cmd", "user", "resp"} <= set(keys)
    assert any(f["resp"] == "3" and f["cmd"] == "hello" for f in lines.values())
    info = fields(bulk_text(a.cmd("CLIENT", "INFO")))
    assert info["id"] == str(a_id) and info["cmd"] == "client|info"


def test_client_list_filters(raw):
    a, b = raw(), raw()
    b_id = b.cmd("CLIENT", "ID")[1:-2]
    only_b = bulk_text(a.cmd("CLIENT", "LIST", "ID", b_id))
    assert [fields(line)["id"] for line in only_b.splitlines()] == [b_id.decode()]
    assert a.cmd("CLIENT", "LIST", "ID", "999999") == b"$0\r\n\r\n"
    assert a.cmd("CLIENT", "LIST", "ID", "abc") == b"-ERR Invalid client ID\r\n"
    assert a.cmd("CLIENT", "LIST", "TYPE", "xyz") == b"-ERR Unknown client type 'xyz'\r\n"
    assert a.cmd("CLIENT", "LIST", "foo") == b"-ERR syntax error\r\n"
    assert bulk_text(a.cmd("CLIENT", "LIST", "TYPE", "normal")).count(b"\n") >= 2
    assert a.cmd("CLIENT", "LIST", "TYPE", "master") == b"$0\r\n\r\n"


def test_client_list_shows_multi(raw):
    a = raw()
    a.cmd("MULTI")
    a.cmd("SET", "k", "v")
    b = raw()
    a_line = None
    for line in bulk_text(b.cmd("CLIENT", "LIST")).splitlines():
        f = fields(line)
        if f["cmd"] == "set":
            a_line = f
    assert a_line is not None and a_line["multi"] == "1" and "x" in a_line["flags"]


def test_client_list_shows_subscriptions(raw):
    subscriber, admin = raw(), raw()
    subscriber.cmd("SUBSCRIBE", "a", "b")
    subscriber.reply()  # one confirmation per channel
    subscriber.cmd("PSUBSCRIBE", "p*")
    subscriber_id = None
    for line in bulk_text(admin.cmd("CLIENT", "LIST", "TYPE", "pubsub")).splitlines():
        f = fields(line)
        assert (f["sub"], f["psub"], f["flags"]) == ("2", "1", "P")
        subscriber_id = f["id"]
    assert subscriber_id is not None
    normal = bulk_text(admin.cmd("CLIENT", "LIST", "TYPE", "normal"))
    normal_ids = [fields(line)["id"] for line in normal.splitlines()]
    assert subscriber_id not in normal_ids
    stats = bulk_text(admin.cmd("INFO", "stats")).decode()
    assert "pubsub_channels:2\r\n" in stats and "pubsub_patterns:1\r\n" in stats


def test_client_kill_by_id_closes_a_connection_on_another_loop(server, raw):
    victims = [raw() for _ in range(4)]  # spread over the server's event loops
    killer = raw()
    for victim in victims:
        victim_id = victim.cmd("CLIENT", "ID")[1:-2]
        assert killer.cmd("CLIENT", "KILL", "ID", victim_id) == b":1\r\n"
        assert victim.read_until_closed() == b""
    assert killer.cmd("CLIENT", "KILL", "ID", "999999") == b":0\r\n"
    assert killer.cmd("PING") == b"+PONG\r\n"


def test_client_kill_by_address_old_and_new_form(raw):
    a, b, killer = raw(), raw(), raw()
    a_addr = fields(bulk_text(a.cmd("CLIENT", "INFO")))["addr"]
    b_addr = fields(bulk_text(b.cmd("CLIENT", "INFO")))["addr"]
    assert killer.cmd("CLIENT", "KILL", a_addr) == b"+OK\r\n"
    assert a.read_until_closed() == b""
    assert killer.cmd("CLIENT", "KILL", a_addr) == b"-ERR No such client\r\n"
    assert killer.cmd("CLIENT", "KILL", "ADDR", b_addr) == b":1\r\n"
    assert b.read_until_closed() == b""


def test_client_kill_user_and_skipme(raw):
    a, killer = raw(), raw()
    assert a.cmd("PING") == b"+PONG\r\n"  # registered by the server before the kill, not merely connected
    assert killer.cmd("CLIENT", "KILL", "USER", "nobody") == b"-ERR No such user 'nobody'\r\n"
    killed = int(killer.cmd("CLIENT", "KILL", "USER", "default")[1:-2])
    assert killed >= 1  # a, and any other client, but not the killer (SKIPME yes is the default)
    assert a.read_until_closed() == b""
    assert killer.cmd("PING") == b"+PONG\r\n"
    my_id = killer.cmd("CLIENT", "ID")[1:-2]
    assert killer.cmd("CLIENT", "KILL", "ID", my_id, "SKIPME", "no") == b":1\r\n"
    assert killer.read_until_closed() == b""


@pytest.mark.parametrize("args, error", [
    (("ID", "abc"), b"-ERR client-id should be greater than 0\r\n"),
    (("ADDR", "1.2.3.4:5", "ID"), b"-ERR syntax error\r\n"),
    (("FOO", "bar"), b"-ERR syntax error\r\n"),
    (("TYPE", "foo"), b"-ERR Unknown client type 'foo'\r\n"),
    (("SKIPME", "maybe"), b"-ERR syntax error\r\n"),
    (("MAXAGE", "abc"), b"-ERR syntax error\r\n"),
])
def test_client_kill_errors(raw, args, error):
    assert raw().cmd("CLIENT", "KILL", *args) == error


def test_client_kill_from_redis_py(server):
    victim = server.client()
    victim_id = victim.client_id()
    admin = server.client()
    assert admin.client_kill_filter(_id=victim_id) == 1
    poll(lambda: all(c["id"] != str(victim_id) for c in admin.client_list()))


def test_client_reply_off_on_skip(raw):
    c = raw()
    c.send(encode("CLIENT", "REPLY", "OFF") + encode("SET", "a", "1") + encode("GET", "a")
           + encode("NOSUCH") + encode("CLIENT", "REPLY", "ON"))
    assert c.reply() == b"+OK\r\n"  # only CLIENT REPLY ON answers
    c.send(encode("CLIENT", "REPLY", "SKIP") + encode("SET", "b", "2") + encode("GET", "b"))
    assert c.reply() == b"$1\r\n2\r\n"
    assert c.cmd("CLIENT", "REPLY", "maybe") == b"-ERR syntax error\r\n"


def test_client_reply_off_still_delivers_pubsub(raw):
    """CLIENT REPLY OFF silences replies, not pushes: the subscribe confirmation and every message still arrive, in
    RESP2 and RESP3, including a message the connection publishes to itself."""
    subscriber, publisher = raw(), raw()
    subscriber.send(encode("CLIENT", "REPLY", "OFF") + encode("SUBSCRIBE", "news"))
    assert subscriber.reply() == b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    assert publisher.cmd("PUBLISH", "news", "hello") == b":1\r\n"
    assert subscriber.reply() == b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"

    resp3 = raw()
    assert resp3.cmd("HELLO", "3").startswith(b"%")
    resp3.send(encode("SUBSCRIBE", "me") + encode("CLIENT", "REPLY", "OFF") + encode("PUBLISH", "me", "x")
               + encode("CLIENT", "REPLY", "ON"))
    assert resp3.reply() == b">3\r\n$9\r\nsubscribe\r\n$2\r\nme\r\n:1\r\n"
    assert resp3.reply() == b">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$1\r\nx\r\n"
    assert resp3.reply() == b"+OK\r\n"


def test_client_list_counts_replies_a_client_has_not_read(raw, r2):
    """A client that sends requests but never reads shows its unsent replies in CLIENT LIST's omem (and oll)."""
    r2.set("big", b"x" * (1 << 20))
    reader = raw()
    reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    my_id = int(reader.cmd("CLIENT", "ID")[1:-2])
    reader.send(encode("GET", "big") * 64)  # 64 MiB of replies, never read

    def output_of_reader():
        line = next(l for l in bulk_text(raw().cmd("CLIENT", "LIST")).splitlines() if b"id=%d " % my_id in l)
        return fields(line)

    info = wait_until(lambda: (f := output_of_reader()) and int(f["omem"]) > (8 << 20) and f,
                      message=lambda: f"omem grows: {output_of_reader()}")
    assert int(info["oll"]) >= 1
    assert int(info["tot-mem"]) >= int(info["omem"])


def test_client_no_evict(raw):
    c = raw()
    assert c.cmd("CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
    assert fields(bulk_text(c.cmd("CLIENT", "INFO")))["flags"] == "e"
    assert c.cmd("CLIENT", "NO-EVICT", "maybe") == b"-ERR syntax error\r\n"
    assert c.cmd("CLIENT", "NO-EVICT", "off") == b"+OK\r\n"


@pytest.mark.kvnode_only  # CLIENT NO-TOUCH and SETINFO are Redis 7.2 (the reference server is 7.0)
def test_client_no_touch_and_setinfo(raw):
    c = raw()
    assert c.cmd("CLIENT", "NO-TOUCH", "on") == b"+OK\r\n"
    assert c.cmd("CLIENT", "SETINFO", "LIB-NAME", "mylib") == b"+OK\r\n"
    assert c.cmd("CLIENT", "SETINFO", "LIB-VER", "1.2") == b"+OK\r\n"
    info = fields(bulk_text(c.cmd("CLIENT", "INFO")))
    assert info["flags"] == "T" and info["lib-name"] == "mylib" and info["lib-ver"] == "1.2"


HELD = 0.5  # seconds a held command is watched for a reply that must not come


def client_fields(admin, client_id: bytes) -> dict:
    """The CLIENT LIST fields of one connection."""
    [line] = bulk_text(admin.cmd("CLIENT", "LIST", "ID", client_id)).splitlines()
    return fields(line)


def assert_no_reply(conn, seconds: float) -> None:
    """Nothing arrives on `conn` for `seconds`."""
    readable, _, _ = select.select([conn.sock], [], [], seconds)
    assert not conn.buf and not readable, f"unexpected reply: {conn.buf + conn.sock.recv(4096)!r}"


def test_client_pause_write_holds_writes_until_unpause(raw):
    admin, writer = raw(), raw()
    writer_id = writer.cmd("CLIENT", "ID")[1:-2]
    admin.cmd("SET", "k", "before")
    assert admin.cmd("CLIENT", "PAUSE", "30000", "WRITE") == b"+OK\r\n"
    try:
        sent = time.monotonic()
        writer.send(encode("SET", "k", "after") + encode("GET", "k"))
        # The server has read the SET (CLIENT LIST names it as the writer's command)...
        poll(lambda: client_fields(admin, writer_id)["cmd"] == "set")
        # ... and holds it, and the GET behind it: no reply, and the write is not applied. Other reads go on.
        assert_no_reply(writer, HELD)
        assert admin.cmd("GET", "k") == b"$6\r\nbefore\r\n"
    finally:
        assert admin.cmd("CLIENT", "UNPAUSE") == b"+OK\r\n"
    assert writer.reply() == b"+OK\r\n"
    assert writer.reply() == b"$5\r\nafter\r\n"
    assert time.monotonic() - sent >= HELD  # the write waited for the pause
    assert admin.cmd("GET", "k") == b"$5\r\nafter\r\n"


def test_client_pause_all_holds_every_command_until_it_ends_by_itself(raw):
    admin, other = raw(), raw()
    started = time.monotonic()
    assert admin.cmd("CLIENT", "PAUSE", "1000", "ALL") == b"+OK\r\n"
    other.send(encode("PING"))
    # Answered once the pause is over (not before: the server's millisecond clock may round the start down by 1 ms),
    # with no CLIENT UNPAUSE.
    assert other.reply() == b"+PONG\r\n"
    assert time.monotonic() - started >= 1.0 - 0.002


# --- Query buffer limit -----------------------------------------------------------------------------------------

def test_config_set_client_query_buffer_limit_takes_effect(raw):
    """A connection whose pending request grows past client-query-buffer-limit is closed; a lower limit applies at
    once to every connection."""
    def partial_set(conn, total: int, sent: int) -> bytes:
        """Sends a SET whose value is `total` bytes long, but only `sent` of them; returns the rest."""
        conn.send(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % total + b"x" * sent)
        return b"x" * (total - sent) + b"\r\n"

    admin = raw()
    assert admin.cmd("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"+OK\r\n"
    try:
        # Under 1 MB, a connection with 1.5 MB pending is closed, with no reply...
        over = raw()
        try:
            partial_set(over, 2 * MB, 3 * MB // 2)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while sending
        assert over.read_until_closed() == b""
        # ... and one with less is served.
        under = raw()
        under.send(partial_set(under, 900 * 1024, 800 * 1024))
        assert under.reply() == b"+OK\r\n"
    finally:
        assert admin.cmd("CONFIG", "SET", "client-query-buffer-limit", "1gb") == b"+OK\r\n"
    # Back under 1 GB, 1.5 MB pending is fine.
    again = raw()
    again.send(partial_set(again, 2 * MB, 3 * MB // 2))
    assert again.reply() == b"+OK\r\n"
    assert admin.cmd("STRLEN", "big") == b":%d\r\n" % (2 * MB)


@pytest.mark.parametrize("args, error", [
    (("abc",), b"-ERR timeout is not an integer or out of range\r\n"),
    (("-1",), b"-ERR timeout is negative\r\n"),
    (("10", "FOO"), b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"),
])
def test_client_pause_errors(raw, args, error):
    assert raw().cmd("CLIENT", "PAUSE", *args) == error


def test_client_getredir_and_help(raw):
    c = raw()
    assert c.cmd("CLIENT", "GETREDIR") == b":-1\r\n"
    assert c.cmd("CLIENT", "HELP").startswith(b"*")
    assert c.cmd("CLIENT", "ID", "x") == b"-ERR wrong number of arguments for 'client|id' command\r\n"


# --- RESET, TIME, WAIT ------------------------------------------------------------------------------------------

def test_reset(raw):
    c = raw()
    c.cmd("CLIENT", "SETNAME", "x")
    c.cmd("HELLO", "3")
    c.cmd("MULTI")
    assert c.cmd("RESET") == b"+RESET\r\n"
    assert c.cmd("CLIENT", "GETNAME") == b"$-1\r\n"  # RESP2 null: back to RESP2
    assert c.cmd("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert fields(bulk_text(c.cmd("CLIENT", "INFO")))["resp"] == "2"


def test_time(raw):
    reply = raw().cmd("TIME")
    parts = reply.split(b"\r\n")
    assert parts[0] == b"*2" and parts[1].startswith(b"$")
    seconds, micros = int(parts[2]), int(parts[4])
    assert abs(seconds - time.time()) < 60 and 0 <= micros < 1_000_000


def test_wait(raw):
    c = raw()
    assert c.cmd("WAIT", "0", "0") == b":0\r\n"
    assert c.cmd("WAIT", "1", "10") == b":0\r\n"
    assert c.cmd("WAIT", "a", "0") == b"-ERR value is not an integer or out of range\r\n"
    assert c.cmd("WAIT", "0", "-1") == b"-ERR timeout is negative\r\n"
