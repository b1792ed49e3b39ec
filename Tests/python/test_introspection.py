"""CLIENT, RESET, TIME, WAIT, INFO, CONFIG, OBJECT and COMMAND, as Redis 7 replies (checked with KVNODE_TARGET=redis
unless marked kvnode_only)."""

import time

import pytest
import redis
from redis.exceptions import ResponseError

from conftest import TARGET, Raw, encode


def text_client(server, protocol: int = 2) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, protocol=protocol, decode_responses=True)


def fields(line: bytes) -> dict:
    """A CLIENT LIST / CLIENT INFO line as a dict."""
    return dict(part.split("=", 1) for part in line.decode().strip().split(" "))


def bulk_text(reply: bytes) -> bytes:
    """The payload of a bulk (or verbatim) string reply."""
    header, _, rest = reply.partition(b"\r\n")
    assert header[:1] in (b"$", b"="), reply[:80]
    body = rest[:-2]
    return body[4:] if header[:1] == b"=" else body


def poll(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


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


@pytest.mark.needs_issue4
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


def test_client_pause_write_holds_writes_until_unpause(raw):
    admin, writer = raw(), raw()
    admin.cmd("SET", "k", "before")
    assert admin.cmd("CLIENT", "PAUSE", "30000", "WRITE") == b"+OK\r\n"
    try:
        writer.send(encode("SET", "k", "after"))
        assert admin.cmd("GET", "k") == b"$6\r\nbefore\r\n"  # reads go on; the write waits
    finally:
        assert admin.cmd("CLIENT", "UNPAUSE") == b"+OK\r\n"
    assert writer.reply() == b"+OK\r\n"
    assert admin.cmd("GET", "k") == b"$5\r\nafter\r\n"


def test_client_pause_all_ends_by_itself(raw):
    admin, other = raw(), raw()
    assert admin.cmd("CLIENT", "PAUSE", "200", "ALL") == b"+OK\r\n"
    assert other.cmd("PING") == b"+PONG\r\n"  # answered once the pause is over


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


# --- INFO ---------------------------------------------------------------------------------------------------------

def info_sections(text: bytes) -> list:
    return [line[2:].decode() for line in text.split(b"\r\n") if line.startswith(b"# ")]


def test_info_sections(raw):
    c = raw()
    default = bulk_text(c.cmd("INFO"))
    assert info_sections(default) == ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU",
                                      "Modules", "Errorstats", "Cluster", "Keyspace"]
    assert "Commandstats" in info_sections(bulk_text(c.cmd("INFO", "all")))
    assert "Commandstats" in info_sections(bulk_text(c.cmd("INFO", "everything")))
    assert c.cmd("INFO", "cluster") == b"$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n"
    assert info_sections(bulk_text(c.cmd("INFO", "CLUSTER", "server"))) == ["Server", "Cluster"]
    assert c.cmd("INFO", "nosuch") == b"$0\r\n\r\n"
    c.cmd("HELLO", "3")
    assert c.cmd("INFO", "cluster") == b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"


def test_info_fields(server):
    r = text_client(server)
    info = r.info("everything")
    for field in ("redis_version", "redis_mode", "os", "arch_bits", "process_id", "tcp_port", "uptime_in_seconds",
                  "executable", "config_file", "connected_clients", "maxclients", "used_memory", "used_memory_rss",
                  "maxmemory", "loading", "aof_enabled", "total_commands_processed", "instantaneous_ops_per_sec",
                  "keyspace_hits", "keyspace_misses", "expired_keys", "role", "connected_slaves",
                  "master_repl_offset", "used_cpu_sys", "used_cpu_user", "cluster_enabled"):
        assert field in info, field
    assert info["process_id"] == server.pid and info["tcp_port"] == server.port
    assert info["maxmemory"] == 0 and info["role"] == "master"


def test_info_keyspace_counts(server):
    r = text_client(server)
    assert r.info("keyspace") == {}
    r.set("a", "1", ex=1000)
    r.set("b", "1", px=500_000)
    r.set("c", "1")
    db0 = r.info("keyspace")["db0"]
    assert db0["keys"] == 3 and db0["expires"] == 2
    r.set("a", "2")  # an overwrite without KEEPTTL drops the expiry
    assert r.info("keyspace")["db0"]["expires"] == 1
    r.delete("b")
    assert r.info("keyspace")["db0"] == {"keys": 2, "expires": 0, "avg_ttl": 0}


