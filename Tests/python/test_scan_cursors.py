"""SCAN cursors (docs/scan-cursors.md): every cursor is a decimal integer below 2^53, so clients that read it as an
IEEE double (node-redis: `Number(reply[0])`, then `cursor.toString()`) send it back unchanged; over a full iteration
every key present throughout is returned at least once, also under concurrent writes, and also when the server no
longer remembers the cursor (evicted from its table, issued before a restart)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import TARGET, Raw, kvnode_bin, start_server

kvnode_only = pytest.mark.kvnode_only
DOUBLE_EXACT = 2**53

# Keys in the ways that made the old cursors (5 key bytes + a 23-bit nonce) large or useless: long shared prefixes,
# high bytes, zero bytes, and keys shorter than the bytes a cursor carries.
LONG_PREFIX = b"tenant:0042:user:1234:session:" + b"x" * 40 + b":"
AWKWARD_KEYS = (
    {LONG_PREFIX + b"%05d" % i for i in range(400)}
    | {b"\xff" * 60 + bytes([i]) for i in range(256)}
    | {b"\xff\xff\xff" + b"%03d" % i for i in range(50)}
    | {b"\x00\x00\x00\x00" + b"%03d" % i for i in range(50)}
    | {b"\x00", b"\x00\xff", b"a", b"\x7f", b"\x80\x00", b"\xff"}
)


def through_double(cursor: int) -> int:
    """What a JavaScript client sends back: `Number(text)`, then `toString()`."""
    return int(float(cursor))


def iterate(c, count, *, cursor=0, via_double=False, max_calls=100_000, **kw):
    """A SCAN iteration from `cursor` to its end: (keys in reply order, cursors replied, calls)."""
    keys, cursors = [], []
    for calls in range(1, max_calls + 1):
        cursor, batch = c.scan(through_double(cursor) if via_double else cursor, count=count, **kw)
        keys += batch
        cursors.append(cursor)
        if cursor == 0:
            return keys, cursors, calls
    raise AssertionError(f"SCAN did not end within {max_calls} calls")


def calls_for(keys: int, count: int) -> int:
    """kvnode's exact number of calls: COUNT keys per call, and the call that visits the last key replies 0."""
    return max(1, -(-keys // count))


def mset_bytes(c, keys, value=b"v"):
    with c.pipeline(transaction=False) as p:
        for k in keys:
            p.set(k, value)
        p.execute()


# --- (a) every cursor fits in a double -----------------------------------------------------------

@pytest.mark.parametrize("count", [1, 7, 100])
def test_every_cursor_is_below_2_53_and_survives_a_double(r2, count):
    mset_bytes(r2, AWKWARD_KEYS)
    for match in (None, b"tenant:*", b"\xff*"):
        _, cursors, _ = iterate(r2, count, match=match)
        for cursor in cursors:
            assert 0 <= cursor < DOUBLE_EXACT, f"cursor {cursor} does not fit in a double"
            assert through_double(cursor) == cursor
        assert cursors[-1] == 0 and all(cursors[:-1])


def test_cursor_on_the_wire_is_plain_decimal(server):
    with server.client() as c:
        mset_bytes(c, AWKWARD_KEYS)
    with Raw(server.host, server.port) as c:
        cursor = b"0"
        for _ in range(calls_for(len(AWKWARD_KEYS), 50)):
            reply = c.cmd("SCAN", cursor, "COUNT", "50")
            lines = reply.split(b"\r\n")
            assert lines[0] == b"*2" and lines[1] == b"$%d" % len(lines[2])
            cursor = lines[2]
            # Digits only, no sign, no leading zero, below 2^53: every client's integer parser reads it exactly.
            assert cursor.isdigit() and (cursor == b"0" or not cursor.startswith(b"0"))
            assert int(cursor) < DOUBLE_EXACT
            if cursor == b"0":
                break
        assert cursor == b"0"


# --- (b) an iteration through doubles, as node-redis runs it ---------------------------------------

@pytest.mark.parametrize("count", [1, 10, 97])
def test_iteration_through_doubles_ends_and_returns_every_key(r2, count):
    mset_bytes(r2, AWKWARD_KEYS)
    keys, _, calls = iterate(r2, count, via_double=True, max_calls=10 * len(AWKWARD_KEYS))
    assert set(keys) == AWKWARD_KEYS
    if TARGET == "kvnode":
        # Every cursor came back exact, so nothing was visited twice.
        assert len(keys) == len(AWKWARD_KEYS)
        assert calls == calls_for(len(AWKWARD_KEYS), count)
    prefixed, _, _ = iterate(r2, count, via_double=True, match=LONG_PREFIX + b"*", max_calls=10_000)
    assert set(prefixed) == {k for k in AWKWARD_KEYS if k.startswith(LONG_PREFIX)}


# A SCAN loop with plain JavaScript number semantics, as node-redis's scanIterator: the reply's cursor goes through
# Number(), the next request sends cursor.toString(). A minimal RESP2 client over `net`, no npm packages.
NODE_SCAN = r"""
const net = require('net');
const [port, count, maxCalls] = process.argv.slice(2).map(Number);
function parse(buf, pos) {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[pos]);
  const line = buf.toString('latin1', pos + 1, eol);
  let next = eol + 2;
  if (type === '-') throw new Error(line);
  if (type === '$') {
    const n = parseInt(line, 10);
    if (buf.length < next + n + 2) return null;
    return [buf.subarray(next, next + n), next + n + 2];
  }
  if (type === '*') {
    const items = [];
    for (let i = 0; i < parseInt(line, 10); i++) {
      const item = parse(buf, next);
      if (item === null) return null;
      items.push(item[0]);
      next = item[1];
    }
    return [items, next];
  }
  throw new Error('unexpected reply type ' + type);
}
const socket = net.connect(port, '127.0.0.1');
let pending = Buffer.alloc(0), cursor = 0, calls = 0;
const keys = [], cursors = [];
function send() {
  const args = ['SCAN', cursor.toString(), 'COUNT', String(count)];
  socket.write(`*${args.length}\r\n` + args.map(a => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
}
socket.on('connect', send);
socket.on('data', data => {
  pending = Buffer.concat([pending, data]);
  const reply = parse(pending, 0);
  if (reply === null) return;
  pending = pending.subarray(reply[1]);
  const [text, batch] = reply[0];
  cursors.push(text.toString('latin1'));
  cursor = Number(text.toString('latin1'));
  for (const key of batch) keys.push(key.toString('hex'));
  calls++;
  if (cursor === 0 || calls >= maxCalls) {
    console.log(JSON.stringify({calls, keys, cursors, ended: cursor === 0}));
    socket.end();
  } else {
    send();
  }
});
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_number_semantics_iteration_ends_with_every_key(server):
    with server.client() as c:
        mset_bytes(c, AWKWARD_KEYS)
    count, max_calls = 25, 20 * len(AWKWARD_KEYS)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "scan.js"
        script.write_text(NODE_SCAN)
        done = subprocess.run(["node", str(script), str(server.port), str(count), str(max_calls)],
                              capture_output=True, text=True, timeout=50, check=True)
    result = json.loads(done.stdout)
    assert result["ended"], f"no cursor 0 within {result['calls']} calls"
    # Each cursor text is what Number() then toString() gives back: the server saw its own cursors.
    assert all(str(through_double(int(text))) == text for text in result["cursors"])
    assert {bytes.fromhex(k) for k in result["keys"]} == AWKWARD_KEYS
    if TARGET == "kvnode":
        assert result["calls"] == calls_for(len(AWKWARD_KEYS), count)


# --- (c) at least once under concurrent writes inside the scanned range ----------------------------

def test_every_stable_key_once_at_least_under_writes_inside_the_range(server):
    """Writers insert and delete keys between the stable ones (same long prefix); every stable key still comes back,
    and kvnode never visits a key twice, so the number of calls is bounded by the keys that ever existed."""
    stable = {LONG_PREFIX + b"%05d:s" % i for i in range(2000)}
    churn_space = 3000
    with server.client() as c:
        mset_bytes(c, stable)
    stop = threading.Event()
    errors = []

    def churn(seed):
        rnd = random.Random(seed)
        try:
            with server.client() as w:
                while not stop.is_set():
                    with w.pipeline(transaction=False) as p:
                        for _ in range(40):
                            k = LONG_PREFIX + b"%05d:c" % rnd.randrange(churn_space)
                            p.set(k, b"x") if rnd.random() < 0.6 else p.delete(k)
                        p.execute()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    writers = [threading.Thread(target=churn, args=(seed,)) for seed in range(2)]
    for t in writers:
        t.start()
    try:
        with server.client() as c:
            for count, match in ((13, None), (100, LONG_PREFIX + b"*"), (7, b"*:s")):
                keys, _, calls = iterate(c, count, via_double=True, match=match, max_calls=100_000)
                missing = stable - set(keys)
                assert not missing, f"COUNT {count} MATCH {match!r}: {len(missing)} stable keys never returned"
                if TARGET == "kvnode":
                    # Strictly after the previous position every time: each key that ever existed is visited at
                    # most once.
                    assert calls <= (len(stable) + churn_space) // count + 1
                    assert len(keys) == len(set(keys))
    finally:
        stop.set()
        for t in writers:
            t.join()
    assert not errors


def test_concurrent_iterations_each_return_every_key_once(server):
    """Iterations interleaved on separate connections each keep their own position in the shared table."""
    with server.client() as c:
        mset_bytes(c, AWKWARD_KEYS)
    clients = [server.client() for _ in range(4)]
    try:
        cursors, seen = [0] * 4, [[] for _ in clients]
        finished, calls = [False] * 4, 0
        while not all(finished):
            calls += 1
            assert calls < 10 * len(AWKWARD_KEYS)
            for i, c in enumerate(clients):
                if finished[i]:
                    continue
                cursors[i], batch = c.scan(through_double(cursors[i]), count=5 + 6 * i)
                seen[i] += batch
                finished[i] = cursors[i] == 0
        for keys in seen:
            assert set(keys) == AWKWARD_KEYS
            if TARGET == "kvnode":
                assert len(keys) == len(AWKWARD_KEYS)
    finally:
        for c in clients:
            c.close()


# --- (d) cursors the server no longer remembers -----------------------------------------------------

def scan_until(c, cursor, count, stop_after):
    """Continue an iteration until its last batch ends with a key `stop_after` accepts: (cursor, keys)."""
    keys = []
    for _ in range(10_000):
        cursor, batch = c.scan(through_double(cursor), count=count)
        keys += batch
        if cursor == 0 or (batch and stop_after(batch[-1])):
            return cursor, keys
    raise AssertionError("no such key")


@kvnode_only
def test_evicted_cursor_resumes_at_its_three_byte_prefix():
    """With room for 2 cursors, two other iterations evict ours: it resumes at the first key sharing the 3 bytes it
    carries, never later (no skip) and not at the start either (no needless restart)."""
    groups = {g: [g + b":%03d" % i for i in range(100)] for g in (b"aaa", b"bbb", b"ccc")}
    everything = {k for keys in groups.values() for k in keys}
    with start_server("--scan-cursor-table-size", "2") as srv, srv.client() as c, srv.client() as other:
        assert [int(v) for v in c.config_get("scan-cursor-table-size").values()] == [2]
        mset_bytes(c, everything)
        cursor, before = scan_until(c, 0, 10, lambda key: key == b"bbb:039")
        assert cursor != 0 and len(before) == 140
        other.scan(0, count=1)
        other.scan(0, count=1)  # a third cursor in a table of two: ours, the oldest, is forgotten
        cursor, batch = c.scan(cursor, count=10)
        assert batch == groups[b"bbb"][:10], "an evicted cursor resumes at the first key of its prefix"
        rest, _, _ = iterate(c, 10, cursor=cursor, via_double=True)
        seen = before + batch + rest
        assert set(seen) == everything
        assert len(seen) == len(everything) + 40  # bbb:000 ... bbb:039 came twice, nothing else


@kvnode_only
def test_evicted_cursor_of_a_short_key_never_skips():
    """The cursor after `a` carries `a\\0\\0`, which sorts after `a\\0`: the fallback drops the padding and resumes
    at `a`."""
    keys = [b"a", b"a\x00", b"a\x00\x00", b"a\x00\x00\x01", b"a\x01", b"b"]
    with start_server("--scan-cursor-table-size", "1") as srv, srv.client() as c, srv.client() as other:
        mset_bytes(c, keys)
        cursor, first = c.scan(0, count=1)
        assert first == [b"a"]
        other.scan(0, count=1)  # evicts ours
        rest, _, _ = iterate(c, 1, cursor=cursor, via_double=True)
        assert rest == keys  # `a` again, then every key in order


def cursor_layout(cursor):
    """(3 prefix bytes, id) of a kvnode cursor (docs/scan-cursors.md)."""
    return cursor >> 29, cursor & (2**29 - 1)


@kvnode_only
def test_cursor_with_another_prefix_does_not_take_an_iterations_entry(r2):
    """A cursor naming a live id but other prefix bytes (from another run, or made up) falls back to its own prefix
    and leaves the entry to the iteration it belongs to."""
    groups = {g: [g + b":%03d" % i for i in range(100)] for g in (b"aaa", b"bbb", b"ccc")}
    mset_bytes(r2, {k for keys in groups.values() for k in keys})
    cursor, _ = scan_until(r2, 0, 10, lambda key: key == b"bbb:039")
    prefix, cursor_id = cursor_layout(cursor)
    assert prefix == int.from_bytes(b"bbb", "big")
    _, batch = r2.scan(int.from_bytes(b"aaa", "big") << 29 | cursor_id, count=10)
    assert batch == groups[b"aaa"][:10]
    _, batch = r2.scan(cursor, count=10)
    assert batch == groups[b"bbb"][40:50]


@kvnode_only
def test_cursor_from_before_a_restart_does_not_take_a_new_iterations_entry():
    """Ids start at a random point in every run: an old iteration's cursor does not name the entry of an iteration
    started after the restart at the same place (which would resume after that one's key and skip keys)."""
    keys = [b"k:%04d" % i for i in range(300)]
    with start_server() as srv:
        with srv.client() as c:
            mset_bytes(c, keys)
            old_cursor, first = c.scan(0, count=10)
        srv.restart()
        with srv.client() as c, srv.client() as newcomer:
            new_cursor, _ = newcomer.scan(0, count=200)
            assert cursor_layout(new_cursor)[1] != cursor_layout(old_cursor)[1]
            rest, _, _ = iterate(c, 10, cursor=old_cursor, via_double=True)
    assert set(first + rest) == set(keys)


@kvnode_only
@pytest.mark.parametrize("keys", [AWKWARD_KEYS, {b"\xff\xff\xff" + b"%04d" % i for i in range(300)}],
                         ids=["awkward", "all-0xff-prefix"])
def test_cursors_evicted_again_and_again_never_skip_a_key(keys):
    """At calls 2, 4, 8, 16, ... two probes evict the iteration's cursor: keys may come twice, none is missed. Each
    fallback is followed by remembered cursors, so once the gaps are long enough the iteration ends."""
    with start_server("--scan-cursor-table-size", "2") as srv, srv.client() as c, srv.client() as other:
        mset_bytes(c, keys)
        seen, cursor, fallbacks = [], 0, 0
        for calls in range(1, 100_000):
            cursor, batch = c.scan(through_double(cursor), count=20)
            seen += batch
            if cursor == 0:
                break
            if calls & (calls - 1) == 0 and calls > 1:
                other.scan(0, count=1)
                other.scan(0, count=1)
                fallbacks += 1
        assert cursor == 0
        assert set(seen) == keys
        assert fallbacks > 0 and len(seen) > len(keys)  # the fallbacks did happen


@kvnode_only
def test_iterations_up_to_the_table_size_never_fall_back():
    """The table holds one position per iteration in progress: as many interleaved iterations as it has room for,
    over keys that share a long prefix, each visit every key exactly once in the fewest calls."""
    keys = {LONG_PREFIX + b"%04d" % i for i in range(300)}
    with start_server("--scan-cursor-table-size", "4") as srv:
        clients = [srv.client() for _ in range(4)]
        try:
            mset_bytes(clients[0], keys)
            cursors, seen, calls = [0] * 4, [[] for _ in clients], [0] * 4
            while any(calls[i] == 0 or cursors[i] for i in range(4)):
                for i, c in enumerate(clients):
                    if calls[i] == 0 or cursors[i]:
                        cursors[i], batch = c.scan(through_double(cursors[i]), count=7)
                        seen[i] += batch
                        calls[i] += 1
                        assert calls[i] <= calls_for(len(keys), 7)
            for keys_seen in seen:
                assert sorted(keys_seen) == sorted(keys)
        finally:
            for c in clients:
                c.close()


@kvnode_only
def test_cursor_issued_before_a_restart_never_skips():
    keys = {b"r:%04d" % i for i in range(200)} | {LONG_PREFIX + b"%03d" % i for i in range(200)}
    with start_server() as srv:
        with srv.client() as c:
            mset_bytes(c, keys)
            cursor, before = scan_until(c, 0, 15, lambda key: key >= b"r:0100")
            assert cursor != 0
        srv.restart()
        with srv.client() as c:
            rest, _, _ = iterate(c, 15, cursor=cursor, via_double=True)
    assert set(before + rest) == keys


@kvnode_only
def test_used_cursor_reused_falls_back_without_skipping(r2):
    keys = {LONG_PREFIX + b"%03d" % i for i in range(120)}
    mset_bytes(r2, keys)
    cursor, first = r2.scan(0, count=50)
    _, second = r2.scan(cursor, count=50)
    # Used once, the cursor is forgotten: again it resumes at its prefix, shared by every key, i.e. the start.
    cursor_again, again = r2.scan(cursor, count=50)
    assert again == first
    rest, _, _ = iterate(r2, 50, cursor=cursor_again, via_double=True)
    assert set(first + second + rest) == keys


@kvnode_only
def test_cursors_beyond_2_53_restart_from_the_first_key(r2):
    """No cursor kvnode issues is 2^53 or more (an older kvnode's were up to 2^63): resuming at the start is the
    one position sure to skip nothing."""
    keys = sorted({b"z:%03d" % i for i in range(30)} | {b"a:%03d" % i for i in range(30)})
    mset_bytes(r2, keys)
    for cursor in (DOUBLE_EXACT, 2**62 + 12345, 2**64 - 1):
        _, batch = r2.scan(cursor, count=5)
        assert batch == keys[:5]
    assert r2.execute_command("SCAN", "-1", "COUNT", "5")[1] == keys[:5]  # strtoul: -1 is 2^64 - 1


@kvnode_only
def test_table_size_is_validated():
    for bad in ("0", "4194305"):
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([kvnode_bin(), "--addr", "127.0.0.1:1", "--data", tmp,
                                   "--scan-cursor-table-size", bad],
                                  capture_output=True, text=True, timeout=30)
            assert done.returncode != 0
            assert "--scan-cursor-table-size must be between 1 and 4194304" in done.stderr
