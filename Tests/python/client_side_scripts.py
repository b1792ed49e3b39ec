"""Runs the few Lua scripts redis-py and Kombu send with EVALSHA as the equivalent plain commands, in the client.

kvnode has no EVAL/EVALSHA yet, and Kombu's Redis transport cannot consume without them: every consumer's poll takes
its restore mutex with redis-py's `Lock`, whose release is a script, and Kombu 5.7 keeps the binding tables of
expiring queues (Celery's pidbox queues) with two scripts of its own. test_celery.py runs once unchanged, where
kvnode is expected to fail on EVALSHA until it has Lua, and once with this module installed, so that everything
else the worker sends is tested now. The commands run one by one, not atomically; that is enough for one worker.
Only the scripts known here are run: any other script fails loudly, so a library update that adds one is noticed."""

from __future__ import annotations

import time

import redis.commands.core
from kombu.transport import redis as kombu_redis
from redis.lock import Lock


def _text(script) -> str:
    return script.decode() if isinstance(script, bytes) else script


def _now_ms() -> int:
    return int(time.time() * 1000)


def _release_lock(client, keys, args):
    token = args[0] if isinstance(args[0], bytes) else str(args[0]).encode()
    if client.get(keys[0]) != token:
        return 0
    client.delete(keys[0])
    return 1


def _refresh_binding(client, keys, args):
    client.sadd(keys[0], args[0])
    client.zadd(keys[1], {args[1]: _now_ms() + int(args[2])}, gt=True)


def _sweep_bindings(client, keys, args):
    overdue = client.zrangebyscore(keys[0], "-inf", _now_ms(), start=0, num=int(args[2])) or []
    for exchange in overdue:
        exchange = exchange.decode() if isinstance(exchange, bytes) else exchange
        if not client.exists(args[1] + exchange):
            client.delete(args[0] + exchange)
        client.zrem(keys[0], exchange)
    return len(overdue)


# Script text -> its equivalent. Kombu before 5.7 has no binding scripts.
EQUIVALENTS = {_text(script): run for script, run in (
    (Lock.LUA_RELEASE_SCRIPT, _release_lock),
    (getattr(kombu_redis, "REFRESH_BINDING", None), _refresh_binding),
    (getattr(kombu_redis, "SWEEP_BINDINGS", None), _sweep_bindings),
) if script is not None}


def run_script(self, keys=None, args=None, client=None):
    """`Script.__call__` in the client: the known script's equivalent, or NotImplementedError."""
    run = EQUIVALENTS.get(_text(self.script))
    if run is None:
        raise NotImplementedError(f"client_side_scripts has no equivalent of this script:\n{_text(self.script)}")
    return run(client if client is not None else self.registered_client, list(keys or []), list(args or []))


def install() -> None:
    """Replaces redis-py's `Script.__call__` (what `register_script` objects run) in this process."""
    redis.commands.core.Script.__call__ = run_script
