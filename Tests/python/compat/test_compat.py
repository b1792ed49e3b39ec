"""Client compatibility suite: the Python `redis` client used as applications use it.

Every case runs in 8 variants: RESP2 and RESP3, with the hiredis parser and with redis-py's own, through the sync
API and through redis.asyncio. KVNODE_TARGET=redis runs it against Redis itself.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import ResponseError, WatchError

from clients import VARIANTS, Variant, aw, collect, next_item
from conftest import Workers


@pytest.fixture(params=VARIANTS, ids=lambda v: v.id)
def variant(request) -> Variant:
    return request.param


async def concurrently(variant: Variant, count: int, body) -> None:
    """Runs the coroutines body(0) ... body(count - 1) at the same time: as tasks with redis.asyncio, each in its own
    thread (and event loop) with the blocking client. Fails if any of them fails or does not finish."""
    if variant.is_async:
        await asyncio.gather(*(body(n) for n in range(count)))
        return
    with Workers(timeout=120) as workers:
        for n in range(count):
            workers.start(f"client {n}", asyncio.run, body(n))


async def eventually(check, timeout: float = 10.0):
    """Polls `check` (a coroutine function returning a bool) until it is true or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# --- strings --------------------------------------------------------------------------------------------------------

def test_connection_uses_the_requested_parser(variant, server):
    async def case(r):
        await aw(r.ping())
        pool = r.connection_pool
        connection = await aw(pool.get_connection())
        try:
            assert isinstance(connection._parser, variant.parser_class())
            assert connection.protocol == variant.protocol
        finally:
            await aw(pool.release(connection))
    variant.run(case, server)


def test_set_get_with_options(variant, server):
    async def case(r):
        assert await aw(r.set("k", "v")) is True
        assert await aw(r.get("k")) == "v"
        assert await aw(r.set("k", "w", nx=True)) is None
        assert await aw(r.set("new", "x", xx=True)) is None
        assert await aw(r.get("new")) is None
        assert await aw(r.set("k", "w", xx=True)) is True
        assert await aw(r.set("fresh", "1", nx=True)) is True
        assert await aw(r.set("k", "old-returned", get=True)) == "w"
        assert await aw(r.set("ex", "1", ex=100)) is True
        assert await aw(r.set("px", "1", px=60)) is True
        assert await aw(r.get("px")) in ("1", None)

        async def expired():
            return await aw(r.get("px")) is None
        await eventually(expired)
        assert await aw(r.get("ex")) == "1"
        with pytest.raises(ResponseError, match="invalid expire time"):
            await aw(r.set("k", "v", ex=0))
        binary = bytes(range(256)).decode("latin-1")
        await aw(r.set("bin", binary))
        assert await aw(r.get("bin")) == binary
    variant.run(case, server)


def test_mset_mget(variant, server):
    async def case(r):
        assert await aw(r.mset({"a": "1", "b": "2", "c": "3"})) is True
        assert await aw(r.mget("a", "b", "missing", "c")) == ["1", "2", None, "3"]
        assert await aw(r.mget(["c", "a"])) == ["3", "1"]
    variant.run(case, server)


def test_delete_and_exists(variant, server):
    async def case(r):
        await aw(r.mset({"a": "1", "b": "2"}))
        assert await aw(r.exists("a", "b", "missing")) == 2
        assert await aw(r.delete("a", "missing")) == 1
        assert await aw(r.exists("a")) == 0
        assert await aw(r.delete("a")) == 0
    variant.run(case, server)


def test_incr_decr(variant, server):
    async def case(r):
        assert await aw(r.incr("n")) == 1
        assert await aw(r.incr("n", 10)) == 11
        assert await aw(r.decr("n")) == 10
        assert await aw(r.decr("n", 15)) == -5
        assert await aw(r.get("n")) == "-5"
        await aw(r.set("s", "abc"))
        with pytest.raises(ResponseError, match="not an integer"):
            await aw(r.incr("s"))
    variant.run(case, server)


def test_expire_ttl_persist(variant, server):
    async def case(r):
        await aw(r.set("k", "v"))
        assert await aw(r.ttl("k")) == -1
        assert await aw(r.ttl("missing")) == -2
        assert await aw(r.expire("k", 100)) is True
        assert 0 < await aw(r.ttl("k")) <= 100
        assert await aw(r.persist("k")) is True
        assert await aw(r.ttl("k")) == -1
        assert await aw(r.persist("k")) is False
        assert await aw(r.expire("missing", 10)) is False
    variant.run(case, server)


# --- keyspace iteration ---------------------------------------------------------------------------------------------