@pytest.mark.kvnode_only  # Redis estimates avg_ttl by sampling; kvnode computes it exactly
def test_info_avg_ttl_is_exact(server):
    r = text_client(server)
    r.set("a", "1", ex=1000)
    r.set("b", "1", ex=3000)
    assert 1_900_000 <= r.info("keyspace")["db0"]["avg_ttl"] <= 2_000_000


def test_info_stats_hits_misses_expired(server):
    r = text_client(server)
    r.config_resetstat()
    r.set("k", "v")
    r.get("k")
    r.get("missing")
    r.mget("k", "missing")
    stats = r.info("stats")
    assert stats["keyspace_hits"] == 2 and stats["keyspace_misses"] == 2
    r.set("gone", "v", px=20)
    # Redis counts the key when a read finds it expired; kvnode's lock-free GET leaves it to the sweeper.
    poll(lambda: r.get("gone") is None and r.info("stats")["expired_keys"] == 1)


def test_info_commandstats_and_errorstats(server):
    r = text_client(server)
    r.config_resetstat()
    assert list(r.info("commandstats")) == ["cmdstat_config|resetstat"]
    r.set("k", "v")
    r.set("k", "v")
    with pytest.raises(ResponseError):
        r.execute_command("SET", "k")  # arity: rejected
    with pytest.raises(ResponseError):
        r.set("k", "v", ex=-1)  # runs and fails
    stats = r.info("commandstats")["cmdstat_set"]
    assert stats["calls"] == 3 and stats["rejected_calls"] == 1 and stats["failed_calls"] == 1
    assert stats["usec"] >= 0 and "usec_per_call" in stats
    assert r.info("errorstats")["errorstat_ERR"] == {"count": 2}
    assert r.info("stats")["total_error_replies"] == 2


def test_info_instantaneous_ops(server):
    r = server.client()
    pipe = r.pipeline(transaction=False)

    def busy():
        for _ in range(200):
            pipe.ping()
        pipe.execute()
        return int(r.info("stats")["instantaneous_ops_per_sec"]) > 0
    poll(busy)


# --- CONFIG -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, error", [
    (("SET", "foo", "1"), b"-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n"),
    (("SET", "maxclients", "abc"), b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
                                   b"argument couldn't be parsed into an integer\r\n"),
    (("SET", "MAXCLIENTS", "0"), b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
                                 b"argument must be between 1 and 4294967295 inclusive\r\n"),
    (("SET", "databases", "4"), b"-ERR CONFIG SET failed (possibly related to argument 'databases') - "
                                b"can't set immutable config\r\n"),
    (("SET", "maxclients", "100", "maxclients", "200"),
     b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - duplicate parameter\r\n"),
    (("SET", "maxclients", "100", "port"), b"-ERR syntax error\r\n"),
    (("SET", "maxclients"), b"-ERR wrong number of arguments for 'config|set' command\r\n"),
    (("SET", "appendonly", "maybe"), b"-ERR CONFIG SET failed (possibly related to argument 'appendonly') - "
                                     b"argument must be 'yes' or 'no'\r\n"),
    (("SET", "maxmemory", "1.5gb"), b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - "
                                    b"argument must be a memory value\r\n"),
    (("SET", "maxmemory-policy", "foo"),
     b"-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the "
     b"following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, "
     b"allkeys-random, noeviction\r\n"),
    (("SET", "save", "1"), b"-ERR CONFIG SET failed (possibly related to argument 'save') - "
                           b"Invalid save parameters\r\n"),
    (("SET", "proto-max-bulk-len", "10"), b"-ERR CONFIG SET failed (possibly related to argument "
                                          b"'proto-max-bulk-len') - argument must be between 1048576 and "
                                          b"9223372036854775807 inclusive\r\n"),
    (("GET",), b"-ERR wrong number of arguments for 'config|get' command\r\n"),
    (("REWRITE",), b"-ERR The server is running without a config file\r\n"),
    (("NOSUCH",), b"-ERR unknown subcommand 'NOSUCH'. Try CONFIG HELP.\r\n"),
])
def test_config_errors(raw, args, error):
    assert raw().cmd("CONFIG", *args) == error


