"""Blocking commands on connections of their own (each on a thread, so across the server's event loops), shared by
test_blocking.py and test_zset_blocking.py."""

from __future__ import annotations

import queue
import threading

from conftest import wait_until


class Blocked:
    """A blocking command running on a connection of its own; `result()` waits (bounded) for its reply."""

    def __init__(self, server, *args, protocol: int = 2, db: int = 0):
        self.client = server.client(protocol=protocol, db=db)
        self.id = self.client.client_id()
        self.replies: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=args, daemon=True)
        self.thread.start()

    def _run(self, *args):
        try:
            self.replies.put(self.client.execute_command(*args))
        except Exception as error:  # noqa: BLE001 - the test looks at it
            self.replies.put(error)

    def result(self, timeout: float = 10.0):
        value = self.replies.get(timeout=timeout)
        self.client.close()
        return value

    def done(self) -> bool:
        return not self.replies.empty()


def blocked_ids(r) -> set[int]:
    return {int(c["id"]) for c in r.client_list() if "b" in c["flags"]}


def block(server, r, *args, protocol: int = 2) -> Blocked:
    """Starts a blocking command and waits until the server lists its client as blocked."""
    waiter = Blocked(server, *args, protocol=protocol)
    wait_until(lambda: waiter.id in blocked_ids(r), message=f"{args} to block")
    return waiter
