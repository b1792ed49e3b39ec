"""Black-box fixtures for kvnode-server.

KVNODE_BIN      path of the server binary (scripts/test exports the release build);
                falls back to .build/release then .build/debug.
KVNODE_ARGS     extra server arguments, e.g. "--durability high".
KVNODE_TARGET   "kvnode" (default) or "redis": run the very same tests against a real
                redis-server, so every expectation here is checked against Redis itself.
                Tests marked @pytest.mark.kvnode_only are skipped in that mode.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import redis

REPO_ROOT = Path(__file__).resolve().parents[2]
TARGET = os.environ.get("KVNODE_TARGET", "kvnode").strip().lower()
if TARGET not in ("kvnode", "redis"):
    raise pytest.UsageError(f"KVNODE_TARGET must be 'kvnode' or 'redis', not {TARGET!r}")

START_TIMEOUT = float(os.environ.get("KVNODE_START_TIMEOUT", "30"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kvnode_bin() -> str:
    env = os.environ.get("KVNODE_BIN")
    candidates = [Path(env)] if env else [
        REPO_ROOT / ".build/release/kvnode-server",
        REPO_ROOT / ".build/debug/kvnode-server",
    ]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    pytest.fail(f"kvnode-server binary not found (tried {', '.join(map(str, candidates))}); "
                "build it or set KVNODE_BIN", pytrace=False)


def ping_raw(host: str, port: int, timeout: float = 1.0) -> bool:
    """PING over a bare socket: readiness must not depend on HELLO/RESP3 working. A server that requires a password
    answers -NOAUTH, which says it is up just as well."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


