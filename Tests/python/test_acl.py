"""ACL users and permissions: every ACL subcommand, the rule language, -NOPERM for commands, keys and channels (inside
MULTI too), the ACL log, the ACL file, users changed or deleted while connected, CLIENT LIST / KILL by user, with
redis-py and redis-cli; kvnode's pattern commands (PDEL, KEYS WITHVALUES, KV.*) are kvnode_only. Checked against
Redis 7.0 with KVNODE_TARGET=redis unless marked kvnode_only."""

import re

import pytest
import redis

from acl_support import Admin, log_entries, pairs, parse, redis_cli, sha256
from conftest import Raw, start_server

NOPERM_KEY = b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
NOPERM_CHANNEL = b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n"


def noperm_command(name: str) -> bytes:
    return f"-NOPERM this user has no permissions to run the '{name}' command\r\n".encode()


@pytest.fixture(scope="module")
def acl_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("acl") / "users.acl"
    path.write_text("")
    return path


@pytest.fixture(scope="module")
def server(acl_file):
    """This module's server keeps its users in an ACL file."""
    with start_server("--aclfile", str(acl_file)) as srv:
        yield srv


@pytest.fixture
def admin(server):
    admin = Admin(server)
    yield admin
    admin.restore()


def connect_as(server, user: str, password: str = "pw", protocol: int = 2) -> Raw:
    c = Raw(server.host, server.port)
    if protocol == 3:
        assert c.cmd("HELLO", "3", "AUTH", user, password)[:1] == b"%"
    else:
        assert c.cmd("AUTH", user, password) == b"+OK\r\n"
    return c


# --- SETUSER, GETUSER, LIST, USERS, WHOAMI, DELUSER ---------------------------------------------------------------

def test_setuser_and_getuser(admin):
    assert admin.cmd("ACL", "SETUSER", "alice", "on", ">pw1", ">pw2", "~foo:*", "%R~bar*", "%W~baz", "&chan*",
                     "-@all", "+@string", "+client|list") == b"+OK\r\n"
    assert parse(admin.cmd("ACL", "GETUSER", "alice")) == [
        b"flags", [b"on"],
        b"passwords", [sha256("pw1").encode(), sha256("pw2").encode()],
        b"commands", b"-@all +@string +client|list",
        b"keys", b"~foo:* %R~bar* %W~baz",
        b"channels", b"&chan*",
        b"selectors", [],
    ]
    assert admin.cmd("ACL", "GETUSER", "nobody") == b"$-1\r\n"
    # A new user without rules: off, no password, nothing allowed, no channels (acl-pubsub-default resetchannels).
    assert admin.cmd("ACL", "SETUSER", "bob") == b"+OK\r\n"
    assert parse(admin.cmd("ACL", "GETUSER", "bob")) == [
        b"flags", [b"off"], b"passwords", [], b"commands", b"-@all", b"keys", b"", b"channels", b"",
        b"selectors", [],
    ]
    assert parse(admin.cmd("ACL", "USERS")) == [b"alice", b"bob", b"default"]
    assert parse(admin.cmd("ACL", "LIST")) == [
        b"user alice on #" + sha256("pw1").encode() + b" #" + sha256("pw2").encode()
        + b" ~foo:* %R~bar* %W~baz resetchannels &chan* -@all +@string +client|list",
        b"user bob off resetchannels -@all",
        b"user default on nopass ~* &* +@all",
    ]


def test_getuser_resp3(admin, server):
    admin.cmd("ACL", "SETUSER", "carol", "on", "nopass", "~k*", "+get", "(~x* +set)")
    c = Raw(server.host, server.port)
    c.cmd("HELLO", "3")
    reply = c.cmd("ACL", "GETUSER", "carol")
    assert reply.startswith(b"%6\r\n$5\r\nflags\r\n~2\r\n"), "a map, with the flags as a set"
    assert parse(reply) == {
        "flags": {b"on", b"nopass"}, "passwords": [], "commands": b"-@all +get", "keys": b"~k*", "channels": b"",
        "selectors": [{"commands": b"-@all +set", "keys": b"~x*", "channels": b""}],
    }
    assert c.cmd("ACL", "GETUSER", "nobody") == b"_\r\n"
    c.close()


