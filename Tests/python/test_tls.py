"""The TLS port (`--tls-port`, `--tls-cert-file`, `--tls-key-file`, `--tls-ca-cert-file`, `--tls-auth-clients`) as
Redis 7.0 serves it: beside the plain port, client certificates required by default, TLS 1.2 and 1.3, and the
certificate reloaded for new connections by CONFIG SET of its files. Certificates are made by scripts/tls-certs
(openssl) in a temporary directory; clients are redis-py (`ssl=True`), `redis-cli --tls` and `openssl s_client`."""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import tempfile

import pytest
import redis

from conftest import REPO_ROOT, TARGET, free_port, kvnode_bin, start_server

UPDATE_FAILED = "Unable to update TLS configuration. Check server logs."


def make_certificates(directory: str, *servers: str) -> None:
    subprocess.run([str(REPO_ROOT / "scripts/tls-certs"), directory, *servers], check=True, timeout=60)


@pytest.fixture(scope="module")
def certs():
    directory = tempfile.mkdtemp(prefix="kvtls-")
    make_certificates(directory, "server", "server2")
    # A second CA and a client certificate it signed: well-formed, but not one the server trusts.
    make_certificates(os.path.join(directory, "rogue"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def path(certs: str, name: str) -> str:
    return os.path.join(certs, name)


def tls_args(certs: str, port: int, *extra: str, cert: str = "server") -> tuple[str, ...]:
    return ("--tls-port", str(port), "--tls-cert-file", path(certs, f"{cert}.crt"),
            "--tls-key-file", path(certs, f"{cert}.key"), "--tls-ca-cert-file", path(certs, "ca.crt"), *extra)


def context(certs: str, client_cert: str | None = "client", ca_dir: str | None = None,
            version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=path(certs, "ca.crt"))
    if client_cert:
        base = ca_dir or certs
        ctx.load_cert_chain(path(base, f"{client_cert}.crt"), path(base, f"{client_cert}.key"))
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


def tls_ping(ctx: ssl.SSLContext, port: int) -> tuple[bytes, str, dict]:
    """PING over TLS: the reply, the protocol version and the server's certificate."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64), s.version(), s.getpeercert()


def served_serial(certs: str, port: int) -> str:
    return tls_ping(context(certs), port)[2]["serialNumber"]


def refused(ctx: ssl.SSLContext, port: int) -> bool:
    """Whether the server ends the connection instead of answering (with TLS 1.3 a missing client certificate is
    reported after the client's handshake completes, at the first read)."""
    try:
        reply = tls_ping(ctx, port)[0]
    except (ssl.SSLError, OSError):
        return True
    return reply == b""


def tls_client(certs: str, port: int, client_cert: str | None = "client", **kw) -> redis.Redis:
    options = dict(ssl=True, ssl_ca_certs=path(certs, "ca.crt"), ssl_cert_reqs="required")
    if client_cert:
        options.update(ssl_certfile=path(certs, f"{client_cert}.crt"), ssl_keyfile=path(certs, f"{client_cert}.key"))
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=False, **options, **kw)


def cli(certs: str, port: int, *args: str, client_cert: bool = True) -> subprocess.CompletedProcess:
    tls = ["--tls", "--cacert", path(certs, "ca.crt")]
    if client_cert:
        tls += ["--cert", path(certs, "client.crt"), "--key", path(certs, "client.key")]
    return subprocess.run(["redis-cli", "-p", str(port), *tls, *args], capture_output=True, text=True, timeout=30)


def test_tls_beside_plain_tcp_with_client_certificates(certs):
    port = free_port()
    with start_server(*tls_args(certs, port)) as srv:
        with tls_client(certs, port) as secure, srv.client() as plain:
            assert secure.set(b"k", b"over tls")
            assert plain.get(b"k") == b"over tls"  # one keyspace behind both ports
            info = dict(f.split("=", 1) for f in secure.execute_command("CLIENT", "INFO").decode().split() if "=" in f)
            assert info["laddr"] == f"127.0.0.1:{port}"
            assert info["addr"].startswith("127.0.0.1:")
            assert secure.config_get("tls-port") == {"tls-port": str(port)}
            assert secure.config_get("tls-auth-clients") == {"tls-auth-clients": "yes"}
        with tls_client(certs, port, protocol=3) as resp3:
            assert resp3.get(b"k") == b"over tls"
        done = cli(certs, port, "GET", "k")
        assert (done.returncode, done.stdout.strip()) == (0, "over tls")
        # The plain port does not speak TLS, nor the TLS port plain RESP.
        assert refused(context(certs), srv.port)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            try:
                assert not s.recv(64).startswith(b"+PONG")
            except OSError:
                pass


def test_client_certificate_required_by_default(certs):
    port = free_port()
    with start_server(*tls_args(certs, port)):
        assert refused(context(certs, client_cert=None), port)
        assert refused(context(certs, client_cert="client", ca_dir=path(certs, "rogue")), port)
        with pytest.raises(redis.ConnectionError):
            with tls_client(certs, port, client_cert=None) as c:
                c.ping()
        assert cli(certs, port, "PING", client_cert=False).stdout.strip() != "PONG"
        assert tls_ping(context(certs), port)[0] == b"+PONG\r\n"


def test_auth_clients_no_and_optional(certs):
    port = free_port()
    with start_server(*tls_args(certs, port, "--tls-auth-clients", "no")):
        with tls_client(certs, port, client_cert=None) as c:
            assert c.ping()
        done = cli(certs, port, "PING", client_cert=False)
        assert (done.returncode, done.stdout.strip()) == (0, "PONG")
    port = free_port()
    with start_server(*tls_args(certs, port, "--tls-auth-clients", "optional")) as srv:
        assert tls_ping(context(certs, client_cert=None), port)[0] == b"+PONG\r\n"
        assert tls_ping(context(certs), port)[0] == b"+PONG\r\n"
        # A certificate presented is checked.
        assert refused(context(certs, client_cert="client", ca_dir=path(certs, "rogue")), port)
        with srv.client() as plain:
            assert plain.config_get("tls-auth-clients") == {"tls-auth-clients": "optional"}


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
def test_tls_versions(certs, version):
    port = free_port()
    with start_server(*tls_args(certs, port)):
        reply, negotiated, _ = tls_ping(context(certs, version=version), port)
        assert reply == b"+PONG\r\n"
        assert negotiated == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]


def test_certificate_reload_with_config_set(certs):
    live = tempfile.mkdtemp(prefix="kvtls-live-")
    try:
        for ext in ("crt", "key"):
            shutil.copy(path(certs, f"server.{ext}"), os.path.join(live, f"live.{ext}"))
        port = free_port()
        args = ("--tls-port", str(port), "--tls-cert-file", os.path.join(live, "live.crt"),
                "--tls-key-file", os.path.join(live, "live.key"), "--tls-ca-cert-file", path(certs, "ca.crt"))
        serial = {name: subprocess.run(
            ["openssl", "x509", "-in", path(certs, f"{name}.crt"), "-noout", "-serial"],
            capture_output=True, text=True, check=True).stdout.strip().split("=")[1] for name in ("server", "server2")}
        with start_server(*args) as srv, tls_client(certs, port) as admin:
            assert served_serial(certs, port) == serial["server"]
            assert admin.ping()
            # A new certificate and key in one CONFIG SET: new connections get it, open ones go on.
            admin.execute_command("CONFIG", "SET", "tls-cert-file", path(certs, "server2.crt"),
                                  "tls-key-file", path(certs, "server2.key"))
            assert served_serial(certs, port) == serial["server2"]
            assert admin.ping()
            assert admin.config_get("tls-cert-file") == {"tls-cert-file": path(certs, "server2.crt")}
            # Files replaced in place, then set again under the same names: reloaded too (Redis does the same).
            admin.execute_command("CONFIG", "SET", "tls-cert-file", os.path.join(live, "live.crt"),
                                  "tls-key-file", os.path.join(live, "live.key"))
            assert served_serial(certs, port) == serial["server"]
            for ext in ("crt", "key"):
                shutil.copy(path(certs, f"server2.{ext}"), os.path.join(live, f"live.{ext}"))
            admin.execute_command("CONFIG", "SET", "tls-cert-file", os.path.join(live, "live.crt"))
            assert served_serial(certs, port) == serial["server2"]
            with srv.client() as plain:
                assert plain.get(b"nothing") is None
    finally:
        shutil.rmtree(live, ignore_errors=True)


def test_a_bad_tls_file_changes_nothing_and_reveals_nothing(certs):
    port = free_port()
    with start_server(*tls_args(certs, port)) as srv, srv.client() as c:
        before = served_serial(certs, port)
        for settings in (["tls-cert-file", "/etc/passwd"],
                         ["tls-key-file", path(certs, "server2.key")],  # does not match the certificate
                         ["tls-cert-file", "/nonexistent/cert.pem"],
                         ["tls-ca-cert-file", "/etc/hostname"]):
            with pytest.raises(redis.ResponseError) as failure:
                c.execute_command("CONFIG", "SET", *settings)
            assert str(failure.value) == \
                f"CONFIG SET failed (possibly related to argument '{settings[0]}') - {UPDATE_FAILED}"
        assert "root:" not in str(failure.value)
        assert c.config_get("tls-cert-file") == {"tls-cert-file": path(certs, "server.crt")}
        assert c.config_get("tls-key-file") == {"tls-key-file": path(certs, "server.key")}
        assert served_serial(certs, port) == before
        with pytest.raises(redis.ResponseError) as failure:
            c.config_set("tls-auth-clients", "sometimes")
        assert str(failure.value) == ("CONFIG SET failed (possibly related to argument 'tls-auth-clients') - "
                                      "argument(s) must be one of the following: no, yes, optional")


def test_tls_only_with_port_zero(certs):
    port = free_port()

    def ready(srv) -> bool:
        try:
            return tls_ping(context(certs), port)[0] == b"+PONG\r\n"
        except OSError:
            return False

    with start_server(*tls_args(certs, port, "--port", "0"), ready=ready) as srv:
        with pytest.raises(OSError):
            socket.create_connection((srv.host, srv.port), timeout=2).close()
        with tls_client(certs, port) as c:
            assert c.config_get("port") == {"port": "0"}


@pytest.mark.kvnode_only  # Redis writes its start-up errors to its log file
def test_start_up_refuses_unusable_tls_settings(certs):
    data = tempfile.mkdtemp(prefix="kvtls-data-")
    try:
        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([kvnode_bin(), "--data", data, "--port", str(free_port()), *args],
                                  capture_output=True, text=True, timeout=60)
        no_ca = run("--tls-port", str(free_port()), "--tls-cert-file", path(certs, "server.crt"),
                    "--tls-key-file", path(certs, "server.key"))
        assert no_ca.returncode != 0
        assert "Either tls-ca-cert-file or tls-ca-cert-dir must be specified" in no_ca.stderr
        mismatch = run(*tls_args(certs, free_port(), "--tls-key-file", path(certs, "server2.key")))
        assert mismatch.returncode != 0
        assert "cannot set up TLS" in mismatch.stderr
        missing = run(*tls_args(certs, free_port(), "--tls-cert-file", "/nonexistent.crt"))
        assert missing.returncode != 0
    finally:
        shutil.rmtree(data, ignore_errors=True)