def test_config_get(raw, server):
    c = raw()
    port = str(server.port).encode()
    maxclients = b"$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    port_entry = b"$4\r\nport\r\n$%d\r\n%s\r\n" % (len(port), port)
    # Redis lists matches in its dictionary's order, kvnode in the order asked.
    assert c.cmd("CONFIG", "GET", "maxclients", "port") in (b"*4\r\n" + maxclients + port_entry,
                                                             b"*4\r\n" + port_entry + maxclients)
    assert c.cmd("CONFIG", "GET", "MAXCLIENTS", "maxc*") == b"*2\r\n$10\r\nMAXCLIENTS\r\n$5\r\n10000\r\n"
    assert c.cmd("CONFIG", "GET", "nosuch") == b"*0\r\n"
    assert c.cmd("CONFIG", "GET", "databases") == b"*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n"
    c.cmd("HELLO", "3")
    assert c.cmd("CONFIG", "GET", "databases") == b"%1\r\n$9\r\ndatabases\r\n$1\r\n1\r\n"


def test_config_get_glob_and_values(server):
    r = text_client(server)
    everything = r.config_get("*")
    for name in ("bind", "port", "dir", "maxclients", "proto-max-bulk-len", "client-query-buffer-limit",
                 "databases", "save", "appendonly", "maxmemory", "maxmemory-policy"):
        assert name in everything, name
    assert everything["appendonly"] == "no" and everything["maxmemory-policy"] == "noeviction"
    assert everything["proto-max-bulk-len"] == str(512 * 1024 * 1024)
    assert set(r.config_get("*max-*-len*")) >= {"proto-max-bulk-len"}


@pytest.mark.kvnode_only
def test_config_kvnode_settings(server):
    r = text_client(server)
    settings = r.config_get("*")
    assert settings["durability"] in ("low", "medium", "high")
    assert int(settings["leveldb-write-buffer-size"]) > 0 and int(settings["leveldb-block-cache-size"]) > 0
    with pytest.raises(ResponseError, match="can't set immutable config"):
        r.config_set("durability", "high")
    with pytest.raises(ResponseError, match="maxmemory must be 0"):
        r.config_set("maxmemory", "1gb")
    with pytest.raises(ResponseError, match="noeviction"):
        r.config_set("maxmemory-policy", "allkeys-lru")
    assert r.config_set("maxmemory", "0") and r.config_set("appendonly", "no")


@pytest.mark.needs_issue4
def test_config_set_notify_keyspace_events(raw):
    admin, listener = raw(), raw()
    assert admin.cmd("CONFIG", "SET", "notify-keyspace-events", "Q") == (
        b"-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - "
        b"Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n")
    assert admin.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA") == b"+OK\r\n"
    try:
        assert admin.cmd("CONFIG", "GET", "notify-keyspace-events") == (
            b"*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n")
        listener.cmd("SUBSCRIBE", "__keyevent@0__:set")
        admin.cmd("SET", "k", "v")
        assert listener.reply() == b"*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:set\r\n$1\r\nk\r\n"
    finally:
        assert admin.cmd("CONFIG", "SET", "notify-keyspace-events", "") == b"+OK\r\n"
    assert admin.cmd("CONFIG", "GET", "notify-keyspace-events") == (
        b"*2\r\n$22\r\nnotify-keyspace-events\r\n$0\r\n\r\n")


def test_config_set_is_all_or_nothing(raw):
    c = raw()
    assert c.cmd("CONFIG", "SET", "maxclients", "500", "proto-max-bulk-len", "1").startswith(b"-ERR CONFIG SET")
    assert c.cmd("CONFIG", "GET", "maxclients") == b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n"
    assert c.cmd("CONFIG", "SET", "save", "3600 1 300 100", "maxclients", "10000") == b"+OK\r\n"
    assert c.cmd("CONFIG", "GET", "save") == b"*2\r\n$4\r\nsave\r\n$14\r\n3600 1 300 100\r\n"
    assert c.cmd("CONFIG", "SET", "save", "") == b"+OK\r\n"