def test_rules_are_applied_and_described_as_redis(admin):
    def describe(*rules):
        admin.cmd("ACL", "DELUSER", "u")
        assert admin.cmd("ACL", "SETUSER", "u", *rules) == b"+OK\r\n"
        return parse(admin.cmd("ACL", "LIST"))[1].decode().removeprefix("user u ")

    assert describe("on", "nopass", "allkeys", "allchannels", "allcommands") == "on nopass ~* &* +@all"
    assert describe("+@all", "-flushall") == "off resetchannels +@all -flushall"
    assert describe("allcommands", "-get", "+get") == "off resetchannels +@all"
    assert describe("+get", "+@string") == "off resetchannels -@all +@string"
    assert describe("-@all", "+client", "-client|kill") == "off resetchannels -@all +client -client|kill"
    assert describe("%RW~x", "%R~y", "%W~y", "~z", "%R~z") == "off ~x ~y ~z resetchannels -@all"
    assert describe(">a", ">a", "#" + "0" * 64, "!" + "0" * 64) == f"off #{sha256('a')} resetchannels -@all"
    assert describe("nopass", ">a", "<a") == "off resetchannels -@all"
    assert describe(">a", "nopass") == "off nopass resetchannels -@all"
    assert describe("on", ">a", "~k", "+get", "reset") == "off sanitize-payload resetchannels -@all"
    assert describe("skip-sanitize-payload") == "off skip-sanitize-payload resetchannels -@all"
    assert describe("(~a* +get)", "(%R~b", "+@read)") == \
        "off resetchannels -@all (~a* resetchannels -@all +get) (%R~b resetchannels -@all +@read)"
    assert describe("(~a +get)", "clearselectors") == "off resetchannels -@all"
    assert describe("~a", "allkeys", "&x", "allchannels") == "off ~* &* -@all"


def test_setuser_errors(admin):
    def error(*rules):
        return admin.cmd("ACL", "SETUSER", "u", *rules)

    def modifier(rule, message):
        return f"-ERR Error in ACL SETUSER modifier '{rule}': {message}\r\n".encode()

    assert error("foo") == modifier("foo", "Syntax error")
    assert error("+nosuch") == modifier("+nosuch", "Unknown command or category name in ACL")
    assert error("+@nosuch") == modifier("+@nosuch", "Unknown command or category name in ACL")
    assert error("+client|list|x") == modifier("+client|list|x", "Allowing first-arg of a subcommand is not supported")
    assert error("+client|") == modifier("+client|", "Syntax error")
    assert error("#abc") == modifier("#abc", "The password hash must be exactly 64 characters and contain only "
                                             "lowercase hexadecimal characters")
    assert error("<nothere") == modifier("<nothere", "The password you are trying to remove from the user does not exist")
    assert error("~*", "~foo") == modifier("~foo", "Adding a pattern after the * pattern (or the 'allkeys' flag) is not "
                                                   "valid and does not have any effect. Try 'resetkeys' to start with an "
                                                   "empty list of patterns")
    assert error("&*", "&foo") == modifier("&foo", "Adding a pattern after the * pattern (or the 'allchannels' flag) is "
                                                   "not valid and does not have any effect. Try 'resetchannels' to start "
                                                   "with an empty list of channels")
    assert error("%X~a") == modifier("%X~a", "Syntax error")
    assert error("(~a*") == b"-ERR Unmatched parenthesis in acl selector starting at '(~a*'.\r\n"
    assert admin.cmd("ACL", "SETUSER", "a b") == b"-ERR Usernames can't contain spaces or null characters\r\n"
    assert admin.cmd("ACL", "GETUSER", "u") == b"$-1\r\n", "a refused SETUSER changes nothing"
    admin.cmd("ACL", "SETUSER", "u", "on", "+get")
    assert error("+set", "+nosuch") == modifier("+nosuch", "Unknown command or category name in ACL")
    assert parse(admin.cmd("ACL", "GETUSER", "u"))[5] == b"-@all +get", "all or nothing"


def test_deluser(admin):
    admin.cmd("ACL", "SETUSER", "a")
    admin.cmd("ACL", "SETUSER", "b")
    assert admin.cmd("ACL", "DELUSER", "a", "nobody", "b") == b":2\r\n"
    assert admin.cmd("ACL", "DELUSER", "a", "default") == b"-ERR The 'default' user cannot be removed\r\n"
    assert parse(admin.cmd("ACL", "USERS")) == [b"default"]


def test_whoami_and_client_list_user(admin, server):
    admin.cmd("ACL", "SETUSER", "dave", "on", ">pw", "+@all", "~*")
    c = connect_as(server, "dave")
    assert c.cmd("ACL", "WHOAMI") == b"$4\r\ndave\r\n"
    info = parse(c.cmd("CLIENT", "INFO")).decode()
    assert " user=dave " in info
    listing = parse(admin.cmd("CLIENT", "LIST")).decode()
    assert sum(" user=dave " in line for line in listing.splitlines()) == 1
    assert admin.cmd("CLIENT", "KILL", "USER", "nobody") == b"-ERR No such user 'nobody'\r\n"
    assert admin.cmd("CLIENT", "KILL", "USER", "dave") == b":1\r\n"
    assert c.read_until_closed() == b""
    assert admin.cmd("PING") == b"+PONG\r\n"


