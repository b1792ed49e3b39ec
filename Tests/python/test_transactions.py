"""MULTI / EXEC / DISCARD / WATCH / UNWATCH, byte for byte as Redis 7 replies (checked with KVNODE_TARGET=redis)."""

import threading
import time

import pytest

from conftest import Workers, now_ms, wait_past, wait_until

EXECABORT = b"-EXECABORT Transaction discarded because of previous errors.\r\n"


def test_queue_and_exec(raw):
    c = raw()
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("SET", "a", "1") == b"+QUEUED\r\n"
    assert c.cmd("GET", "a") == b"+QUEUED\r\n"
    assert c.cmd("EXEC") == b"*2\r\n+OK\r\n$1\r\n1\r\n"
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("EXEC") == b"*0\r\n"


def test_errors_outside_and_inside_multi(raw):
    c = raw()
    assert c.cmd("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert c.cmd("DISCARD") == b"-ERR DISCARD without MULTI\r\n"
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("MULTI") == b"-ERR MULTI calls can not be nested\r\n"
    assert c.cmd("WATCH", "a") == b"-ERR WATCH inside MULTI is not allowed\r\n"
    # Neither error dooms the transaction.
    assert c.cmd("SET", "a", "1") == b"+QUEUED\r\n"
    assert c.cmd("EXEC") == b"*1\r\n+OK\r\n"


@pytest.mark.parametrize("bad, error", [
    (("SET", "a"), b"-ERR wrong number of arguments for 'set' command\r\n"),
    (("NOSUCH", "x"), b"-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n"),
    (("CLIENT", "NOSUCH"), b"-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n"),
    (("SHUTDOWN",), b"-ERR Command not allowed inside a transaction\r\n"),
    (("MULTI", "x"), b"-ERR wrong number of arguments for 'multi' command\r\n"),
])
def test_a_refused_command_aborts_exec(raw, bad, error):
    c = raw()
    assert c.cmd("MULTI") == b"+OK\r\n"
    assert c.cmd("SET", "b", "1") == b"+QUEUED\r\n"
    assert c.cmd(*bad) == error
    assert c.cmd("SET", "c", "1") == b"+QUEUED\r\n"
    assert c.cmd("EXEC") == EXECABORT
    assert c.cmd("EXISTS", "b", "c") == b":0\r\n"  # nothing ran
    assert c.cmd("EXEC") == b"-ERR EXEC without MULTI\r\n"  # and the transaction is over


def test_exec_with_arguments_aborts_with_the_reason(raw):
    c = raw()
    c.cmd("MULTI")
    assert c.cmd("EXEC", "x") == (b"-EXECABORT Transaction discarded because of: "
                                  b"wrong number of arguments for 'exec' command\r\n")
    assert c.cmd("EXEC") == b"-ERR EXEC without MULTI\r\n"


def test_runtime_errors_are_reported_per_command(raw):
    c = raw()
    c.cmd("MULTI")
    c.cmd("SET", "a", "1")
    c.cmd("SET", "a", "2", "EX", "-1")
    c.cmd("GET", "a")
    assert c.cmd("EXEC") == b"*3\r\n+OK\r\n-ERR invalid expire time in 'set' command\r\n$1\r\n1\r\n"


def test_discard(raw):
    c = raw()
    c.cmd("MULTI")
    c.cmd("SET", "a", "1")
    assert c.cmd("DISCARD") == b"+OK\r\n"
    assert c.cmd("GET", "a") == b"$-1\r\n"


def test_reset_and_quit_run_inside_multi(raw):
    c = raw()
    c.cmd("MULTI")
    assert c.cmd("RESET") == b"+RESET\r\n"
    assert c.cmd("EXEC") == b"-ERR EXEC without MULTI\r\n"
    c.cmd("MULTI")
    assert c.cmd("QUIT") == b"+OK\r\n"
    assert c.read_until_closed() == b""


def test_unwatch_inside_multi_is_queued(raw):
    c = raw()
    c.cmd("MULTI")
    assert c.cmd("UNWATCH") == b"+QUEUED\r\n"
    assert c.cmd("EXEC") == b"*1\r\n+OK\r\n"


def test_exec_null_reply_is_resp3_null(raw):
    a, b = raw(), raw()
    a.cmd("HELLO", "3")
    a.cmd("WATCH", "k")
    b.cmd("SET", "k", "1")
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") == b"_\r\n"


# --- WATCH --------------------------------------------------------------------------------------------------------

def watch_then_exec(a, *between):
    """WATCH k on `a`, run `between` (callables), then MULTI/PING/EXEC on `a`; returns EXEC's reply."""
    assert a.cmd("WATCH", "k") == b"+OK\r\n"
    for step in between:
        step()
    a.cmd("MULTI")
    a.cmd("PING")
    return a.cmd("EXEC")


ABORTED = b"*-1\r\n"
RAN = b"*1\r\n+PONG\r\n"


def test_watch_sees_a_write_by_another_client(raw):
    a, b = raw(), raw()
    assert watch_then_exec(a, lambda: b.cmd("SET", "k", "1")) == ABORTED


def test_watch_sees_its_own_write(raw):
    a = raw()
    assert watch_then_exec(a, lambda: a.cmd("SET", "k", "1")) == ABORTED


def test_watch_sees_a_delete_but_not_a_delete_of_nothing(raw):
    a, b = raw(), raw()
    assert watch_then_exec(a, lambda: b.cmd("DEL", "k")) == RAN
    b.cmd("SET", "k", "1")
    assert watch_then_exec(a, lambda: b.cmd("DEL", "k")) == ABORTED


def test_watch_sees_an_overwrite_with_the_same_value(raw):
    a, b = raw(), raw()
    b.cmd("SET", "k", "1")
    assert watch_then_exec(a, lambda: b.cmd("SET", "k", "1")) == ABORTED


def test_watch_ignores_a_write_that_did_not_happen(raw):
    a, b = raw(), raw()
    b.cmd("SET", "k", "1")
    assert watch_then_exec(a, lambda: b.cmd("SET", "k", "2", "NX")) == RAN


def set_expiring_then_watch(a) -> int:
    """SET k with a short expiry and WATCH it while it lives; returns a time (Unix ms) by which k has expired. A PTTL
    after the WATCH shows the watch saw a live key; on a machine too loaded for that, a longer PX is tried."""
    for px in (250, 1000, 4000):
        assert a.cmd("SET", "k", "1", "PX", str(px)) == b"+OK\r\n"
        expired_by = now_ms() + px
        assert a.cmd("WATCH", "k") == b"+OK\r\n"
        if int(a.cmd("PTTL", "k")[1:]) > 0:
            return expired_by
        assert a.cmd("UNWATCH") == b"+OK\r\n"
    pytest.fail("k expired before WATCH even with PX 4000")


def test_watch_sees_expiry(raw):
    a = raw()
    wait_past(set_expiring_then_watch(a))
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") == ABORTED


def test_watch_sees_expiry_noticed_by_another_client(raw):
    a, b = raw(), raw()
    wait_past(set_expiring_then_watch(a))
    assert b.cmd("GET", "k") == b"$-1\r\n"
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") == ABORTED


def test_watch_of_an_already_expired_key_is_not_a_change(raw):
    a = raw()
    a.cmd("SET", "k", "1", "PX", "20")
    wait_past(now_ms() + 20)
    assert watch_then_exec(a) == RAN


def test_watch_sees_flushdb_only_for_keys_that_existed(raw):
    a, b = raw(), raw()
    assert watch_then_exec(a, lambda: b.cmd("FLUSHDB")) == RAN
    b.cmd("SET", "k", "1")
    assert watch_then_exec(a, lambda: b.cmd("FLUSHALL")) == ABORTED


def test_unwatch_discard_and_exec_forget_watches(raw):
    a, b = raw(), raw()
    assert watch_then_exec(a, lambda: b.cmd("SET", "k", "1"), lambda: a.cmd("UNWATCH")) == RAN
    a.cmd("WATCH", "k")
    b.cmd("SET", "k", "2")
    a.cmd("MULTI")
    a.cmd("DISCARD")
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") == RAN
    # An EXEC that failed on WATCH also unwatches, and so does EXECABORT.
    assert watch_then_exec(a, lambda: b.cmd("SET", "k", "3")) == ABORTED
    b.cmd("SET", "k", "4")
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") == RAN


def test_watch_several_keys_and_repeats(raw):
    a, b = raw(), raw()
    assert a.cmd("WATCH", "x", "y", "x") == b"+OK\r\n"
    assert a.cmd("WATCH", "k") == b"+OK\r\n"  # WATCH adds to the watched set
    b.cmd("SET", "y", "1")
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") == ABORTED


def test_watch_of_a_disconnected_client_is_forgotten(raw, r2):
    a = raw()
    gone = int(a.cmd("CLIENT", "ID")[1:])
    a.cmd("WATCH", "k")
    a.close()
    b = raw()
    # Touching the key must not reach the closed client's state, whether the server has seen it leave yet or not.
    assert b.cmd("SET", "k", "1") == b"+OK\r\n"
    wait_until(lambda: str(gone) not in [c["id"] for c in r2.client_list()],
               message=f"client {gone} to leave CLIENT LIST")
    assert b.cmd("SET", "k", "2") == b"+OK\r\n"
    assert b.cmd("GET", "k") == b"$1\r\n2\r\n"
    assert watch_then_exec(b) == RAN


# --- atomicity ----------------------------------------------------------------------------------------------------

def run_with_readers(server, read, transaction, rounds: int, readers: int = 4) -> tuple[list, int]:
    """Runs `transaction(pipeline, i)` for i = 1, 2, ... while `readers` connections (spread over the server's event
    loops) call `read(client)` in a loop. Returns every value `read` reported as wrong, and the last round.

    The writer starts once every reader has read, and goes on past `rounds` until every reader has also completed
    reads while transactions were running (bounded by a deadline), so no reader can be idle or merely before or
    after the writes. A reader's exception fails the test."""
    wrong = []
    reads = [0] * readers  # every read of each reader
    during = [0] * readers  # reads sent after the first transaction was sent and answered before the last's reply
    writing, written = threading.Event(), threading.Event()

    def reader(n, stop):
        with server.client() as r:
            while not stop.is_set():
                began = writing.is_set()
                problem = read(r)
                reads[n] += 1
                if began and not written.is_set():
                    during[n] += 1
                if problem is not None:
                    wrong.append(problem)

    with Workers() as workers, server.client() as writer:
        for n in range(readers):
            workers.start(f"reader {n}", reader, n, workers.stop)
        workers.wait_until(lambda: all(reads), message=lambda: f"every reader to read once: {reads}")
        writing.set()
        deadline = time.monotonic() + 60
        i = 0
        while i < rounds or not all(during):
            assert time.monotonic() < deadline, f"readers that never read while transactions ran: {during}"
            workers.check()
            i += 1
            pipe = writer.pipeline()
            transaction(pipe, i)
            assert all(pipe.execute())
        written.set()
    return wrong, i


def test_exec_is_isolated_from_concurrent_readers(server):
    """A transaction sets two keys to the same new value; readers must never see them differ."""
    with server.client() as c:
        c.mset({"x": 0, "y": 0})

    def read(r):
        x, y = r.mget("x", "y")
        return (x, y) if x != y else None
    torn, last = run_with_readers(server, read, lambda pipe, i: pipe.set("x", i).set("y", i), rounds=300)
    assert not torn, torn[:5]
    with server.client() as c:
        assert c.mget("x", "y") == [str(last).encode()] * 2


def test_large_transaction_is_applied_whole(raw):
    c = raw()
    c.cmd("MULTI")
    n = 5000  # more than one commit batch's worth of writes
    c.send(b"".join(b"*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$1\r\nv\r\n" % (len(b"k%d" % i), i) for i in range(n)))
    for _ in range(n):
        assert c.reply() == b"+QUEUED\r\n"
    reply = c.cmd("EXEC")
    assert reply.startswith(b"*%d\r\n" % n) and reply.count(b"+OK") == n
    assert c.cmd("DBSIZE") == b":%d\r\n" % n


def test_watch_sees_expire_persist_and_incr(raw):
    a, b = raw(), raw()
    b.cmd("SET", "k", "1")
    assert watch_then_exec(a, lambda: b.cmd("PEXPIRE", "k", "100000")) == ABORTED
    assert watch_then_exec(a, lambda: b.cmd("PERSIST", "k")) == ABORTED
    assert watch_then_exec(a, lambda: b.cmd("PERSIST", "k")) == RAN  # nothing to persist: no change
    assert watch_then_exec(a, lambda: b.cmd("INCR", "k")) == ABORTED


def test_watch_sees_expiry_by_the_background_sweeper(raw, r2):
    a = raw()
    swept_before = r2.info("stats")["expired_keys"]
    set_expiring_then_watch(a)
    # Nothing reads k from here on: only the sweeper (Redis's active expiry) can remove it and count it.
    wait_until(lambda: r2.info("stats")["expired_keys"] == swept_before + 1, message="k removed by the sweeper")
    a.cmd("MULTI")
    a.cmd("PING")
    assert a.cmd("EXEC") == ABORTED


def test_incr_inside_multi(raw):
    c = raw()
    c.cmd("MULTI")
    c.cmd("INCR", "n")
    c.cmd("INCRBY", "n", "10")
    c.cmd("SET", "s", "x")
    c.cmd("INCR", "s")
    assert c.cmd("EXEC") == (b"*4\r\n:1\r\n:11\r\n+OK\r\n"
                             b"-ERR value is not an integer or out of range\r\n")


def test_exec_with_flushdb_is_isolated_from_single_key_readers(server):
    """FLUSHDB inside a transaction removes keys in several batches; a GET on another connection (which kvnode may
    serve without the store lock) must still see the keyspace before or after the whole transaction."""
    with server.client() as c:
        c.set("x", 0)
    missing, last = run_with_readers(server, lambda r: "nil" if r.get("x") is None else None,
                                     lambda pipe, i: pipe.flushdb().set("x", i), rounds=100, readers=3)
    assert not missing, f"{len(missing)} reads saw the keyspace between FLUSHDB and the SET of one transaction"
    with server.client() as c:
        assert c.get("x") == str(last).encode()
