"""Authentication: requirepass, AUTH, HELLO AUTH, -NOAUTH before authenticating, the default user switched off, users
given at start-up, with redis-py (RESP2 and RESP3) and redis-cli, as Redis 7.0 replies (checked with
KVNODE_TARGET=redis unless marked kvnode_only)."""

import pytest
import redis

from acl_support import Admin, log_entries, parse, redis_cli, sha256, user_args
from conftest import Raw, start_server

NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
HELLO_NOAUTH = (b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH "
                b"<user> <pass> option can be used to authenticate the client and select the RESP protocol version "
                b"at the same time\r\n")
NO_PASSWORD = (b"-ERR AUTH <password> called without any password configured for the default user. Are you sure "
               b"your configuration is correct?\r\n")


@pytest.fixture
def admin(server):
    admin = Admin(server)
    yield admin
    admin.restore()


@pytest.fixture
def password(admin):
    """requirepass for one test; the admin connection stays authenticated and takes it away afterwards."""
    assert admin.cmd("CONFIG", "SET", "requirepass", "s3cret") == b"+OK\r\n"
    yield "s3cret"
    assert admin.cmd("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"


# --- -NOAUTH ----------------------------------------------------------------------------------------------------

def test_commands_need_authentication(password, raw):
    c = raw()
    assert c.cmd("PING") == NOAUTH
    assert c.cmd("GET", "k") == NOAUTH
    assert c.cmd("ACL", "WHOAMI") == NOAUTH
    assert c.cmd("MULTI") == NOAUTH
    assert c.cmd("DISCARD") == NOAUTH
    assert c.cmd("EXEC") == b"-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n"
    # The command and its arity are checked first.
    assert c.cmd("NOSUCH", "x") == b"-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"
    assert c.cmd("GET") == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert c.cmd("CLIENT", "NOSUCH") == b"-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n"
    # AUTH, HELLO, RESET and QUIT run before authenticating (their `no_auth` flag).
    assert c.cmd("RESET") == b"+RESET\r\n"
    assert c.cmd("HELLO", "3") == HELLO_NOAUTH
    assert c.cmd("QUIT") == b"+OK\r\n"
    assert c.read_until_closed() == b""


def test_auth_with_a_password(password, raw):
    c = raw()
    assert c.cmd("AUTH", "wrong") == WRONGPASS
    assert c.cmd("AUTH", "default", "wrong") == WRONGPASS
    assert c.cmd("GET", "k") == NOAUTH
    assert c.cmd("AUTH", password) == b"+OK\r\n"
    assert c.cmd("ACL", "WHOAMI") == b"$7\r\ndefault\r\n"
    assert c.cmd("SET", "k", "v") == b"+OK\r\n"
    d = raw()
    assert d.cmd("AUTH", "default", password) == b"+OK\r\n"
    assert d.cmd("GET", "k") == b"$1\r\nv\r\n"


def test_auth_errors(admin, raw):
    c = raw()
    assert c.cmd("AUTH", "anything") == NO_PASSWORD
    assert c.cmd("AUTH", "a", "b", "c") == b"-ERR syntax error\r\n"
    assert c.cmd("AUTH") == b"-ERR wrong number of arguments for 'auth' command\r\n"
    assert c.cmd("AUTH", "nobody", "x") == WRONGPASS
    # A user with nopass opens with any password; default has nopass here.
    assert c.cmd("AUTH", "default", "any") == b"+OK\r\n"


def test_connections_keep_their_authentication(admin, raw):
    before = raw()
    # A round trip first: the server sets a connection up once it accepts it, which can come after the next line.
    assert before.cmd("PING") == b"+PONG\r\n"
    assert admin.cmd("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"
    assert before.cmd("PING") == b"+PONG\r\n", "a connection made while no password was needed stays authenticated"
    after = raw()
    assert after.cmd("PING") == NOAUTH
    assert admin.cmd("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
    # Without a password nothing needs authentication, but HELLO still asks the connection to have authenticated
    # (Redis 7.0 tests the connection's own flag there).
    assert after.cmd("GET", "k") == b"$-1\r\n"
    assert after.cmd("ACL", "WHOAMI") == b"$7\r\ndefault\r\n"
    assert after.cmd("HELLO", "2") == HELLO_NOAUTH


def test_reset_forgets_authentication(password, raw):
    c = raw()
    assert c.cmd("AUTH", password) == b"+OK\r\n"
    assert c.cmd("RESET") == b"+RESET\r\n"
    assert c.cmd("PING") == NOAUTH


def test_default_user_switched_off(admin, raw):
    assert admin.cmd("ACL", "SETUSER", "default", "off") == b"+OK\r\n"
    c = raw()
    assert c.cmd("PING") == NOAUTH
    assert c.cmd("AUTH", "x") == NO_PASSWORD, "default still has nopass"
    assert c.cmd("AUTH", "default", "x") == WRONGPASS, "but is off"
    assert admin.cmd("PING") == b"+PONG\r\n", "an authenticated connection of a disabled user goes on (Redis 7.0)"


# --- HELLO ------------------------------------------------------------------------------------------------------

def test_hello_authenticates(password, raw):
    c = raw()
    assert c.cmd("HELLO") == HELLO_NOAUTH
    assert c.cmd("HELLO", "3", "SETNAME", "n") == HELLO_NOAUTH
    assert c.cmd("HELLO", "3", "AUTH", "default", "nope") == WRONGPASS
    assert c.cmd("HELLO", "4", "AUTH", "default", password) == b"-NOPROTO unsupported protocol version\r\n"
    assert c.cmd("HELLO", "3", "AUTH", "default") == b"-ERR Syntax error in HELLO option 'AUTH'\r\n"
    reply = parse(c.cmd("HELLO", "3", "AUTH", "default", password, "SETNAME", "n1"))
    assert reply["proto"] == 3 and reply["server"] == b"redis"
    assert c.cmd("CLIENT", "GETNAME") == b"$2\r\nn1\r\n"
    assert c.cmd("ACL", "WHOAMI") == b"$7\r\ndefault\r\n"


def test_hello_2_auth_and_setname_checked_first(password, raw):
    c = raw()
    # The name is checked while reading the options, before authenticating: nothing happens.
    assert c.cmd("HELLO", "2", "SETNAME", "bad name", "AUTH", "default", password) == \
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    assert c.cmd("PING") == NOAUTH
    reply = parse(c.cmd("HELLO", "2", "AUTH", "default", password))
    assert isinstance(reply, list) and len(reply) == 14 and reply[reply.index(b"proto") + 1] == 2


# --- ACL LOG of failed authentication ---------------------------------------------------------------------------

def test_failed_authentication_is_logged(password, admin, raw):
    c = raw()
    c.cmd("AUTH", "wrong")
    c.cmd("AuTh", "someone", "wrong")
    c.cmd("HELLO", "3", "AUTH", "default", "nope")
    entries = log_entries(admin)
    assert [(e["reason"], e["object"], e["username"], e["context"], e["count"]) for e in entries] == [
        (b"auth", b"HELLO", b"default", b"toplevel", 1),
        (b"auth", b"AuTh", b"someone", b"toplevel", 1),
        (b"auth", b"AUTH", b"default", b"toplevel", 1),
    ]
    assert set(entries[0]) == {"count", "reason", "context", "object", "username", "age-seconds", "client-info"}
    assert float(entries[0]["age-seconds"]) >= 0
    assert b"cmd=hello" in entries[0]["client-info"] and b" user=default " in entries[0]["client-info"]
    c.cmd("AUTH", "wrong")
    entries = log_entries(admin)
    assert len(entries) == 3 and entries[0]["object"] == b"AUTH" and entries[0]["count"] == 2, \
        "the same refusal within a minute is counted in its entry, which moves to the front"


def test_auth_inside_multi_is_queued(password, admin, raw):
    c = raw()
    assert c.cmd("AUTH", password) == b"+OK\r\n"
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("AUTH", "nope") == b"+QUEUED\r\n"
    assert c.cmd("EXEC") == b"*1\r\n" + WRONGPASS
    entry = log_entries(admin)[0]
    assert entry["reason"] == b"auth" and entry["context"] == b"multi"


# --- Clients ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py(password, server, protocol):
    with redis.Redis(host=server.host, port=server.port, protocol=protocol, password=password) as c:
        assert c.ping() is True
        c.set("k", "v")
        assert c.get("k") == b"v"
        assert c.acl_whoami() in ("default", b"default")
    with redis.Redis(host=server.host, port=server.port, protocol=protocol, username="default",
                     password=password) as c:
        assert c.get("k") == b"v"
    with redis.Redis(host=server.host, port=server.port, protocol=protocol, password="wrong") as c:
        with pytest.raises(redis.AuthenticationError):
            c.ping()
    with redis.Redis(host=server.host, port=server.port, protocol=protocol) as c:
        with pytest.raises(redis.AuthenticationError):
            c.ping()


def test_redis_cli(password, server):
    assert redis_cli(server, "-a", password, "--no-auth-warning", "PING").stdout == "PONG\n"
    assert redis_cli(server, "--user", "default", "--pass", password, "--no-auth-warning", "PING").stdout == "PONG\n"
    hello = redis_cli(server, "-a", password, "--no-auth-warning", "-3", "HELLO", "3").stdout
    assert "proto\n3\n" in hello or "proto 3" in hello
    wrong = redis_cli(server, "-a", "wrong", "--no-auth-warning", "PING")
    assert "AUTH failed: WRONGPASS invalid username-password pair or user is disabled." in wrong.stderr
    assert wrong.stdout.strip() == "NOAUTH Authentication required."
    assert redis_cli(server, "PING").stdout.strip() == "NOAUTH Authentication required."


# --- Start-up -----------------------------------------------------------------------------------------------------

def test_requirepass_at_start_up():
    with start_server("--requirepass", "boot") as srv:
        with Raw(srv.host, srv.port) as c:
            assert c.cmd("PING") == NOAUTH
            assert c.cmd("AUTH", "boot") == b"+OK\r\n"
            assert c.cmd("ACL", "GETUSER", "default").count(sha256("boot").encode()) == 1


@pytest.mark.kvnode_only
def test_requirepass_is_kept_only_as_a_hash():
    """Redis returns requirepass in clear text from CONFIG GET; kvnode never keeps it, and shows the hash."""
    with start_server("--requirepass", "boot") as srv:
        with Raw(srv.host, srv.port) as c:
            c.cmd("AUTH", "boot")
            assert parse(c.cmd("CONFIG", "GET", "requirepass")) == [b"requirepass", b"#" + sha256("boot").encode()]
            assert c.cmd("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
            assert parse(c.cmd("CONFIG", "GET", "requirepass")) == [b"requirepass", b""]
        log = open(srv.log_path, "rb").read()
        assert b"boot" not in log


def test_users_given_at_start_up():
    args = user_args("alice on >pw ~app:* +@read") + user_args("default on >dpw ~* &* +@all")
    with start_server(*args) as srv:
        with Raw(srv.host, srv.port) as c:
            assert c.cmd("PING") == NOAUTH
            assert c.cmd("AUTH", "alice", "pw") == b"+OK\r\n"
            assert c.cmd("GET", "app:1") == b"$-1\r\n"
            assert c.cmd("GET", "other") == \
                b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n"
            assert c.cmd("AUTH", "dpw") == b"+OK\r\n"
            assert parse(c.cmd("ACL", "LIST")) == [
                b"user alice on #" + sha256("pw").encode() + b" ~app:* resetchannels -@all +@read",
                # A default user defined at start-up is reset first, which sets sanitize-payload.
                b"user default on sanitize-payload #" + sha256("dpw").encode() + b" ~* &* +@all",
            ]


def test_bad_user_definition_stops_start_up():
    with pytest.raises(RuntimeError) as failure:
        with start_server(*user_args("bob on +nosuch")):
            pass
    assert "Error loading ACL rule '+nosuch' for the user named 'bob': Unknown command or category name in ACL" \
        in str(failure.value)


def test_users_and_acl_file_cannot_be_combined(tmp_path):
    acl = tmp_path / "users.acl"
    acl.write_text("")
    with pytest.raises(RuntimeError) as failure:
        with start_server("--aclfile", str(acl), *user_args("bob on")):
            pass
    assert "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is invalid." \
        in str(failure.value)


def test_missing_acl_file_stops_start_up(tmp_path):
    missing = tmp_path / "missing.acl"
    with pytest.raises(RuntimeError) as failure:
        with start_server("--aclfile", str(missing)):
            pass
    assert f"Aborting Redis startup because of ACL errors: Error loading ACLs, opening file '{missing}': " \
        "No such file or directory" in str(failure.value)

