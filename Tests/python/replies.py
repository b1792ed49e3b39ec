"""Helpers for reading the text replies of CLIENT LIST / CLIENT INFO / INFO and for polling."""

import time

import redis


def text_client(server, protocol: int = 2) -> redis.Redis:
    return redis.Redis(host=server.host, port=server.port, protocol=protocol, decode_responses=True)


def fields(line: bytes) -> dict:
    """A CLIENT LIST / CLIENT INFO line as a dict."""
    return dict(part.split("=", 1) for part in line.decode().strip().split(" "))


def bulk_text(reply: bytes) -> bytes:
    """The payload of a bulk (or verbatim) string reply."""
    header, _, rest = reply.partition(b"\r\n")
    assert header[:1] in (b"$", b"="), reply[:80]
    body = rest[:-2]
    return body[4:] if header[:1] == b"=" else body


def poll(check, timeout=10.0):
    """Waits until `check()` is true, failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)
