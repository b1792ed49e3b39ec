"""Unix sockets (`--unixsocket`, `--unixsocketperm`) served beside TCP, and `--port 0` turning TCP off, as Redis 7.0:
redis-py's unix_socket_path and `redis-cli -s` work, CLIENT LIST shows the socket as Redis does (`addr=/path:0
laddr=/path:0`, flag `U`), the settings are immutable, and the socket file goes away at shutdown."""
from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import tempfile

import pytest
import redis

from conftest import TARGET, start_server


@pytest.fixture
def socket_dir():
    # Short: a Unix socket path is limited to 107 bytes, and pytest's tmp_path can be longer.
    path = tempfile.mkdtemp(prefix="kvsock-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def ping_unix(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(1)
            s.connect(path)
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def unix_client(path: str, **kw) -> redis.Redis:
    return redis.Redis(unix_socket_path=path, decode_responses=False, **kw)


def cli(*args: str) -> str:
    done = subprocess.run(["redis-cli", *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def client_list_fields(line: bytes) -> dict[str, str]:
    return dict(field.split("=", 1) for field in line.decode().split(" ") if "=" in field)


def test_unix_socket_beside_tcp(socket_dir):
    path = os.path.join(socket_dir, "kv.sock")
    with start_server("--unixsocket", path, "--unixsocketperm", "700") as srv:
        assert stat.S_ISSOCK(os.lstat(path).st_mode)
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700
        with unix_client(path) as local, srv.client() as tcp:
            assert local.set(b"k", b"via unix")
            assert tcp.get(b"k") == b"via unix"  # one server, one keyspace
            tcp.set(b"k2", b"via tcp")
            assert local.get(b"k2") == b"via tcp"
            fields = client_list_fields(local.execute_command("CLIENT", "INFO"))
            assert fields["addr"] == f"{path}:0"
            assert fields["laddr"] == f"{path}:0"
            assert "U" in fields["flags"]
            tcp_fields = client_list_fields(tcp.execute_command("CLIENT", "INFO"))
            assert tcp_fields["addr"].startswith("127.0.0.1:")
            assert "U" not in tcp_fields["flags"]
            # CLIENT LIST shows both, the Unix one as Redis does.
            lines = [client_list_fields(line.encode()) for line in
                     local.execute_command("CLIENT", "LIST").decode().splitlines()]
            assert {f"{path}:0", tcp_fields["addr"]} <= {line["addr"] for line in lines}
            assert local.config_get("unixsocket") == {"unixsocket": path}
            assert local.config_get("unixsocketperm") == {"unixsocketperm": "700"}
            for name, value in (("unixsocket", "/tmp/elsewhere.sock"), ("unixsocketperm", "777")):
                with pytest.raises(redis.ResponseError) as refused:
                    local.config_set(name, value)
                assert str(refused.value) == \
                    f"CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
        assert cli("-s", path, "SET", "from-cli", "1") == "OK"
        assert cli("-s", path, "GET", "from-cli") == "1"
    assert not os.path.exists(path), "the socket file is removed at shutdown"


def test_port_zero_listens_on_the_unix_socket_only(socket_dir):
    path = os.path.join(socket_dir, "only.sock")
    with start_server("--port", "0", "--unixsocket", path, ready=lambda srv: ping_unix(path)) as srv:
        with pytest.raises(OSError):
            socket.create_connection((srv.host, srv.port), timeout=2).close()
        with unix_client(path) as c:
            assert c.config_get("port") == {"port": "0"}
            assert c.info("server")["tcp_port"] == 0
            assert c.config_get("unixsocketperm") == {"unixsocketperm": "0"}
            if TARGET == "kvnode":  # Redis can rebind its port at run time; kvnode cannot
                with pytest.raises(redis.ResponseError) as refused:
                    c.config_set("port", "0")
                assert "can't set immutable config" in str(refused.value)
        assert cli("-s", path, "PING") == "PONG"


def test_unix_socket_connections_pass_protected_mode(socket_dir):
    """A Unix socket is local: protected mode (on, no password) lets it in, as Redis does."""
    path = os.path.join(socket_dir, "p.sock")
    with start_server("--unixsocket", path, "--protected-mode", "yes"):
        with unix_client(path) as c:
            assert c.ping()


def test_a_stale_socket_file_is_replaced(socket_dir):
    path = os.path.join(socket_dir, "stale.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: what a killed server leaves
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    with start_server("--unixsocket", path):
        with unix_client(path) as c:
            assert c.ping()


@pytest.mark.kvnode_only  # Redis unlinks whatever is at the path before binding
def test_a_file_that_is_not_a_socket_is_never_removed(socket_dir):
    path = os.path.join(socket_dir, "precious.txt")
    with open(path, "w") as f:
        f.write("keep me")
    with pytest.raises(RuntimeError):
        with start_server("--unixsocket", path):
            pass
    with open(path) as f:
        assert f.read() == "keep me"


@pytest.mark.kvnode_only  # Redis's own start-up text differs ("Configured to not listen anywhere, exiting.")
def test_nothing_to_listen_on_is_refused_at_start_up():
    from conftest import kvnode_bin
    done = subprocess.run([kvnode_bin(), "--port", "0", "--data", tempfile.mkdtemp(prefix="kvnolisten-")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "Configured to not listen anywhere, exiting." in done.stderr


@pytest.mark.kvnode_only
def test_unixsocketperm_must_be_octal():
    from conftest import kvnode_bin
    for value in ("8", "1777", "rwx"):
        done = subprocess.run([kvnode_bin(), "--unixsocket", "/tmp/kv-never.sock", "--unixsocketperm", value],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode != 0
        assert "--unixsocketperm takes octal permission bits" in done.stderr