def test_scan_iter_returns_every_key_once(variant, server):
    async def case(r):
        keys = {f"key:{i:05d}" for i in range(10_000)}
        ordered = sorted(keys)
        for start in range(0, len(ordered), 1000):
            await aw(r.mset({k: "x" for k in ordered[start:start + 1000]}))
        seen = await collect(r.scan_iter(count=500))
        assert len(seen) == len(keys), "a key was returned twice or missed"
        assert set(seen) == keys
        matched = await collect(r.scan_iter(match="key:0001*", count=100))
        assert sorted(matched) == [k for k in ordered if k.startswith("key:0001")]
    variant.run(case, server)


def test_keys(variant, server):
    async def case(r):
        await aw(r.mset({"user:1": "a", "user:2": "b", "order:1": "c"}))
        assert sorted(await aw(r.keys("user:*"))) == ["user:1", "user:2"]
        assert sorted(await aw(r.keys())) == ["order:1", "user:1", "user:2"]
        assert await aw(r.keys("nothing*")) == []
    variant.run(case, server)


# --- pipelines and transactions -------------------------------------------------------------------------------------

def test_pipeline_without_transaction(variant, server):
    async def case(r):
        pipe = r.pipeline(transaction=False)
        pipe.set("a", "1").get("a").mset({"b": "2", "c": "3"}).mget("a", "b", "c").delete("c").get("c")
        assert await aw(pipe.execute()) == [True, "1", True, ["1", "2", "3"], 1, None]
    variant.run(case, server)


def test_pipeline_with_transaction(variant, server):
    async def case(r):
        pipe = r.pipeline()  # MULTI ... EXEC
        pipe.set("a", "1").get("a").exists("a", "b").delete("a")
        assert await aw(pipe.execute()) == [True, "1", 1, 1]
        assert await aw(r.get("a")) is None
    variant.run(case, server)


def test_transaction_reports_runtime_errors_per_command(variant, server):
    async def case(r):
        pipe = r.pipeline()
        pipe.set("a", "1").set("b", "2", ex=-1).get("a")
        results = await aw(pipe.execute(raise_on_error=False))
        assert results[0] is True and results[2] == "1"
        assert isinstance(results[1], ResponseError) and "invalid expire time" in str(results[1])
    variant.run(case, server)


def test_transaction_with_queuing_error_is_discarded(variant, server):
    async def case(r):
        pipe = r.pipeline()
        pipe.set("a", "1").execute_command("SET", "only-a-key")
        with pytest.raises(ResponseError):
            await aw(pipe.execute())
        assert await aw(r.get("a")) is None  # nothing of the transaction ran
    variant.run(case, server)


def test_watch_detects_a_concurrent_change(variant, server):
    async def case(r):
        other = variant.client(server)
        try:
            await aw(r.set("k", "1"))
            pipe = r.pipeline()
            await aw(pipe.watch("k"))
            assert await aw(pipe.get("k")) == "1"
            await aw(other.set("k", "changed"))
            pipe.multi()
            pipe.set("k", "2")
            with pytest.raises(WatchError):
                await aw(pipe.execute())
            assert await aw(r.get("k")) == "changed"
        finally:
            await variant.close(other)
    variant.run(case, server)


def test_watch_retry_by_20_concurrent_clients(variant, server):
    """The optimistic-locking recipe: 20 clients each add 1 to a counter 25 times with GET/SET under WATCH,
    retrying when EXEC fails; the total is exact only if every EXEC that succeeds saw no concurrent change."""
    clients, rounds = 20, 25

    def increment_sync(pipe):
        value = int(pipe.get("counter") or 0)
        pipe.multi()
        pipe.set("counter", value + 1)

    async def increment_async(pipe):
        value = int(await pipe.get("counter") or 0)
        pipe.multi()
        pipe.set("counter", value + 1)

    async def worker(_):
        c = variant.client(server)
        try:
            for _ in range(rounds):
                await aw(c.transaction(increment_async if variant.is_async else increment_sync, "counter"))
        finally:
            await variant.close(c)

    async def case(r):
        await aw(r.set("counter", "0"))
        await concurrently(variant, clients, worker)
        assert int(await aw(r.get("counter"))) == clients * rounds
    variant.run(case, server)


# --- Pub/Sub --------------------------------------------------------------------------------------------------------

def test_pubsub_get_message(variant, server):
    async def case(r):
        pubsub = r.pubsub()
        await aw(pubsub.subscribe("news"))
        message = await aw(pubsub.get_message(timeout=5))
        assert message["type"] == "subscribe" and message["channel"] == "news"
        assert await aw(r.publish("news", "hello")) == 1

        async def received():
            nonlocal message
            message = await aw(pubsub.get_message(ignore_subscribe_messages=True, timeout=1))
            return message is not None
        await eventually(received)
        assert message["type"] == "message" and message["data"] == "hello"
        await aw(pubsub.unsubscribe("news"))
        await aw(pubsub.close() if not variant.is_async else pubsub.aclose())
    variant.run(case, server)


