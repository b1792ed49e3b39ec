"""INFO and CONFIG, as Redis 7 replies (checked with KVNODE_TARGET=redis unless marked kvnode_only)."""

import select

import pytest
from redis.exceptions import ResponseError

from conftest import TARGET, wait_until
from replies import bulk_text, poll, text_client


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
    assert c.cmd("CONFIG", "GET", "databases") == b"*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"
    c.cmd("HELLO", "3")
    assert c.cmd("CONFIG", "GET", "databases") == b"%1\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"


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


def accepted_or_refused(admin, attempt) -> str | None:
    """'refused' once the server has written to a new connection (its refusal), 'accepted' once the connection is in
    CLIENT LIST, None while neither is known yet."""
    if select.select([attempt.sock], [], [], 0)[0]:
        return "refused"
    address = b"addr=%s:%d " % (attempt.sock.getsockname()[0].encode(), attempt.sock.getsockname()[1])
    return "accepted" if address in bulk_text(admin.cmd("CLIENT", "LIST")) else None


def test_config_set_maxclients_refuses_new_connections(server, raw):
    admin = raw()
    info = bulk_text(admin.cmd("INFO", "clients")).decode()
    connected = int(info.split("connected_clients:")[1].split("\r\n")[0])
    assert admin.cmd("CONFIG", "SET", "maxclients", str(connected)) == b"+OK\r\n"
    try:
        # Connections other tests left behind may still be closing: open new ones until one is refused.
        for _ in range(20):
            attempt = raw()
            if wait_until(lambda: accepted_or_refused(admin, attempt)) == "accepted":
                continue  # it now counts, so the next attempt is closer to the limit
            assert attempt.sock.recv(256) == b"-ERR max number of clients reached\r\n"
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