def test_config_set_maxclients_refuses_new_connections(server, raw):
    admin = raw()
    info = bulk_text(admin.cmd("INFO", "clients")).decode()
    connected = int(info.split("connected_clients:")[1].split("\r\n")[0])
    assert admin.cmd("CONFIG", "SET", "maxclients", str(connected)) == b"+OK\r\n"
    try:
        # Connections other tests left behind may still be closing: open new ones until one is refused.
        for _ in range(20):
            attempt = raw()
            attempt.sock.settimeout(0.5)
            try:
                refused = attempt.sock.recv(256)
            except TimeoutError:
                continue  # accepted: it now counts, so the next attempt is closer to the limit
            assert refused == b"-ERR max number of clients reached\r\n"
            break
        else:
            pytest.fail("no connection was refused")
    finally:
        assert admin.cmd("CONFIG", "SET", "maxclients", "10000") == b"+OK\r\n"
    assert raw().cmd("PING") == b"+PONG\r\n"
    assert "rejected_connections:1" in bulk_text(admin.cmd("INFO", "stats")).decode() or TARGET == "redis"


def test_config_set_proto_max_bulk_len_applies_to_new_requests(raw):
    admin, client = raw(), raw()
    assert admin.cmd("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
    try:
        client.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n" % (2 * 1024 * 1024))
        assert client.read_until_closed() == b"-ERR Protocol error: invalid bulk length\r\n"
    finally:
        assert admin.cmd("CONFIG", "SET", "proto-max-bulk-len", "512mb") == b"+OK\r\n"


def test_config_resetstat(server):
    r = text_client(server)
    r.set("k", "v")
    r.get("k")
    assert r.config_resetstat() is True
    stats = r.info("stats")
    assert stats["keyspace_hits"] == 0 and stats["total_connections_received"] == 0
    assert stats["total_error_replies"] == 0 and stats["total_commands_processed"] == 1  # the RESETSTAT itself


# --- OBJECT -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, encoding", [
    (b"123", b"int"), (b"-9223372036854775808", b"int"), (b"0", b"int"),
    (b"007", b"embstr"), (b"12345678901234567890123", b"embstr"), (b"1.5", b"embstr"),
    (b"x" * 44, b"embstr"), (b"x" * 45, b"raw"), (b"", b"embstr"),
])
def test_object_encoding(raw, value, encoding):
    c = raw()
    c.cmd("SET", "k", value)
    assert c.cmd("OBJECT", "ENCODING", "k") == b"$%d\r\n%s\r\n" % (len(encoding), encoding)


def test_object_refcount_freq_idletime(raw):
    c = raw()
    c.cmd("SET", "small", "123")
    c.cmd("SET", "big", "123456")
    assert c.cmd("OBJECT", "REFCOUNT", "small") == b":2147483647\r\n"  # a shared integer
    assert c.cmd("OBJECT", "REFCOUNT", "big") == b":1\r\n"
    assert c.cmd("OBJECT", "FREQ", "small").startswith(b"-ERR An LFU maxmemory policy is not selected")
    assert c.cmd("OBJECT", "IDLETIME", "big").startswith(b":")
    for sub in ("ENCODING", "REFCOUNT", "FREQ", "IDLETIME"):
        assert c.cmd("OBJECT", sub, "missing") == b"$-1\r\n"
    assert c.cmd("OBJECT", "ENCODING") == b"-ERR wrong number of arguments for 'object|encoding' command\r\n"
    assert c.cmd("OBJECT", "nosuch", "k") == b"-ERR unknown subcommand 'nosuch'. Try OBJECT HELP.\r\n"
    assert c.cmd("OBJECT", "HELP").startswith(b"*15\r\n+OBJECT <subcommand>")


# --- COMMAND ------------------------------------------------------------------------------------------------------

