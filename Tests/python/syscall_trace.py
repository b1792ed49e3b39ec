"""A kvnode-server run under strace, and a parser for the trace: which syscalls ran, on which file or socket, in
which order. The durability tests read fsync/fdatasync/syncfs and the writes around them from it.

The trace is `strace -f -tt -yy` output in one file. strace handles one event at a time, so the order of its lines
is the order of the events: a call printed whole ran between the lines before and after it; a call that another
thread interrupted is split into `name(args <unfinished ...>` (entry) and `<... name resumed>...` (exit), matched here
by thread id. A syscall "completed before" another when its exit line comes before the other's entry line.
"""

from __future__ import annotations

import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from snapshot_tools import KVNode

SYNC_CALLS = ("fsync", "fdatasync", "syncfs")
WRITE_CALLS = ("write", "writev", "pwrite64", "pwritev", "sendmsg", "sendto")
TRACED = ",".join(SYNC_CALLS + WRITE_CALLS)

_LINE = re.compile(r"^(\d+)\s+(\d\d):(\d\d):(\d\d\.\d+)\s+(.*)$")
_UNFINISHED = re.compile(r"^(\w+)\((.*) <unfinished \.\.\.>$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_WHOLE = re.compile(r"^(\w+)\((.*)$")
# -yy annotates a descriptor with its path, or a socket with its addresses ("TCP:[a:1->b:2]", which holds a ">").
_FD = re.compile(r"^(\d+)<((?:TCP|TCPv6|UDP|UNIX)[^\]]*\]|[^>]*)>")


@dataclass
class Call:
    """One syscall: `start`/`end` are the indexes of its entry and exit lines, `at` its entry time (s)."""
    tid: int
    name: str
    target: str  # the path or socket -yy printed for the first argument, "" when there is none
    text: str  # the arguments (and result) as printed, string arguments cut at strace's -s length
    start: int
    end: int
    at: float

    @property
    def is_sync(self) -> bool:
        return self.name in SYNC_CALLS

    @property
    def is_write(self) -> bool:
        return self.name in WRITE_CALLS


def parse(path: str | os.PathLike) -> list[Call]:
    """The syscalls of a trace, in the order of their entry lines."""
    calls: list[Call] = []
    open_calls: dict[int, Call] = {}
    day = 0.0
    last = 0.0
    for index, line in enumerate(Path(path).read_text(errors="replace").splitlines()):
        m = _LINE.match(line)
        if not m:
            continue
        tid = int(m.group(1))
        at = int(m.group(2)) * 3600 + int(m.group(3)) * 60 + float(m.group(4)) + day
        if at + 3600 < last:  # the clock passed midnight
            day += 86400
            at += 86400
        last = at
        rest = m.group(5)
        if rest.startswith(("---", "+++")):  # a signal or an exit
            continue
        if u := _UNFINISHED.match(rest):
            call = Call(tid, u.group(1), _target(u.group(2)), u.group(2), index, -1, at)
            open_calls[tid] = call
            calls.append(call)
        elif r := _RESUMED.match(rest):
            call = open_calls.pop(tid, None)
            if call is not None and call.name == r.group(1):
                call.end = index
                call.text += r.group(2)
        elif w := _WHOLE.match(rest):
            calls.append(Call(tid, w.group(1), _target(w.group(2)), w.group(2), index, index, at))
    for call in open_calls.values():  # still running when the trace ended (the process was killed)
        call.end = 1 << 62
    return calls


def _target(args: str) -> str:
    m = _FD.match(args)
    return m.group(2) if m else ""


class TracedKVNode(KVNode):
    """kvnode-server started under `strace -f`, tracing syncs and writes of every thread into `trace_path`."""

    def __init__(self, base_dir: str, *extra: str):
        super().__init__(base_dir, *extra)
        self.trace_path = os.path.join(base_dir, "strace.out")
        self._log_path: re.Pattern | None = None
        # -s: enough of each written string to find a test's marker in it.
        self.wrapper = ["strace", "-f", "-tt", "-yy", "-s", "4096", "-e", f"trace={TRACED}", "-o", self.trace_path]

    @property
    def server_pid(self) -> int:
        """The traced kvnode-server itself (the child of strace)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        assert len(children) == 1, children
        return int(children[0])

    def signal(self, sig: int) -> int:
        """Sends `sig` to the server (not to strace) and returns its exit status."""
        os.kill(self.server_pid, sig)
        return self.proc.wait(60)

    def crash(self) -> None:
        """SIGKILL: no shutdown sync. strace exits with it, having written all of the trace."""
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGKILL)

    def calls(self) -> list[Call]:
        assert self.proc is None or self.proc.poll() is not None, "read the trace once the server has exited"
        return parse(self.trace_path)

    def is_log(self, call: Call) -> bool:
        """A write to a LevelDB write-ahead log (DATA/NNNNNN.log) of this server."""
        if not call.is_write:
            return False
        if self._log_path is None:
            self._log_path = re.compile(re.escape(self.real_data_dir) + r"/\d+\.log")
        return self._log_path.fullmatch(call.target) is not None

    def carries_data(self, call: Call) -> bool:
        """A log append of a write batch with data in it. LevelDB also appends a batch with no data when asked to
        sync (kvnode's Store.sync): that record is 19 bytes, a 7-byte log header and a 12-byte empty batch."""
        written = re.search(r"= (\d+)$", call.text)
        return self.is_log(call) and written is not None and int(written.group(1)) > 19

    @property
    def real_data_dir(self) -> str:
        return os.path.realpath(self.data_dir)


def to_client(call: Call, client_port: int) -> bool:
    """A write to the server's socket of the client whose local port is `client_port`."""
    return call.is_write and call.target.startswith("TCP:[") and call.target.endswith(f"->127.0.0.1:{client_port}]")


def wait_for(predicate, timeout: float, what: str):
    """Polls `predicate` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)
