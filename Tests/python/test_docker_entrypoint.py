"""docker/entrypoint.sh, run directly (no Docker engine here): the server listens on every interface with protected
mode on, takes the default user's password from a secret file or the environment without showing it in its command
line or environment, and appends the container's arguments."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from conftest import REPO_ROOT, START_TIMEOUT, free_port, kvnode_bin, ping_raw

pytestmark = pytest.mark.kvnode_only

ENTRYPOINT = str(REPO_ROOT / "docker/entrypoint.sh")


@contextmanager
def entrypoint(env: dict[str, str], *args: str):
    """Runs the entrypoint with kvnode-server on PATH, on a free port and a temporary data directory."""
    base = tempfile.mkdtemp(prefix="kventry-")
    bin_dir = os.path.join(base, "bin")
    os.makedirs(bin_dir)
    os.symlink(kvnode_bin(), os.path.join(bin_dir, "kvnode-server"))
    port = free_port()
    environment = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "KVNODE_DATA": os.path.join(base, "data"), **env}
    log = open(os.path.join(base, "log"), "w+")
    proc = subprocess.Popen([ENTRYPOINT, "--port", str(port), *args], env=environment, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not ping_raw("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"entrypoint did not start: {log.read()}")
            time.sleep(0.05)
        yield proc, port, base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def check_password(port: int, password: str, pid: int) -> None:
    with redis.Redis(port=port) as anonymous:
        with pytest.raises(redis.AuthenticationError):
            anonymous.ping()
    with redis.Redis(port=port, password=password) as c:
        assert c.ping()
        assert c.config_get("bind") == {"bind": "0.0.0.0"}
        assert c.config_get("protected-mode") == {"protected-mode": "yes"}
    # The password is in neither the command line nor the environment of the server (the entrypoint exec'd it).
    assert password.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
    assert password.encode() not in Path(f"/proc/{pid}/environ").read_bytes()


def test_password_from_a_secret_file():
    secret_dir = tempfile.mkdtemp(prefix="kvsecret-")
    try:
        secret = os.path.join(secret_dir, "kvnode_password")
        with open(secret, "w") as f:
            f.write("s3cret-from-file\n")  # a trailing newline, as `echo` or an editor leaves
        with entrypoint({"KVNODE_REQUIREPASS_FILE": secret}) as (proc, port, _):
            check_password(port, "s3cret-from-file", proc.pid)
    finally:
        shutil.rmtree(secret_dir, ignore_errors=True)


def test_password_from_the_environment():
    with entrypoint({"KVNODE_REQUIREPASS": "s3cret-from-env"}) as (proc, port, _):
        check_password(port, "s3cret-from-env", proc.pid)


def test_without_a_password_protected_mode_stays_on_and_arguments_are_appended():
    with entrypoint({}, "--notify-keyspace-events", "KEA") as (proc, port, base):
        with redis.Redis(port=port) as c:  # loopback: protected mode lets it in
            assert c.config_get("protected-mode") == {"protected-mode": "yes"}
            assert c.config_get("bind") == {"bind": "0.0.0.0"}
            assert set(c.config_get("notify-keyspace-events")["notify-keyspace-events"]) == set("AKE")
            assert c.config_get("dir")["dir"].startswith(base)
        with open(os.path.join(base, "log")) as log:
            assert "protected mode will refuse connections from outside the container" in log.read()


def test_an_unreadable_or_empty_secret_stops_the_start():
    for content in (None, "", "\n"):
        secret_dir = tempfile.mkdtemp(prefix="kvsecret-")
        try:
            secret = os.path.join(secret_dir, "pw")
            if content is not None:
                with open(secret, "w") as f:
                    f.write(content)
            done = subprocess.run(
                [ENTRYPOINT, "--port", str(free_port())],
                env={"PATH": f"{os.path.dirname(kvnode_bin())}:{os.environ['PATH']}",
                     "KVNODE_DATA": os.path.join(secret_dir, "data"), "KVNODE_REQUIREPASS_FILE": secret},
                capture_output=True, text=True, timeout=60)
            assert done.returncode != 0
        finally:
            shutil.rmtree(secret_dir, ignore_errors=True)