class Server:
    """One server process (kvnode or the redis reference) on a fixed port and data dir."""

    def __init__(self, target: str, base_dir: str, extra_args: tuple[str, ...] = (),
                 ready: Callable[[Server], bool] | None = None):
        self.target = target
        # How start() knows the server is up; a bare PING on the TCP port unless told otherwise (a server started
        # with --port 0 has none).
        self.ready = ready or (lambda srv: ping_raw(srv.host, srv.port))
        # Arguments both servers understand (e.g. "--notify-keyspace-events", "KEA").
        self.extra_args = list(extra_args)
        self.host = "127.0.0.1"
        self.port = free_port()
        # Log beside, not inside, the data dir: the data dir belongs to the server alone.
        # kvnode must create a missing data dir itself (the ./data default); redis-server won't.
        self.data_dir = os.path.join(base_dir, "data")
        if target == "redis":
            os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(base_dir, f"{target}-server.log")
        self.proc: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        if self.target == "redis":
            # --databases 16: kvnode's default, so SELECT 16 fails on both (Debian's redis.conf may say otherwise).
            return [os.environ.get("REDIS_SERVER", "redis-server"),
                    "--bind", self.host, "--port", str(self.port),
                    "--save", "", "--appendonly", "no", "--databases", "16",
                    "--dir", self.data_dir, "--logfile", self.log_path, *self.extra_args]
        # Two event loops unless a test asks otherwise: what crosses loops (blocking pops, Pub/Sub, WATCH, the turn's
        # group commit against another loop's) stays tested, whatever the machine's default.
        return [kvnode_bin(), "--addr", f"{self.host}:{self.port}",
                "--data", self.data_dir, "--io-threads", "2", *self.extra_args,
                *shlex.split(os.environ.get("KVNODE_ARGS", ""))]

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not running"
        return self.proc.pid

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        # A process that exits at once is retried a few times (a just-killed predecessor may
        # briefly hold the port), but not for long: a server that can't rebind its port after a
        # crash (no SO_REUSEADDR) is a bug these tests should surface.
        deadline = time.monotonic() + START_TIMEOUT
        for attempt in range(10):
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            log.close()
            while time.monotonic() < deadline:
                if self.ready(self):
                    return
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
            if self.proc.poll() is None:  # alive but never answered
                self.kill()
                raise RuntimeError(f"{self.target} did not answer PING within {START_TIMEOUT}s\n"
                                   + self.log_tail())
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        raise RuntimeError(f"{self.target} exited with {self.proc.returncode}\n" + self.log_tail())

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop: SIGTERM, wait, then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def kill(self) -> None:
        """kill -9: simulates a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self, crash: bool = False) -> None:
        """Stop (gracefully, or with SIGKILL when crash=True) and start again, same port and data."""
        self.kill() if crash else self.stop()
        self.start()

    def client(self, protocol: int = 2, **kw) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, protocol=protocol,
                           decode_responses=False, **kw)


def pytest_report_header(config):
    return f"kvnode target: {TARGET}" + (f" ({os.environ['KVNODE_BIN']})"
                                         if TARGET == "kvnode" and "KVNODE_BIN" in os.environ else "")


def pytest_collection_modifyitems(config, items):
    if TARGET != "redis":
        return
    skip = pytest.mark.skip(reason="kvnode_only (KVNODE_TARGET=redis)")
    for item in items:
        if "kvnode_only" in item.keywords:
            item.add_marker(skip)


def start_server(*extra_args: str, ready: Callable[[Server], bool] | None = None):
    """A context manager: a server of the current target with extra arguments, stopped and removed afterwards.
    `ready` tells when it is up (default: a bare PING on its TCP port answers)."""
    from contextlib import contextmanager

    @contextmanager
    def run():
        if TARGET == "redis" and shutil.which(os.environ.get("REDIS_SERVER", "redis-server")) is None:
            pytest.fail("KVNODE_TARGET=redis but redis-server is not installed", pytrace=False)
        base_dir = tempfile.mkdtemp(prefix=f"{TARGET}-test-")
        srv = Server(TARGET, base_dir, extra_args, ready)
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()
            shutil.rmtree(base_dir, ignore_errors=True)

    return run()


@pytest.fixture(scope="module")
def server():
    with start_server() as srv:
        yield srv


@pytest.fixture(autouse=True)
def _flush(server):
    """Every test starts from an empty keyspace, every database of it (and a running server)."""
    if server.proc is None or server.proc.poll() is not None:
        server.start()  # a previous test killed it and failed before restarting
    with server.client(protocol=2) as c:
        c.flushall()
    yield


@pytest.fixture
def r2(server):
    with server.client(protocol=2) as c:
        yield c


@pytest.fixture
def r3(server):
    with server.client(protocol=3) as c:
        yield c


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(request, server):
    with server.client(protocol=request.param) as c:
        yield c


# ---------------------------------------------------------------------------------------------
# Raw-socket helpers, for checking exact bytes on the wire.

class Raw:
    """A bare TCP connection with a minimal RESP2/RESP3 reply reader (returns exact bytes)."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError(f"connection closed by server; unread: {self.buf[:200]!r}")
        self.buf += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self) -> bytes:
        """Read one complete reply and return its raw bytes."""
        line = self._line()
        kind, rest = line[:1], line[1:-2]
        if kind in b"$=!" and rest != b"-1":  # bulk / verbatim / blob error
            return line + self._exact(int(rest) + 2)
        if kind in b"*~>" and rest != b"-1":  # array / set / push
            return line + b"".join(self.reply() for _ in range(int(rest)))
        if kind == b"%" and rest != b"-1":  # map
            return line + b"".join(self.reply() for _ in range(2 * int(rest)))
        if kind == b"|":  # attribute, then the real reply
            attrs = b"".join(self.reply() for _ in range(2 * int(rest)))
            return line + attrs + self.reply()
        return line

    def cmd(self, *args) -> bytes:
        self.send(encode(*args))
        return self.reply()

    def read_until_closed(self, timeout: float = 5.0) -> bytes:
        """Everything the server sends until it closes; fails if it keeps the connection open."""
        self.sock.settimeout(timeout)
        out, self.buf = self.buf, b""
        while True:
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                raise AssertionError(f"server kept the connection open; got {out!r}")
            except ConnectionResetError:
                return out
            if not chunk:
                return out
            out += chunk