def test_pubsub_listen(variant, server):
    async def case(r):
        pubsub = r.pubsub()
        await aw(pubsub.psubscribe("events.*"))
        stream = pubsub.listen()
        assert (await next_item(stream))["type"] == "psubscribe"
        await aw(r.publish("events.login", "alice"))
        message = await next_item(stream)
        assert message["type"] == "pmessage"
        assert (message["pattern"], message["channel"], message["data"]) == ("events.*", "events.login", "alice")
        await aw(pubsub.close() if not variant.is_async else pubsub.aclose())
    variant.run(case, server)


# --- connection bookkeeping and introspection -----------------------------------------------------------------------

def test_client_setname_list_id(variant, server):
    async def case(r):
        await aw(r.client_setname("compat-suite"))
        assert await aw(r.client_getname()) == "compat-suite"
        my_id = await aw(r.client_id())
        assert isinstance(my_id, int) and my_id > 0
        clients = await aw(r.client_list())
        mine = [c for c in clients if c["id"] == str(my_id)]
        assert len(mine) == 1
        assert mine[0]["name"] == "compat-suite"
        assert mine[0]["cmd"] == "client|list"
        assert mine[0]["resp"] == str(variant.protocol)
        if "lib-name" in mine[0]:  # Redis 7.2+ and kvnode list the library redis-py declares with CLIENT SETINFO
            assert mine[0]["lib-name"] == "redis-py"
        assert int((await aw(r.client_info()))["id"]) == my_id
    variant.run(case, server)


def test_info(variant, server):
    async def case(r):
        await aw(r.set("k", "v", ex=1000))
        await aw(r.set("k2", "v"))
        await aw(r.get("k"))
        info = await aw(r.info())
        assert str(info["redis_version"]).startswith("7.")
        assert info["redis_mode"] == "standalone"
        assert info["arch_bits"] == 64
        assert info["tcp_port"] == server.port
        assert info["process_id"] == server.pid
        assert info["role"] == "master" and info["connected_slaves"] == 0
        assert info["cluster_enabled"] == 0
        assert info["connected_clients"] >= 1
        assert info["used_memory"] > 0 and info["used_memory_rss"] > 0
        assert info["total_commands_processed"] > 0
        assert info["keyspace_hits"] >= 1
        assert info["db0"]["keys"] == 2 and info["db0"]["expires"] == 1
        assert 0 <= info["db0"]["avg_ttl"] <= 1_000_000  # Redis estimates it by sampling: 0 at first
        stats = await aw(r.info("commandstats"))
        assert stats["cmdstat_set"]["calls"] >= 2
        server_section = await aw(r.info("server"))
        assert "redis_version" in server_section and "used_memory" not in server_section
    variant.run(case, server)


def test_config_get_set(variant, server):
    async def case(r):
        assert await aw(r.config_get("maxclients")) == {"maxclients": "10000"}
        assert (await aw(r.config_get("databases")))["databases"] == "16"
        assert await aw(r.config_set("maxclients", 2000)) is True
        try:
            assert await aw(r.config_get("maxclients")) == {"maxclients": "2000"}
            matched = await aw(r.config_get("max*"))
            assert matched["maxclients"] == "2000" and matched["maxmemory"] == "0"
            with pytest.raises(ResponseError, match="Unknown option"):
                await aw(r.config_set("no-such-option", "1"))
        finally:
            await aw(r.config_set("maxclients", 10000))
        assert await aw(r.config_get("no-such-*")) == {}
    variant.run(case, server)


def test_command_count(variant, server):
    async def case(r):
        count = await aw(r.command_count())
        assert isinstance(count, int) and count > 20
        assert count == len(await aw(r.command()))
    variant.run(case, server)


def test_connection_pool_under_50_concurrent_users(variant, server):
    """50 threads (or tasks) share one client and its pool of at most 10 connections."""
    users, operations = 50, 40

    async def case(r):
        async def user(n):
            for i in range(operations):
                await aw(r.set(f"u{n}:{i}", i))
                assert await aw(r.get(f"u{n}:{i}")) == str(i)
        await concurrently(variant, users, user)
        assert await aw(r.dbsize()) == users * operations

    async def with_bounded_pool(_):
        shared = variant.client(server, max_connections=10)
        try:
            await case(shared)
        finally:
            await variant.close(shared)

    variant.run(with_bounded_pool, server)