# --- CAT, GENPASS, HELP, DRYRUN -------------------------------------------------------------------------------------

def test_cat(admin):
    assert parse(admin.cmd("ACL", "CAT")) == [
        b"keyspace", b"read", b"write", b"set", b"sortedset", b"list", b"hash", b"string", b"bitmap", b"hyperloglog",
        b"geo", b"stream", b"pubsub", b"admin", b"fast", b"slow", b"blocking", b"dangerous", b"connection",
        b"transaction", b"scripting"]
    string = set(parse(admin.cmd("ACL", "CAT", "STRING")))
    assert {b"get", b"set", b"mget", b"append", b"incr"} <= string and b"del" not in string
    assert b"client|kill" in set(parse(admin.cmd("ACL", "CAT", "admin")))
    assert admin.cmd("ACL", "CAT", "nope") == b"-ERR Unknown category 'nope'\r\n"
    assert admin.cmd("ACL", "CAT", "a", "b") == \
        b"-ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.\r\n"


def test_genpass(admin):
    password = parse(admin.cmd("ACL", "GENPASS"))
    assert re.fullmatch(rb"[0-9a-f]{64}", password)
    assert password != parse(admin.cmd("ACL", "GENPASS"))
    assert len(parse(admin.cmd("ACL", "GENPASS", "5"))) == 2
    assert len(parse(admin.cmd("ACL", "GENPASS", "4096"))) == 1024
    too_many = (b"-ERR ACL GENPASS argument must be the number of bits for the output password, a positive number "
                b"up to 4096\r\n")
    assert admin.cmd("ACL", "GENPASS", "0") == too_many
    assert admin.cmd("ACL", "GENPASS", "4097") == too_many
    assert admin.cmd("ACL", "GENPASS", "x") == b"-ERR value is not an integer or out of range\r\n"


def test_help(admin):
    lines = parse(admin.cmd("ACL", "HELP"))
    assert lines[0] == b"ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert b"DRYRUN <username> <command> [<arg> ...]" in lines and lines[-2:] == [b"HELP", b"    Prints this help."]


def test_dryrun(admin):
    admin.cmd("ACL", "SETUSER", "t", "on", "nopass", "~k*", "&ch", "+get", "+publish", "+client|setname")
    assert admin.cmd("ACL", "DRYRUN", "t", "get", "k1") == b"+OK\r\n"
    assert parse(admin.cmd("ACL", "DRYRUN", "t", "get", "x1")) == b"This user has no permissions to access the 'x1' key"
    assert parse(admin.cmd("ACL", "DRYRUN", "t", "set", "k1", "v")) == \
        b"This user has no permissions to run the 'set' command"
    assert parse(admin.cmd("ACL", "DRYRUN", "t", "client", "list")) == \
        b"This user has no permissions to run the 'client|list' command"
    assert admin.cmd("ACL", "DRYRUN", "t", "client", "setname", "x") == b"+OK\r\n"
    assert parse(admin.cmd("ACL", "DRYRUN", "t", "publish", "other", "m")) == \
        b"This user has no permissions to access the 'other' channel"
    assert admin.cmd("ACL", "DRYRUN", "nobody", "get", "k") == b"-ERR User 'nobody' not found\r\n"
    assert admin.cmd("ACL", "DRYRUN", "t", "nosuch", "k") == b"-ERR Command 'nosuch' not found\r\n"
    assert admin.cmd("ACL", "DRYRUN", "t", "client", "nosuch") == b"-ERR Command 'client' not found\r\n"
    assert admin.cmd("ACL", "DRYRUN", "t", "get") == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert log_entries(admin) == [], "a dry run logs nothing"


# --- -NOPERM --------------------------------------------------------------------------------------------------------

