"""Bulk loading with `redis-cli --pipe`, crash recovery and concurrent clients."""

import shutil
import subprocess
import threading

import pytest

from conftest import encode


@pytest.fixture(autouse=True)
def _needs_redis_cli():
    if shutil.which("redis-cli") is None:
        pytest.fail("redis-cli is not installed (scripts/test installs it: apt-get install redis-tools)", pytrace=False)


# Its own bound: 100k keys through redis-cli can take far longer than the suite's 60 s on a loaded 2-core machine.
@pytest.mark.timeout(600)
def test_redis_cli_pipe_100k(server, r2, tmp_path):
    n = 100_000
    path = tmp_path / "mass-insert.resp"
    with open(path, "wb") as f:
        for i in range(n):
            f.write(encode("SET", f"key:{i}", f"value:{i}"))
    with open(path, "rb") as stdin:
        res = subprocess.run(["redis-cli", "-h", server.host, "-p", str(server.port), "--pipe"],
                             stdin=stdin, capture_output=True, timeout=540)
    out = res.stdout.decode(errors="replace")
    assert "errors: 0, replies: 100000" in out, (out, res.stderr)
    assert res.returncode == 0
    assert r2.dbsize() == n
    assert r2.get("key:0") == b"value:0"
    assert r2.get(f"key:{n - 1}") == f"value:{n - 1}".encode()


def test_redis_cli_pipe_counts_errors(server, r2, tmp_path):
    path = tmp_path / "with-errors.resp"
    path.write_bytes(encode("SET", "a", "1") + encode("NOSUCHCMD", "x") + encode("GET")
                     + encode("SET", "b", "2"))
    with open(path, "rb") as stdin:
        res = subprocess.run(["redis-cli", "-p", str(server.port), "--pipe"],
                             stdin=stdin, capture_output=True, timeout=50)
    assert "errors: 2, replies: 4" in res.stdout.decode(), res
    assert res.returncode == 1  # redis-cli exits 1 when any reply was an error
    assert r2.mget("a", "b") == [b"1", b"2"]


# Crash recovery, not durability: what was handed to the kernel survives a killed process at any --durability
# (test_durability.py tells the levels apart).
@pytest.mark.kvnode_only  # the reference redis-server runs without persistence
def test_data_survives_kill_9(server, r2):
    with r2.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set(f"durable:{i}", f"v{i}")
        p.execute()
    r2.set(b"bin\x00key", b"\r\n\x00")
    r2.delete("durable:7")
    r2.close()
    server.restart(crash=True)  # SIGKILL: no chance to flush or close cleanly
    with server.client() as c:
        assert c.dbsize() == 1000
        assert c.get("durable:0") == b"v0"
        assert c.get("durable:999") == b"v999"
        assert c.get("durable:7") is None
        assert c.get(b"bin\x00key") == b"\r\n\x00"


@pytest.mark.kvnode_only
def test_data_survives_graceful_restart(server, r2):
    r2.mset({"a": "1", "b": "2"})
    r2.close()
    server.restart()  # SIGTERM
    with server.client() as c:
        assert c.mget("a", "b") == [b"1", b"2"]


def test_concurrent_set_nx_exactly_one_wins(server):
    n = 50
    barrier = threading.Barrier(n)
    missing = object()  # a thread that failed must not pass for one that lost the race (None)
    results = [missing] * n
    errors: list[BaseException] = []
    clients = [server.client() for _ in range(n)]
    for c in clients:
        c.ping()  # connect before the race starts

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results[i] = clients[i].set("lock", f"owner-{i}", nx=True)
        except BaseException as e:
            errors.append(e)
            raise

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not [t for t in threads if t.is_alive()], "threads still running"
        assert errors == []
        assert missing not in results
        winners = [i for i, r in enumerate(results) if r is True]
        assert len(winners) == 1, results
        assert all(r is None for i, r in enumerate(results) if i != winners[0]), results
        assert clients[0].get("lock") == f"owner-{winners[0]}".encode()
    finally:
        for c in clients:
            c.close()
