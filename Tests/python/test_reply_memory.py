"""Small reads of a huge collection cost memory in proportion to their reply, not to the key.

Each test builds one key of a million elements (a list, a sorted set, a hash) in a server of its own, bulk-loaded
through `redis-cli --pipe`, restarts the server so that none of the load's memory is left resident, waits until it is
idle (its files stop changing: LevelDB's compactions are done), resets the process's peak resident size (`5` into
/proc/PID/clear_refs) and then runs small reads (LRANGE 0 9, ZRANGE 0 9, HSCAN ... COUNT 10 and their kin, at both ends
and in the middle) in a loop. The peak resident size (VmHWM) may then grow by at most a quarter of the key's bytes:
reading the whole key into memory, even once and for a moment, would take at least all of them. Redis passes too
(KVNODE_TARGET=redis), which checks that the bound leaves room for what a server legitimately allocates.

Linux only (/proc). Nothing is timed: the waits are bounded polls."""

from __future__ import annotations

import os
import time

import pytest

from conftest import TARGET, Raw, start_server
from snapshot_tools import encode_command, pipe_into, require_redis_tools  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.usefixtures("require_redis_tools"), pytest.mark.timeout(900)]

ELEMENTS = 1_000_000
ITEM = 40  # bytes of every item, member, field value
PER_COMMAND = 1_000
READ_ROUNDS = 200


def status(pid: int) -> dict[str, int]:
    """/proc/PID/status's sizes, in bytes."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[name] = int(parts[0]) * 1024
    return out


def data_files(srv) -> set[tuple[str, int]]:
    """The server's data files and their sizes."""
    return {(entry.name, entry.stat().st_size) for entry in os.scandir(srv.data_dir) if entry.is_file()}


def wait_until_idle(srv, quiet_polls: int = 4, interval: float = 0.5, timeout: float = 300) -> None:
    """Polls until the server's data files have not changed for `quiet_polls` polls in a row: LevelDB's compactions
    are done, so none reads tables or fills buffers while memory is measured."""
    deadline = time.monotonic() + timeout
    last, quiet = data_files(srv), 0
    while quiet < quiet_polls:
        assert time.monotonic() < deadline, "the server kept writing its files"
        time.sleep(interval)
        current = data_files(srv)
        quiet = quiet + 1 if current == last else 0
        last = current


def item(prefix: bytes, i: int) -> bytes:
    return (prefix + b":%09d:" % i).ljust(ITEM, b"x")


def load(srv, command: bytes, key: bytes, args_for) -> int:
    """Bulk-loads ELEMENTS elements with `command key args...`, PER_COMMAND a command; returns the key's bytes."""
    commands = []
    total = 0
    for start in range(0, ELEMENTS, PER_COMMAND):
        args = [a for i in range(start, start + PER_COMMAND) for a in args_for(i)]
        total += sum(map(len, args))
        commands.append(encode_command(command, key, *args))
    assert pipe_into(srv.port, b"".join(commands)) == f"errors: 0, replies: {ELEMENTS // PER_COMMAND}"
    return total


def peak_growth(srv, reads, samples) -> tuple[int, int]:
    """Restarts the server (none of the load's memory stays resident), waits until it is idle, resets its peak
    resident size, runs `reads(client)` READ_ROUNDS times and `samples(client)` once; returns (peak growth,
    resident size before). Random samples land on other blocks each time, which LevelDB's block cache keeps: run
    in a loop they would measure the cache, so they run once."""
    if TARGET == "kvnode":
        srv.restart()
    wait_until_idle(srv)
    with srv.client() as c:
        reads(c)  # first touches: connection, index blocks, the key's ends
        with open(f"/proc/{srv.pid}/clear_refs", "w") as f:
            f.write("5")  # VmHWM := the current VmRSS
        before = status(srv.pid)["VmRSS"]
        for _ in range(READ_ROUNDS):
            reads(c)
        samples(c)
    return status(srv.pid)["VmHWM"] - before, before


@pytest.fixture
def big():
    # Redis with one database, as the other tests; kvnode with its defaults.
    with start_server() as srv:
        yield srv


def check(srv, key_bytes: int, reads, samples) -> None:
    growth, before = peak_growth(srv, reads, samples)
    bound = key_bytes // 4
    print(f"{TARGET}: key {key_bytes >> 20} MiB, resident before {before >> 20} MiB, peak growth "
          f"{growth / (1 << 20):.1f} MiB, bound {bound >> 20} MiB")
    assert growth < bound, (growth, bound)