def test_command_key_and_channel_permissions(admin, server):
    admin.cmd("ACL", "SETUSER", "u", "on", ">pw", "~k*", "%R~r*", "%W~w*", "&ch*", "+@read", "+@write", "+multi",
              "+exec", "+subscribe", "+psubscribe", "+publish", "-flushdb", "+acl|whoami", "+client|list")
    admin.cmd("SET", "secret", "s")
    c = connect_as(server, "u")
    assert c.cmd("GET", "k1") == b"$-1\r\n"
    assert c.cmd("GET", "x1") == NOPERM_KEY
    assert c.cmd("SET", "r1", "v") == NOPERM_KEY
    assert c.cmd("GET", "r1") == b"$-1\r\n"
    assert c.cmd("SET", "w1", "v") == b"+OK\r\n"
    assert c.cmd("GET", "w1") == NOPERM_KEY, "%W~ does not grant reading"
    assert c.cmd("DEL", "w1") == b":1\r\n"
    assert c.cmd("MSET", "k1", "v", "w1", "x", "x1", "y") == NOPERM_KEY
    assert c.cmd("EXISTS", "x", "r1", "w1") == NOPERM_KEY
    assert c.cmd("FLUSHDB") == noperm_command("flushdb")
    assert c.cmd("ACL", "LIST") == noperm_command("acl|list")
    assert c.cmd("ACL", "WHOAMI") == b"$1\r\nu\r\n"
    assert c.cmd("CLIENT", "KILL", "ID", "1") == noperm_command("client|kill")
    assert c.cmd("KEYS", "*") == b"*1\r\n$6\r\nsecret\r\n", "KEYS needs no key permission (it returns names only)"
    assert c.cmd("PUBLISH", "ch1", "m") == b":0\r\n"
    assert c.cmd("PUBLISH", "other", "m") == NOPERM_CHANNEL
    assert c.cmd("SUBSCRIBE", "ch1", "zz") == NOPERM_CHANNEL
    assert c.cmd("PSUBSCRIBE", "ch1*") == NOPERM_CHANNEL, "a pattern must equal one of the user's"
    assert c.cmd("PSUBSCRIBE", "ch*") == b"*3\r\n$10\r\npsubscribe\r\n$3\r\nch*\r\n:1\r\n"
    # Access control comes before the RESP2 subscribed context.
    assert c.cmd("UNSUBSCRIBE") == noperm_command("unsubscribe")
    assert c.cmd("GET", "x1") == NOPERM_KEY
    assert c.cmd("GET", "k1") == \
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this " \
        b"context\r\n"
    c.close()


