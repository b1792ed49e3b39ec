"""Protected mode, as Redis 7.0: on by default; while the default user has no password, a connection from outside the
loopback interface gets the -DENIED text and is closed. The non-loopback peer is a network namespace joined to the
host by a veth pair on an address range the machine does not use (10.213.77.0/30), created by the test and removed
afterwards; without the privilege to create one (CAP_NET_ADMIN) those tests are skipped, and docs/security.md shows
the manual check with a server bound to a real interface. Checked against Redis 7.0 with KVNODE_TARGET=redis."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pytest

from acl_support import parse
from conftest import Raw, start_server

DENIED = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the "
    b"default user. In this mode connections are only accepted from the loopback interface. If you want to connect "
    b"from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode "
    b"sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    b"same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do "
    b"so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode "
    b"by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting "
    b"the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' "
    b"option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above "
    b"things in order for the server to start accepting connections from the outside.\r\n")

SUBNET = "10.213.77."
HOST_ADDRESS = SUBNET + "1"
PEER_ADDRESS = SUBNET + "2"


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


@pytest.fixture(scope="module")
def namespace():
    """A network namespace whose only way out is a veth pair to HOST_ADDRESS; removed afterwards."""
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command (iproute2) to create a network namespace")
    if os.geteuid() != 0:
        pytest.skip("creating a network namespace needs root (CAP_NET_ADMIN); see docs/security.md for the check "
                    "with a server bound to a non-loopback interface")
    used = run("ip", "-4", "addr").stdout + run("ip", "-4", "route").stdout
    if SUBNET in used:
        pytest.skip(f"{SUBNET}0/30 is in use on this machine; the test only uses an unused range")
    name = f"kvnode-pm-{os.getpid()}"
    host_link, peer_link = f"kvh{os.getpid() % 100000}", f"kvp{os.getpid() % 100000}"
    created_namespace = created_link = False
    try:
        step = run("ip", "netns", "add", name)
        if step.returncode != 0:
            pytest.skip(f"cannot create a network namespace ({step.stderr.strip()}): the machine forbids it "
                        "(CAP_NET_ADMIN); see docs/security.md")
        created_namespace = True
        for command in (
            ["ip", "link", "add", host_link, "type", "veth", "peer", "name", peer_link],
            ["ip", "link", "set", peer_link, "netns", name],
            ["ip", "addr", "add", HOST_ADDRESS + "/30", "dev", host_link],
            ["ip", "link", "set", host_link, "up"],
            ["ip", "netns", "exec", name, "ip", "addr", "add", PEER_ADDRESS + "/30", "dev", peer_link],
            ["ip", "netns", "exec", name, "ip", "link", "set", peer_link, "up"],
            ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
        ):
            step = run(*command)
            assert step.returncode == 0, f"{' '.join(command)}: {step.stderr}"
            if command[:3] == ["ip", "link", "add"]:
                created_link = True
        yield name
    finally:
        if created_link:
            run("ip", "link", "del", host_link)  # removes its peer too
        if created_namespace:
            run("ip", "netns", "del", name)
        assert name not in run("ip", "netns", "list").stdout


def from_namespace(namespace: str, port: int, request: bytes = b"") -> bytes:
    """Connects from inside the namespace (source PEER_ADDRESS), sends `request`, and returns everything the server
    sends until it closes the connection or stays silent for a moment after answering. A refused connection is
    read without sending anything: data the server never reads would make its close a reset."""
    script = textwrap.dedent(f"""
        import socket, sys
        s = socket.create_connection(({HOST_ADDRESS!r}, {port}), timeout=10)
        s.sendall({request!r})
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                out += b"<closed>"
                break
            out += chunk
            s.settimeout(1.0)
        sys.stdout.write(out.hex())
    """)
    result = subprocess.run(["ip", "netns", "exec", namespace, "python3", "-c", script],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return bytes.fromhex(result.stdout)


@pytest.fixture
def exposed(namespace):
    """A server listening on the loopback interface and on the veth address."""
    with start_server("--bind", f"127.0.0.1 {HOST_ADDRESS}") as srv:
        yield srv


def test_remote_connection_denied_without_password(exposed, namespace):
    assert from_namespace(namespace, exposed.port) == DENIED + b"<closed>"
    with Raw(exposed.host, exposed.port) as local:
        assert local.cmd("PING") == b"+PONG\r\n", "loopback connections are always accepted"
        stats = parse(local.cmd("INFO", "stats")).decode()
        assert "rejected_connections:1\r\n" in stats


def test_remote_connection_allowed_with_a_password(exposed, namespace):
    with Raw(exposed.host, exposed.port) as local:
        assert local.cmd("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"
        assert from_namespace(namespace, exposed.port, b"PING\r\nAUTH pw\r\nPING\r\n") == \
            b"-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n"
        # A password given to a user other than default does not lift protected mode: default is still nopass.
        assert local.cmd("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
        assert local.cmd("ACL", "SETUSER", "remote", "on", ">pw", "+@all", "~*") == b"+OK\r\n"
        assert from_namespace(namespace, exposed.port) == DENIED + b"<closed>"


def test_remote_connection_allowed_without_protected_mode(exposed, namespace):
    with Raw(exposed.host, exposed.port) as local:
        assert local.cmd("CONFIG", "SET", "protected-mode", "no") == b"+OK\r\n"
        assert from_namespace(namespace, exposed.port, b"PING\r\n") == b"+PONG\r\n"
        assert local.cmd("CONFIG", "SET", "protected-mode", "yes") == b"+OK\r\n"
        assert from_namespace(namespace, exposed.port) == DENIED + b"<closed>"


def test_protected_mode_off_at_start_up(namespace):
    with start_server("--bind", f"127.0.0.1 {HOST_ADDRESS}", "--protected-mode", "no") as srv:
        assert from_namespace(namespace, srv.port, b"PING\r\n") == b"+PONG\r\n"


@pytest.mark.kvnode_only  # Redis 7.0 lets any connection change protected-mode
@pytest.mark.parametrize("enabled", ["no", "local", "yes"])
def test_protected_mode_is_changed_only_from_a_local_connection(namespace, enabled):
    """kvnode guards protected-mode as a protected config: a remote connection may change it only with
    --enable-protected-configs yes; loopback connections always may (protected mode's refusal tells them to)."""
    with start_server("--bind", f"127.0.0.1 {HOST_ADDRESS}", "--protected-mode", "no",
                      "--enable-protected-configs", enabled) as srv:
        remote = from_namespace(namespace, srv.port, b"CONFIG SET protected-mode yes\r\nCONFIG GET protected-mode\r\n")
        if enabled == "yes":
            assert remote == b"+OK\r\n*2\r\n$14\r\nprotected-mode\r\n$3\r\nyes\r\n"
        else:
            assert remote == (b"-ERR CONFIG SET failed (possibly related to argument 'protected-mode') - "
                              b"can't set protected config\r\n*2\r\n$14\r\nprotected-mode\r\n$2\r\nno\r\n")
        with Raw(srv.host, srv.port) as local:
            assert local.cmd("CONFIG", "SET", "protected-mode", "yes") == b"+OK\r\n"


def test_protected_mode_setting(server, raw):
    c = raw()
    assert parse(c.cmd("CONFIG", "GET", "protected-mode")) == [b"protected-mode", b"yes"]
    assert c.cmd("CONFIG", "SET", "protected-mode", "maybe") == \
        b"-ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'\r\n"
    assert c.cmd("CONFIG", "SET", "protected-mode", "no") == b"+OK\r\n"
    assert parse(c.cmd("CONFIG", "GET", "protected-mode")) == [b"protected-mode", b"no"]
    assert c.cmd("CONFIG", "SET", "protected-mode", "yes") == b"+OK\r\n"


def test_bind_lists_every_address(exposed, raw):
    with Raw(exposed.host, exposed.port) as c:
        assert parse(c.cmd("CONFIG", "GET", "bind")) == [b"bind", f"127.0.0.1 {HOST_ADDRESS}".encode()]