def encode(*args) -> bytes:
    """RESP multibulk encoding of one command."""
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


@pytest.fixture
def raw(server):
    conns = []

    def connect(timeout: float = 10.0) -> Raw:
        c = Raw(server.host, server.port, timeout)
        conns.append(c)
        return c

    yield connect
    for c in conns:
        c.close()


# ---------------------------------------------------------------------------------------------
# Polling and worker threads.

def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.02,
               message: str | Callable[[], str] = "condition") -> Any:
    """Polls `predicate()` until it returns something truthy, and returns that value.

    Tests wait for a condition instead of sleeping a fixed window. The deadline only keeps a broken server from
    hanging the test; it is generous because the machine may be loaded, and says nothing about speed. `message`
    (or a function returning it, evaluated only on failure) says what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            what = message() if callable(message) else message
            raise AssertionError(f"not reached within {timeout:g}s: {what} (last: {value!r})")
        time.sleep(interval)


def rss_bytes(pid: int) -> int:
    """A process's resident memory (VmRSS), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def now_ms() -> int:
    """The wall clock in Unix milliseconds: the clock the servers judge expiry times by."""
    return int(time.time() * 1000)


def wait_past(at_ms: int) -> None:
    """Polls the wall clock until it is past `at_ms`, so that a key expiring at `at_ms` has expired for Redis (which
    expires a key once now > its time) and kvnode alike. Waits for exactly the condition, not a guessed window."""
    wait_until(lambda: now_ms() > at_ms + 1, interval=0.005, message=f"the clock passing {at_ms}")


