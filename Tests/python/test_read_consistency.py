"""GET runs without the store lock when its connection has no pending writes; these tests check that it still
never shows a state that did not exist: no torn FLUSHDB, no value going backwards."""

from __future__ import annotations

import threading


def test_get_never_sees_a_half_flushed_keyspace(server, r2):
    count = 200_000
    with server.client() as loader:
        pipe = loader.pipeline(transaction=False)
        for index in range(count):
            pipe.set(b"k%06d" % index, b"v")
            if index % 10_000 == 9_999:
                pipe.execute()
        pipe.execute()
    early, late = b"k000000", b"k%06d" % (count - 1)
    torn = []
    done = threading.Event()

    def reader():
        with server.client() as r:
            while not done.is_set():
                # FLUSHDB deletes in key order: once the early key is gone, the late one must be gone too.
                first = r.get(early)
                second = r.get(late)
                if first is None and second is not None:
                    torn.append((first, second))
                if first is None and second is None:
                    return

    thread = threading.Thread(target=reader)
    thread.start()
    r2.flushdb()
    done.set()
    thread.join(30)
    assert not torn


def test_get_never_goes_backwards_under_concurrent_increments(server):
    stop = threading.Event()

    def writer():
        with server.client() as w:
            while not stop.is_set():
                w.incr("counter")

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        with server.client() as r:
            last = 0
            for _ in range(3000):
                value = int(r.get("counter") or 0)
                assert value >= last
                last = value
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