def test_command_docs_get_and_set(raw):
    c = raw()
    assert c.cmd("COMMAND", "DOCS", "get") == (
        b"*2\r\n$3\r\nget\r\n*10\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n$5\r\nsince\r\n$5\r\n1.0.0\r\n"
        b"$5\r\ngroup\r\n$6\r\nstring\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n$9\r\narguments\r\n*1\r\n*6\r\n"
        b"$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n$14\r\nkey_spec_index\r\n:0\r\n")
    assert c.cmd("COMMAND", "DOCS", "nosuch") == b"*0\r\n"
    c.cmd("HELLO", "3")
    docs = c.cmd("COMMAND", "DOCS", "set")
    assert docs.startswith(b"%1\r\n$3\r\nset\r\n%6\r\n$7\r\nsummary\r\n")
    assert b"$5\r\ntoken\r\n$7\r\nKEEPTTL\r\n" in docs and b"~4\r\n*2\r\n$6\r\n2.6.12\r\n" in docs


def raw_replies(r: redis.Redis) -> redis.Redis:
    """`r` without redis-py's parsing of COMMAND replies (it would turn COMMAND DOCS into a COMMAND table)."""
    r.set_response_callback("COMMAND", lambda response, **options: response)
    return r


def test_command_docs_for_redis_py(server):
    r = raw_replies(text_client(server, 3))
    docs = r.execute_command("COMMAND", "DOCS", "client")
    client = docs["client"]
    assert client["group"] == "connection"
    assert {"client|list", "client|kill", "client|setname"} <= set(client["subcommands"])
    assert client["subcommands"]["client|kill"]["summary"]


@pytest.mark.kvnode_only  # Redis documents every command too, but its table is not ours
def test_every_command_is_documented(server):
    r = raw_replies(text_client(server, 3))
    for name in r.execute_command("COMMAND", "LIST"):
        doc = r.execute_command("COMMAND", "DOCS", name)[name]
        assert doc.get("summary") and doc.get("group"), f"{name} has no docs: run scripts/gen-command-reference"


def test_command_info_shapes(raw):
    c = raw()
    assert c.cmd("COMMAND", "INFO", "get") == (
        b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n+@read\r\n+@string\r\n"
        b"+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\n"
        b"type\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n"
        b"$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n")
    assert c.cmd("COMMAND", "INFO", "nosuch") == b"*1\r\n$-1\r\n"
    c.cmd("HELLO", "3")
    assert c.cmd("COMMAND", "INFO", "echo") == (
        b"*1\r\n*10\r\n$4\r\necho\r\n:2\r\n~3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n"
        b"+@connection\r\n~0\r\n~0\r\n~0\r\n")
    multi = c.cmd("COMMAND", "INFO", "multi")
    assert b"+noscript\r\n+loading\r\n+stale\r\n+fast\r\n+allow_busy\r\n" in multi
    assert b"+@transaction" in c.cmd("COMMAND", "INFO", "exec")


def test_command_list_and_count(server):
    r = text_client(server)
    names = r.command_list()
    top_level = [n for n in names if "|" not in n]
    assert r.command_count() == len(top_level)
    assert {"get", "set", "multi", "exec", "watch", "client|list", "config|get", "object|encoding"} <= set(names)
    assert sorted(r.command_list(category="transaction")) == ["discard", "exec", "multi", "unwatch", "watch"]
    assert "client|kill" in r.command_list(pattern="client*")
    assert r.command_list(module="x") == []
    with pytest.raises(ResponseError, match="syntax error"):
        raw_replies(r).execute_command("COMMAND", "LIST", "FILTERBY", "FOO", "x")


@pytest.mark.parametrize("args, reply", [
    (("mset", "a", "1", "b", "2"), b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    (("get", "k"), b"*1\r\n$1\r\nk\r\n"),
    (("object", "encoding", "k"), b"*1\r\n$1\r\nk\r\n"),
    (("client", "list"), b"-ERR The command has no key arguments\r\n"),
    (("nosuch", "a"), b"-ERR Invalid command specified\r\n"),
    (("get", "a", "b"), b"-ERR Invalid number of arguments specified for command\r\n"),
    (("ping",), b"-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
])
def test_command_getkeys(raw, args, reply):
    assert raw().cmd("COMMAND", "GETKEYS", *args) == reply
