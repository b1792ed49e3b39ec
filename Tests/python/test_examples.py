"""The programs in examples/ run against a real server and do what they say: follow_prefix.py sees every change
exactly once across a server restart, a kill -9 and a dropped connection; cas_retry.py loses no update."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, start_server, wait_until

pytestmark = pytest.mark.kvnode_only

EXAMPLES = REPO_ROOT / "examples"


def watched_changes(client, prefix: bytes) -> list[dict]:
    """Every change under `prefix` from the change log itself: a watch FROM 1 read until it reaches the current
    revision."""
    revision = client.execute_command("KV.REVISION")
    current = dict(zip(revision[::2], revision[1::2]))[b"current"] if isinstance(revision, list) else revision[b"current"]
    changes = []
    keys = set(client.execute_command("KEYS", "*")) | {b"orders:%d" % i for i in range(100)}
    for key in sorted(k for k in keys if k.startswith(prefix)):
        for revision, op, value in client.execute_command("KV.HISTORY", key, "LIMIT", 10000):
            changes.append({"revision": revision, "op": op.decode(), "key": key.decode(),
                            "value": None if value is None else value.decode()})
    changes.sort(key=lambda c: (c["revision"], c["key"]))
    assert all(c["revision"] <= current for c in changes)
    return changes


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_follow_prefix_sees_every_change_once_across_restarts_and_drops(tmp_path):
    with start_server() as srv:
        output = tmp_path / "changes.jsonl"
        state = tmp_path / "follow.state"
        c = srv.client()
        c.set("orders:0", "before the follower started")
        c.set("other", "not followed")
        follower = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "follow_prefix.py"), "--port", str(srv.port), "--prefix", "orders:",
             "--state", str(state)],
            stdout=open(output, "w"), stderr=open(tmp_path / "follower.log", "w"))
        try:
            # INITIAL: the current value first.
            wait_until(lambda: len(read_lines(output)) >= 1, message="the initial value")
            assert read_lines(output)[0]["value"] == "before the follower started"
            wait_until(lambda: state.exists(), message="the follower to save its position after kv.synced")

            def write(i: int) -> None:
                c = srv.client()
                c.set(f"orders:{i}", f"v{i}")
                c.mset({f"orders:{i}:a": "1", f"orders:{i}:b": "2", "other": str(i)})  # one revision, two events
                if i % 3 == 0:
                    c.delete(f"orders:{i - 1}")

            for i in range(1, 10):
                write(i)
            srv.restart()  # a clean restart
            for i in range(10, 20):
                write(i)
            srv.restart(crash=True)  # kill -9 (acknowledged writes at --durability medium may be lost; the log and
            #                          the data agree either way)
            for i in range(20, 30):
                write(i)
            # A dropped connection: the server closes the follower's socket (a watching connection is of type
            # pubsub, as a subscribed one is in Redis).
            c = srv.client()
            wait_until(lambda: c.execute_command("CLIENT", "LIST", "TYPE", "pubsub"), message="the follower to reconnect")
            assert c.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 1
            for i in range(30, 40):
                write(i)

            # A last change: once the follower has it, it has had everything before it (and any duplicate).
            srv.client().set("orders:zz", "last")
            wait_until(lambda: (read_lines(output) or [{}])[-1].get("key") == "orders:zz", timeout=60,
                       message="the follower to catch up")
            expected = watched_changes(srv.client(), b"orders:")
            seen = read_lines(output)
        finally:
            follower.terminate()
            follower.wait(10)
        initial, followed = seen[0], seen[1:]
        assert initial["revision"] == 1
        assert followed == [e for e in expected if e["revision"] > 2], (tmp_path / "follower.log").read_text()


@pytest.mark.parametrize("protocol", ["--resp3", None])
def test_cas_retry_loses_no_update(protocol):
    with start_server() as srv:
        args = [sys.executable, str(EXAMPLES / "cas_retry.py"), "--port", str(srv.port), "--workers", "6",
                "--increments", "40"]
        result = subprocess.run(args + ([protocol] if protocol else []), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "count 240 (expected 240)" in result.stdout
