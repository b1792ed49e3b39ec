"""The client variants the compatibility suite runs every case with.

A variant is a protocol (RESP2/RESP3), a reply parser (hiredis, or redis-py's pure-Python one) and an API (the sync
`redis.Redis` or `redis.asyncio.Redis`). Cases are written once, as coroutines that pass every call through `aw()`:
for the sync API it returns the value as is, for the asyncio API it awaits it.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
from dataclasses import dataclass

import redis
import redis.asyncio
import redis.utils
from redis._parsers import (
    _AsyncHiredisParser,
    _AsyncRESP2Parser,
    _AsyncRESP3Parser,
    _HiredisParser,
    _RESP2Parser,
    _RESP3Parser,
)


async def aw(value):
    """The value of a redis-py call in either API: awaited if it is awaitable."""
    if inspect.isawaitable(value):
        return await value
    return value


async def collect(iterator) -> list:
    """Every item of a sync or async iterator (scan_iter, listen...)."""
    if hasattr(iterator, "__aiter__"):
        return [item async for item in iterator]
    return list(iterator)


async def next_item(iterator):
    """The next item of a sync or async iterator."""
    if hasattr(iterator, "__anext__"):
        return await iterator.__anext__()
    return next(iterator)


@dataclass(frozen=True)
class Variant:
    protocol: int
    parser: str  # "hiredis" or "python"
    api: str  # "sync" or "async"

    @property
    def id(self) -> str:
        return f"resp{self.protocol}-{self.parser}-{self.api}"

    @property
    def is_async(self) -> bool:
        return self.api == "async"

    def parser_class(self):
        if self.api == "sync":
            if self.parser == "hiredis":
                return _HiredisParser
            return _RESP3Parser if self.protocol == 3 else _RESP2Parser
        if self.parser == "hiredis":
            return _AsyncHiredisParser
        return _AsyncRESP3Parser if self.protocol == 3 else _AsyncRESP2Parser

    def client(self, server, max_connections: int | None = None):
        """A client of `server` in this variant (decode_responses=True, as most applications use it). With
        `max_connections`, its pool is a BlockingConnectionPool of that size: callers wait for a free connection."""
        module = redis.asyncio if self.is_async else redis
        options = dict(host=server.host, port=server.port, protocol=self.protocol, decode_responses=True,
                       parser_class=self.parser_class(), socket_timeout=30)
        if max_connections is None:
            pool = module.ConnectionPool(**options)
        else:
            pool = module.BlockingConnectionPool(max_connections=max_connections, timeout=60, **options)
        return module.Redis(connection_pool=pool)

    async def close(self, client) -> None:
        if self.is_async:
            await client.aclose()
            await client.connection_pool.disconnect()
        else:
            client.close()
            client.connection_pool.disconnect()

    def run(self, case, server, *args):
        """Runs the coroutine `case(client, *args)` with a fresh client, closing it afterwards."""
        async def main():
            r = self.client(server)
            try:
                if self.parser == "hiredis":
                    assert redis.utils.HIREDIS_AVAILABLE, "hiredis is not installed"
                return await case(r, *args)
            finally:
                await self.close(r)
        return asyncio.run(main())


VARIANTS = [Variant(p, parser, api)
            for p, parser, api in itertools.product((2, 3), ("hiredis", "python"), ("sync", "async"))]
