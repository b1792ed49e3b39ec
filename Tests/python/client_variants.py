"""A `client` fixture over every redis-py reply parser: RESP2 and RESP3, each with hiredis (redis-py's default when it
is installed) and with redis-py's own pure-Python parser. A test module opts in with
`from client_variants import client  # noqa: F401`, which replaces conftest's RESP2/RESP3 `client` there."""

import pytest
import redis
from redis._parsers import _HiredisParser, _RESP2Parser, _RESP3Parser
from redis.utils import HIREDIS_AVAILABLE


@pytest.fixture(params=[(2, "hiredis"), (2, "python"), (3, "hiredis"), (3, "python")],
                ids=["resp2-hiredis", "resp2-python", "resp3-hiredis", "resp3-python"])
def client(request, server):
    protocol, parser = request.param
    if parser == "hiredis":
        if not HIREDIS_AVAILABLE:
            pytest.skip("hiredis is not installed")
        parser_class = _HiredisParser
    else:
        parser_class = _RESP2Parser if protocol == 2 else _RESP3Parser
    pool = redis.ConnectionPool(host=server.host, port=server.port, protocol=protocol, parser_class=parser_class)
    with redis.Redis(connection_pool=pool) as c:
        yield c
    pool.disconnect()