def test_list_reads_are_bounded_by_the_reply(big):
    key_bytes = load(big, b"RPUSH", b"list", lambda i: [item(b"i", i)])

    def reads(c):
        assert c.lrange("list", 0, 9) == [item(b"i", i) for i in range(10)]
        assert c.lrange("list", -10, -1) == [item(b"i", i) for i in range(ELEMENTS - 10, ELEMENTS)]
        assert len(c.lrange("list", 500_000, 500_009)) == 10
        assert c.lindex("list", 500_000) == item(b"i", 500_000)
        assert c.lindex("list", -1) == item(b"i", ELEMENTS - 1)
        assert c.lpos("list", item(b"i", 3), maxlen=10) == 3
        assert c.llen("list") == ELEMENTS

    check(big, key_bytes, reads, lambda c: None)


def test_sorted_set_reads_are_bounded_by_the_reply(big):
    key_bytes = load(big, b"ZADD", b"zset", lambda i: [b"%d" % i, item(b"m", i)])

    def reads(c):
        assert c.zrange("zset", 0, 9) == [item(b"m", i) for i in range(10)]
        assert c.zrange("zset", -10, -1) == [item(b"m", i) for i in range(ELEMENTS - 10, ELEMENTS)]
        assert c.zrevrange("zset", 0, 9) == [item(b"m", i) for i in range(ELEMENTS - 1, ELEMENTS - 11, -1)]
        assert len(c.zrange("zset", "-inf", "+inf", byscore=True, offset=0, num=10)) == 10
        assert len(c.zrange("zset", "+inf", "-inf", byscore=True, desc=True, offset=0, num=10)) == 10
        assert len(c.zrangebyscore("zset", 500_000, 500_009)) == 10
        assert c.zcount("zset", 500_000, "(500010") == 10
        assert c.zscore("zset", item(b"m", 500_000)) == 500_000
        assert c.zrank("zset", item(b"m", 5)) == 5
        assert c.zrevrank("zset", item(b"m", ELEMENTS - 5)) == 4
        cursor, page = c.zscan("zset", 0, count=10)
        assert page
        assert c.zcard("zset") == ELEMENTS

    def samples(c):
        assert len(set(c.zrandmember("zset", 5))) == 5

    check(big, key_bytes, reads, samples)


def test_hash_reads_are_bounded_by_the_reply(big):
    key_bytes = load(big, b"HSET", b"hash", lambda i: [b"f%09d" % i, item(b"v", i)])

    def reads(c):
        cursor = 0
        for _ in range(5):
            cursor, page = c.hscan("hash", cursor, count=10)
            assert page and cursor != 0
        assert c.hget("hash", b"f%09d" % 500_000) == item(b"v", 500_000)
        assert c.hmget("hash", [b"f%09d" % i for i in (0, 999_999)]) == [item(b"v", 0), item(b"v", 999_999)]
        assert c.hexists("hash", b"f%09d" % 7)
        assert c.hstrlen("hash", b"f%09d" % 7) == ITEM
        assert c.hlen("hash") == ELEMENTS

    def samples(c):
        assert len(c.hrandfield("hash", 5, withvalues=True)) == 10

    check(big, key_bytes, reads, samples)


def test_a_whole_sorted_set_costs_its_reply_not_a_copy_of_its_members(big):
    """ZRANGE 0 -1 of a million members streams from the score index into the reply: the peak grows by less than
    twice the reply's bytes (the least of three runs) (it grew by three times, 137 MiB for a 45 MiB reply, while the members were first
    collected). A full ZCOUNT first fills LevelDB's block cache, once the server is idle, which would otherwise count
    too."""
    load(big, b"ZADD", b"zset", lambda i: [b"%d" % i, item(b"m", i)])
    if TARGET == "kvnode":
        big.restart()
    wait_until_idle(big)  # a compaction after the warm-up would leave the cache holding blocks of deleted files
    with big.client() as c:
        assert c.zcount("zset", "-inf", "+inf") == ELEMENTS
    for command in (("ZRANGE", "zset", "0", "-1"), ("ZREVRANGE", "zset", "0", "-1"),
                    ("ZRANGE", "zset", "0", "-1", "WITHSCORES")):
        growths = []
        # The reply buffer's growth sometimes copies it (twice the reply for a moment): the least of three runs is
        # what the command itself needs.
        for _ in range(3):
            wait_until_idle(big)
            with open(f"/proc/{big.pid}/clear_refs", "w") as f:
                f.write("5")
            before = status(big.pid)["VmRSS"]
            with Raw(big.host, big.port, timeout=120) as r:
                reply = len(r.cmd(*command))
            growths.append(status(big.pid)["VmHWM"] - before)
        print(f"{TARGET}: {' '.join(command)}: reply {reply / (1 << 20):.1f} MiB, peak growth "
              f"{', '.join(f'{g / (1 << 20):.1f}' for g in growths)} MiB")
        assert min(growths) < 2 * reply, (command, growths, reply)