class Workers:
    """Threads of a concurrent test whose failures reach the test.

    `start(name, fn, *args)` runs `fn(*args)` in a thread and keeps its return value in `results[name]`. Leaving the
    `with` block (or `join()`) sets `stop`, which looping workers poll, waits for every thread with a bounded
    deadline, fails if one is still running, and re-raises the first exception a thread raised. A failing thread
    sets `stop` too, so its siblings end early."""

    def __init__(self, timeout: float = 60.0):
        self.stop = threading.Event()
        self.timeout = timeout
        self.results: dict[str, Any] = {}
        self._threads: list[threading.Thread] = []
        self._errors: list[tuple[str, BaseException]] = []

    def start(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        def run():
            try:
                self.results[name] = fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread by check()
                self._errors.append((name, e))
                self.stop.set()
        thread = threading.Thread(target=run, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def check(self) -> None:
        """Raises the first exception a worker has raised so far."""
        if self._errors:
            name, error = self._errors[0]
            raise AssertionError(f"worker {name!r} failed: {error!r}") from error

    def wait_until(self, predicate: Callable[[], Any], **kw) -> Any:
        """`wait_until` that fails as soon as a worker has failed."""
        return wait_until(lambda: self.check() or predicate(), **kw)

    def join(self) -> dict[str, Any]:
        self.stop.set()
        deadline = time.monotonic() + self.timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.check()
        running = [t.name for t in self._threads if t.is_alive()]
        assert not running, f"worker threads still running after {self.timeout:g}s: {running}"
        return self.results

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.join()
            return
        # The test failed already: still stop and wait for the threads, and show what they raised too (unless that
        # is the failure itself, raised by check()).
        try:
            self.join()
        except AssertionError as worker_error:
            if worker_error.__cause__ is None or worker_error.__cause__ is not exc.__cause__:
                exc.add_note(str(worker_error))


# ---------------------------------------------------------------------------------------------
# LevelDB itself, read without kvnode's code: what is on disk, expired or not.

def leveldb_entries(data_dir: str) -> dict[bytes, bytes]:
    """Every entry of the LevelDB database of a *stopped* kvnode, read through libleveldb's C API (the library the
    server links). kvnode's own readers (and kvnode-dump) leave expired keys out; this shows what is stored.

    Opening a LevelDB database writes to its directory (a new log and MANIFEST), so it reads a copy."""
    lib_name = ctypes.util.find_library("leveldb")
    if lib_name is None:
        pytest.fail("libleveldb not found (scripts/test installs libleveldb-dev)", pytrace=False)
    lib = ctypes.CDLL(lib_name)
    ptr, size = ctypes.c_void_p, ctypes.c_size_t
    for name, restype, argtypes in (
            ("leveldb_options_create", ptr, []),
            ("leveldb_options_destroy", None, [ptr]),
            ("leveldb_readoptions_create", ptr, []),
            ("leveldb_readoptions_destroy", None, [ptr]),
            ("leveldb_open", ptr, [ptr, ctypes.c_char_p, ctypes.POINTER(ptr)]),
            ("leveldb_close", None, [ptr]),
            ("leveldb_free", None, [ptr]),
            ("leveldb_create_iterator", ptr, [ptr, ptr]),
            ("leveldb_iter_destroy", None, [ptr]),
            ("leveldb_iter_seek_to_first", None, [ptr]),
            ("leveldb_iter_valid", ctypes.c_ubyte, [ptr]),
            ("leveldb_iter_next", None, [ptr]),
            ("leveldb_iter_key", ptr, [ptr, ctypes.POINTER(size)]),
            ("leveldb_iter_value", ptr, [ptr, ctypes.POINTER(size)]),
            ("leveldb_iter_get_error", None, [ptr, ctypes.POINTER(ptr)])):
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes

    def check(error: ctypes.c_void_p, what: str) -> None:
        if error.value:
            message = ctypes.string_at(error.value).decode(errors="replace")
            lib.leveldb_free(error)
            raise AssertionError(f"LevelDB {what}: {message}")

    with tempfile.TemporaryDirectory(prefix="leveldb-copy-") as scratch:
        copy = os.path.join(scratch, "db")
        # The snapshots directory is no part of the database.
        shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("snapshots", "LOCK"))
        options, read_options = lib.leveldb_options_create(), lib.leveldb_readoptions_create()
        error = ptr()
        db = lib.leveldb_open(options, copy.encode(), ctypes.byref(error))
        check(error, f"open of a copy of {data_dir}")
        entries: dict[bytes, bytes] = {}
        iterator = lib.leveldb_create_iterator(db, read_options)
        try:
            lib.leveldb_iter_seek_to_first(iterator)
            length = size()
            while lib.leveldb_iter_valid(iterator):
                key = ctypes.string_at(lib.leveldb_iter_key(iterator, ctypes.byref(length)), length.value)
                value = ctypes.string_at(lib.leveldb_iter_value(iterator, ctypes.byref(length)), length.value)
                entries[key] = value
                lib.leveldb_iter_next(iterator)
            lib.leveldb_iter_get_error(iterator, ctypes.byref(error))
            check(error, "iteration")
        finally:
            lib.leveldb_iter_destroy(iterator)
            lib.leveldb_close(db)
            lib.leveldb_readoptions_destroy(read_options)
            lib.leveldb_options_destroy(options)
        return entries


def stored_layout(data_dir: str) -> tuple[list[bytes], list[bytes], int]:
    """A stopped kvnode's data as stored (docs/storage-format.md): the user keys of its records ('k' + key), the
    keys of its expiry index ('e' + BE64 expireAt + key), and the persisted key count ('mkeys', BE u64)."""
    entries = leveldb_entries(data_dir)
    records = sorted(k[1:] for k in entries if k[:1] == b"k")
    index = sorted(k[9:] for k in entries if k[:1] == b"e")
    return records, index, int.from_bytes(entries[b"mkeys"], "big")