def test_denials_are_logged(admin, server):
    admin.cmd("ACL", "SETUSER", "u", "on", ">pw", "~k*", "&ch", "+get", "+publish")
    c = connect_as(server, "u")
    c.cmd("GET", "x1")
    c.cmd("GET", "x1")
    c.cmd("SET", "k", "v")
    c.cmd("PUBLISH", "nope", "m")
    entries = log_entries(admin)
    assert [(e["reason"], e["object"], e["context"], e["username"], e["count"]) for e in entries] == [
        (b"channel", b"nope", b"toplevel", b"u", 1),
        (b"command", b"set", b"toplevel", b"u", 1),
        (b"key", b"x1", b"toplevel", b"u", 2),
    ]
    assert b"cmd=publish" in entries[0]["client-info"] and b" user=u " in entries[0]["client-info"]
    assert [pairs(e)["object"] for e in parse(admin.cmd("ACL", "LOG", "1"))] == [b"nope"]
    assert parse(admin.cmd("ACL", "LOG", "-1")) == []
    assert admin.cmd("ACL", "LOG", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert admin.cmd("ACL", "LOG", "2", "3") == \
        b"-ERR unknown subcommand or wrong number of arguments for 'LOG'. Try ACL HELP.\r\n"
    resp3 = Raw(server.host, server.port)
    resp3.cmd("HELLO", "3")
    entry = parse(resp3.cmd("ACL", "LOG", "1"))[0]
    assert isinstance(entry["age-seconds"], float) and entry["age-seconds"] >= 0, "age-seconds is a RESP3 double"
    resp3.close()
    assert admin.cmd("ACL", "LOG", "RESET") == b"+OK\r\n"
    assert parse(admin.cmd("ACL", "LOG")) == []
    c.close()


def test_log_keeps_acllog_max_len_entries(admin, server):
    admin.cmd("ACL", "SETUSER", "u", "on", ">pw", "+get")
    admin.cmd("CONFIG", "SET", "acllog-max-len", "3")
    try:
        c = connect_as(server, "u")
        for key in ["a", "b", "c", "d", "e"]:
            c.cmd("GET", key)
        assert [e["object"] for e in log_entries(admin)] == [b"e", b"d", b"c"]
        c.close()
    finally:
        admin.cmd("CONFIG", "SET", "acllog-max-len", "128")


def test_selectors_allow_a_command_when_one_allows_all_of_it(admin, server):
    admin.cmd("ACL", "SETUSER", "s", "on", ">pw", "(~a* +get)", "(~b* +set)")
    c = connect_as(server, "s")
    assert c.cmd("GET", "a1") == b"$-1\r\n"
    assert c.cmd("SET", "b1", "v") == b"+OK\r\n"
    # GET only with a* keys, SET only with b* keys; a key refusal outranks a command refusal.
    assert c.cmd("GET", "b1") == NOPERM_KEY
    assert c.cmd("SET", "a1", "v") == NOPERM_KEY
    assert c.cmd("DEL", "a1") == noperm_command("del")
    c.close()


def test_subcommand_rules(admin, server):
    admin.cmd("ACL", "SETUSER", "f", "on", ">pw", "~*", "+client|getname", "+config|get")
    c = connect_as(server, "f")
    assert c.cmd("CLIENT", "GETNAME") == b"$-1\r\n"
    assert c.cmd("CLIENT", "ID") == noperm_command("client|id")
    assert c.cmd("CONFIG", "GET", "maxclients")[:1] == b"*"
    assert c.cmd("CONFIG", "SET", "maxclients", "10") == noperm_command("config|set")
    c.close()


# --- MULTI / EXEC ---------------------------------------------------------------------------------------------------

def test_denials_inside_multi(admin, server):
    admin.cmd("ACL", "SETUSER", "m", "on", ">pw", "~k*", "+@all", "-flushdb")
    c = connect_as(server, "m")
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("SET", "k1", "v") == b"+QUEUED\r\n"
    assert c.cmd("GET", "x1") == NOPERM_KEY, "checked when queued"
    assert c.cmd("FLUSHDB") == noperm_command("flushdb")
    assert c.cmd("EXEC") == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    assert [(e["reason"], e["context"]) for e in log_entries(admin)] == [(b"command", b"multi"), (b"key", b"multi")]
    assert c.cmd("GET", "k1") == b"$-1\r\n"
    c.close()


def test_exec_checks_queued_commands_again(admin, server):
    admin.cmd("ACL", "SETUSER", "m", "on", ">pw", "~k*", "+@all")
    c = connect_as(server, "m")
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("SET", "k1", "v") == b"+QUEUED\r\n"
    assert c.cmd("SET", "k2", "v") == b"+QUEUED\r\n"
    assert c.cmd("GET", "k1") == b"+QUEUED\r\n"
    admin.cmd("ACL", "SETUSER", "m", "resetkeys", "~k1", "-get")
    changed = b"-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. " \
              b"This command is no longer allowed for the following reason: "
    assert c.cmd("EXEC") == (b"*3\r\n+OK\r\n" + changed + b"no permission to touch the specified keys\r\n"
                             + changed + b"no permission to execute the command or subcommand\r\n")
    entries = log_entries(admin)
    assert [(e["reason"], e["object"], e["context"]) for e in entries] == [
        (b"command", b"get", b"multi"), (b"key", b"k2", b"multi")]
    assert c.cmd("GET", "k1") == noperm_command("get")
    c.close()


# --- Users changed or deleted while connected -------------------------------------------------------------------------

def test_changed_rules_apply_to_the_next_command(admin, server):
    admin.cmd("ACL", "SETUSER", "c", "on", ">pw", "~*", "+@all")
    c = connect_as(server, "c")
    assert c.cmd("SET", "k", "v") == b"+OK\r\n"
    admin.cmd("ACL", "SETUSER", "c", "-set")
    assert c.cmd("SET", "k", "v") == noperm_command("set")
    admin.cmd("ACL", "SETUSER", "c", "+set", "resetkeys", "~other")
    assert c.cmd("SET", "k", "v") == NOPERM_KEY
    # Switching the user off keeps its connections (Redis 7.0); it can no longer authenticate.
    admin.cmd("ACL", "SETUSER", "c", "off", "~*")
    assert c.cmd("GET", "k") == b"$1\r\nv\r\n"
    assert c.cmd("AUTH", "c", "pw") == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    c.close()


def test_deleting_a_user_closes_its_connections(admin, server):
    admin.cmd("ACL", "SETUSER", "d", "on", ">pw", "~*", "+@all")
    first, second = connect_as(server, "d"), connect_as(server, "d", protocol=3)
    assert admin.cmd("ACL", "DELUSER", "d") == b":1\r\n"
    assert first.read_until_closed() == b""
    assert second.read_until_closed() == b""
    assert admin.cmd("PING") == b"+PONG\r\n"
    # A connection deleting its own user gets the reply, then is closed.
    admin.cmd("ACL", "SETUSER", "self", "on", ">pw", "~*", "+@all")
    me = connect_as(server, "self")
    me.send(b"*3\r\n$3\r\nACL\r\n$7\r\nDELUSER\r\n$4\r\nself\r\n*1\r\n$4\r\nPING\r\n")
    assert me.read_until_closed() == b":1\r\n"


def test_losing_channel_permissions_closes_subscribers(admin, server):
    admin.cmd("ACL", "SETUSER", "ps", "on", ">pw", "~*", "+@all", "resetchannels", "&news*")
    plain, pattern, other = (connect_as(server, "ps") for _ in range(3))
    assert plain.cmd("SUBSCRIBE", "news1")[:1] == b"*"
    assert pattern.cmd("PSUBSCRIBE", "news*")[:1] == b"*"
    assert other.cmd("SUBSCRIBE", "news2")[:1] == b"*"
    admin.cmd("ACL", "SETUSER", "ps", "&extra")
    assert plain.cmd("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n", "still allowed: nobody is closed"
    admin.cmd("ACL", "SETUSER", "ps", "resetchannels", "&news1")
    assert pattern.read_until_closed() == b"", "news* is no longer one of its patterns"
    assert other.read_until_closed() == b""
    assert plain.cmd("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    plain.close()


def test_shard_channels_need_permission(admin, server):
    admin.cmd("ACL", "SETUSER", "sh", "on", ">pw", "+@pubsub", "resetchannels", "&orders:*")
    c = connect_as(server, "sh")
    assert c.cmd("SPUBLISH", "orders:1", "m") == b":0\r\n"
    assert c.cmd("SPUBLISH", "other", "m") == NOPERM_CHANNEL
    assert c.cmd("SSUBSCRIBE", "orders:1", "other") == NOPERM_CHANNEL
    assert c.cmd("SSUBSCRIBE", "orders:1") == b"*3\r\n$10\r\nssubscribe\r\n$8\r\norders:1\r\n:1\r\n"
    c.close()


def test_keyspace_notification_channels_need_permission():
    with start_server("--notify-keyspace-events", "KEA") as srv:
        admin = Admin(srv)
        try:
            admin.cmd("ACL", "SETUSER", "n", "on", ">pw", "~*", "+@all", "resetchannels", "&__keyevent@0__:*")
            c = connect_as(srv, "n")
            assert c.cmd("PSUBSCRIBE", "__keyspace@0__:*") == NOPERM_CHANNEL
            assert c.cmd("SUBSCRIBE", "__keyspace@0__:k") == NOPERM_CHANNEL
            assert c.cmd("PSUBSCRIBE", "__keyevent@0__:*")[:1] == b"*"
            admin.cmd("SET", "k", "v")
            assert parse(c.reply()) == [b"pmessage", b"__keyevent@0__:*", b"__keyevent@0__:set", b"k"]
            c.close()
        finally:
            admin.restore()


def test_acl_pubsub_default(admin):
    admin.cmd("CONFIG", "SET", "acl-pubsub-default", "allchannels")
    admin.cmd("ACL", "SETUSER", "p")
    assert parse(admin.cmd("ACL", "GETUSER", "p"))[9] == b"&*"
    assert parse(admin.cmd("CONFIG", "GET", "acl-pubsub-default")) == [b"acl-pubsub-default", b"allchannels"]
    admin.cmd("CONFIG", "SET", "acl-pubsub-default", "resetchannels")
    admin.cmd("ACL", "SETUSER", "q")
    assert parse(admin.cmd("ACL", "GETUSER", "q"))[9] == b""


# --- The ACL file ---------------------------------------------------------------------------------------------------

def test_save_and_load(admin, server, acl_file):
    admin.cmd("ACL", "SETUSER", "alice", "on", ">pw", "~app:*", "+@read", "(~x +set)")
    admin.cmd("ACL", "SETUSER", "bob", "off")
    assert admin.cmd("ACL", "SAVE") == b"+OK\r\n"
    assert acl_file.read_text() == (
        f"user alice on #{sha256('pw')} ~app:* resetchannels -@all +@read (~x resetchannels -@all +set)\n"
        "user bob off resetchannels -@all\n"
        "user default on nopass ~* &* +@all\n")
    assert "pw" not in acl_file.read_text().replace(sha256("pw"), ""), "no password in clear"
    c = connect_as(server, "alice")
    admin.cmd("ACL", "SETUSER", "carol", "on")
    acl_file.write_text(f"user alice on #{sha256('pw')} ~app:* +get\n  \t \nuser default on nopass ~* &* +@all\r\n")
    assert admin.cmd("ACL", "LOAD") == b"+OK\r\n"
    assert parse(admin.cmd("ACL", "USERS")) == [b"alice", b"default"]
    assert c.read_until_closed() == b"", "ACL LOAD closes the connections of every user but default (Redis 7.0)"
    assert admin.cmd("PING") == b"+PONG\r\n"
    # A file without the default user gives it a fresh server's rules.
    admin.cmd("ACL", "SETUSER", "default", "resetkeys", "~x")
    acl_file.write_text("user bob on >b\n")
    assert admin.cmd("ACL", "LOAD") == b"+OK\r\n"
    assert parse(admin.cmd("ACL", "LIST")) == [
        b"user bob on #" + sha256("b").encode() + b" resetchannels -@all", b"user default on nopass ~* &* +@all"]


def test_load_errors_change_nothing(admin, acl_file):
    admin.cmd("ACL", "SETUSER", "keep", "on")
    before = parse(admin.cmd("ACL", "LIST"))
    warning = "WARNING: ACL errors detected, no change to the previously active ACL rules was performed"
    cases = {
        "user b on nope\n": f"{acl_file}:1: Syntax error. ",
        "foo bar\n": f"{acl_file}:1 should start with user keyword followed by the username. ",
        "user a on\nuser a off\n": "WARNING: Duplicate user 'a' found on line 2. ",
        "user a on +nosuch\n": f"{acl_file}:1: Error in applying operation '+nosuch': Unknown command or category "
                               "name in ACL. ",
        "user a on >secret nope\n": f"{acl_file}:1: Syntax error. ",
    }
    for text, error in cases.items():
        acl_file.write_text(text)
        assert admin.cmd("ACL", "LOAD") == f"-ERR {error}{warning}\r\n".encode(), text
        assert parse(admin.cmd("ACL", "LIST")) == before
    acl_file.write_text("")


def test_save_and_load_need_an_acl_file():
    with start_server() as srv:
        with Raw(srv.host, srv.port) as c:
            error = (b"-ERR This Redis instance is not configured to use an ACL file. You may want to specify users "
                     b"via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis "
                     b"configuration file set) in order to store users in the Redis configuration.\r\n")
            assert c.cmd("ACL", "SAVE") == error
            assert c.cmd("ACL", "LOAD") == error
            assert parse(c.cmd("CONFIG", "GET", "aclfile")) == [b"aclfile", b""]


def test_acl_file_at_start_up(tmp_path):
    acl = tmp_path / "users.acl"
    acl.write_text(f"user app on #{sha256('pw')} ~app:* &* +@all\n")
    with start_server("--aclfile", str(acl)) as srv:
        with Raw(srv.host, srv.port) as c:
            assert c.cmd("AUTH", "app", "pw") == b"+OK\r\n"
            assert c.cmd("SET", "app:1", "v") == b"+OK\r\n"
            assert c.cmd("SET", "x", "v") == NOPERM_KEY
            assert parse(c.cmd("CONFIG", "GET", "aclfile")) == [b"aclfile", str(acl).encode()]
            assert c.cmd("CONFIG", "SET", "aclfile", "/tmp/x") == \
                b"-ERR CONFIG SET failed (possibly related to argument 'aclfile') - can't set immutable config\r\n"


# --- Clients --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_with_a_restricted_user(admin, server, protocol):
    admin.cmd("ACL", "SETUSER", "py", "on", ">pw", "~app:*", "+@read", "+@write", "+@connection")
    with redis.Redis(host=server.host, port=server.port, protocol=protocol, username="py", password="pw") as c:
        c.set("app:1", "v")
        assert c.get("app:1") == b"v"
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.get("other")
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.config_get("maxclients")
    with redis.Redis(host=server.host, port=server.port, protocol=protocol, username="py", password="no") as c:
        with pytest.raises(redis.AuthenticationError):
            c.ping()


def test_redis_cli_with_a_restricted_user(admin, server):
    admin.cmd("ACL", "SETUSER", "cli", "on", ">pw", "~app:*", "+@all")
    auth = ["--user", "cli", "--pass", "pw", "--no-auth-warning"]
    assert redis_cli(server, *auth, "SET", "app:1", "v").stdout == "OK\n"
    assert redis_cli(server, *auth, "GET", "other").stdout.strip() == \
        "NOPERM this user has no permissions to access one of the keys used as arguments"
    assert redis_cli(server, *auth, "ACL", "WHOAMI").stdout == "cli\n"


# --- kvnode's pattern commands and KV.* (kvnode_only) ---------------------------------------------------------------

@pytest.mark.kvnode_only
def test_pattern_commands_must_stay_inside_the_key_patterns(admin, server):
    admin.cmd("ACL", "SETUSER", "pat", "on", ">pw", "+@all", "~app:*", "%R~pub:*", "%W~tmp:*")
    admin.cmd("MSET", "app:1", "a", "pub:1", "p", "tmp:1", "t", "secret", "s")
    c = connect_as(server, "pat")
    # PDEL deletes: every key its pattern could match must be writable.
    assert c.cmd("PDEL", "*") == NOPERM_KEY
    assert c.cmd("PDEL", "pub:*") == NOPERM_KEY, "pub:* is read-only"
    assert c.cmd("PDEL", "app*") == NOPERM_KEY, "app* reaches beyond app:*"
    assert c.cmd("PDEL", "tmp:*") == b":1\r\n"
    assert c.cmd("PDEL", "app:[0-9]") == b":1\r\n"
    # KEYS names keys without reading them (as Redis's KEYS); WITHVALUES reads, so its pattern must be readable.
    assert parse(c.cmd("KEYS", "*")) == [b"pub:1", b"secret"]
    assert c.cmd("KEYS", "*", "WITHVALUES") == NOPERM_KEY
    assert c.cmd("KEYS", "p*", "WITHVALUES") == NOPERM_KEY
    assert parse(c.cmd("KEYS", "pub:*", "WITHVALUES")) == [b"pub:1", b"p"]
    assert parse(c.cmd("KEYS", "pub:*", "PIVOT", "a", "LIMIT", "5", "WITHVALUES")) == [b"pub:1", b"p"]
    # KV.* name their key like any command; KV.WATCH's prefix or pattern must be readable entirely.
    assert c.cmd("KV.GET", "secret") == NOPERM_KEY
    assert c.cmd("KV.SET", "pub:2", "v") == NOPERM_KEY
    assert c.cmd("KV.SET", "app:2", "v")[:1] == b":"
    assert c.cmd("KV.WATCH", "PREFIX", "") == NOPERM_KEY
    assert c.cmd("KV.WATCH", "PATTERN", "*") == NOPERM_KEY
    assert c.cmd("KV.WATCH", "KEY", "secret") == NOPERM_KEY
    assert c.cmd("KV.WATCH", "PREFIX", "pub:")[:1] == b"*", "a watch of a readable prefix starts"
    c.close()
    # Refusals of the same object within a minute share an entry, which moves to the front.
    entries = log_entries(admin)
    assert [(e["object"], e["count"]) for e in entries] == [
        (b"secret", 2), (b"*", 3), (b"", 1), (b"pub:2", 1), (b"p*", 1), (b"app*", 1), (b"pub:*", 1)]
    assert {e["reason"] for e in entries} == {b"key"}
    assert parse(admin.cmd("ACL", "DRYRUN", "pat", "PDEL", "app*")) == \
        b"This user has no permissions to access the 'app*' key"
    assert admin.cmd("ACL", "DRYRUN", "pat", "KEYS", "app:*", "WITHVALUES") == b"+OK\r\n"


@pytest.mark.kvnode_only
def test_pattern_commands_inside_multi(admin, server):
    admin.cmd("ACL", "SETUSER", "pm", "on", ">pw", "+@all", "~app:*")
    c = connect_as(server, "pm")
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("PDEL", "app:*") == b"+QUEUED\r\n"
    assert c.cmd("PDEL", "*") == NOPERM_KEY
    assert c.cmd("EXEC") == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    c.cmd("MULTI")
    c.cmd("PDEL", "app:*")
    c.cmd("KEYS", "app:*", "WITHVALUES")
    admin.cmd("ACL", "SETUSER", "pm", "resetkeys", "%R~app:*")
    changed = b"-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. " \
              b"This command is no longer allowed for the following reason: no permission to touch the specified keys"
    assert c.cmd("EXEC") == b"*2\r\n" + changed + b"\r\n*0\r\n"
    c.close()


@pytest.mark.kvnode_only
def test_losing_read_access_closes_a_watch(admin, server):
    """As a subscriber that loses its channels is closed, a KV.WATCH whose keys its user may no longer read all of
    is closed: it must not keep delivering their values."""
    admin.cmd("ACL", "SETUSER", "w", "on", ">pw", "+@all", "~app:*", "~other:*")
    watching, idle = connect_as(server, "w"), connect_as(server, "w")
    assert watching.cmd("KV.WATCH", "PREFIX", "app:")[:1] == b"*"
    admin.cmd("ACL", "SETUSER", "w", "resetkeys", "~app:x*", "~other:*")
    assert watching.read_until_closed() == b"", "app:y is outside app:x*"
    assert idle.cmd("PING") == b"+PONG\r\n", "connections without a watch stay"
    admin.cmd("ACL", "SETUSER", "w", "resetkeys", "~*")
    again = connect_as(server, "w")
    assert again.cmd("KV.WATCH", "PATTERN", "other:*")[:1] == b"*"
    assert admin.cmd("ACL", "SETUSER", "w", "resetkeys", "%R~other:*") == b"+OK\r\n"
    admin.cmd("SET", "other:1", "v")
    assert b"other:1" in again.reply(), "still allowed: the watch goes on"
    idle.close()
    again.close()


@pytest.mark.kvnode_only
def test_kvnode_commands_have_categories(admin, server):
    admin.cmd("ACL", "SETUSER", "kv", "on", ">pw", "~*", "+@read")
    c = connect_as(server, "kv")
    assert c.cmd("KV.GET", "k")[:1] != b"-"
    assert c.cmd("KV.SET", "k", "v") == noperm_command("kv.set")
    assert c.cmd("PDEL", "k*") == noperm_command("pdel")
    assert c.cmd("KEYS", "*", "WITHVALUES") == b"*0\r\n"
    c.close()
    assert b"kv.get" in set(parse(admin.cmd("ACL", "CAT", "read")))
    assert b"pdel" in set(parse(admin.cmd("ACL", "CAT", "dangerous")))
    admin.cmd("ACL", "SETUSER", "kv2", "+kv.get", "+pdel")
    assert parse(admin.cmd("ACL", "GETUSER", "kv2"))[5] == b"-@all +kv.get +pdel"
