"""Helpers for the AUTH / ACL / protected-mode tests: users given at start-up, an admin connection that puts the
server's users back after each test, and reading ACL LOG and ACL GETUSER replies."""

from __future__ import annotations

import hashlib
import shlex
import subprocess

from conftest import TARGET, Raw


def user_args(definition: str) -> list[str]:
    """Server arguments defining a user at start-up, like a redis.conf `user` line: redis-server takes the name and
    rules as separate arguments after `--user`, kvnode-server one `--user "name rules..."` value."""
    if TARGET == "redis":
        return ["--user", *shlex.split(definition)]
    return ["--user", definition]


def sha256(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


class Admin:
    """A connection opened while the default user needs no password (so it stays authenticated whatever a test
    does), which restores the users afterwards: only `default`, as a fresh server has it, and an empty ACL LOG."""

    def __init__(self, server):
        self.conn = Raw(server.host, server.port)
        assert self.conn.cmd("PING") == b"+PONG\r\n", "the default user must need no password between tests"

    def cmd(self, *args) -> bytes:
        return self.conn.cmd(*args)

    def users(self) -> list[bytes]:
        return parse(self.cmd("ACL", "USERS"))

    def restore(self) -> None:
        # Not `reset`, which would leave the sanitize-payload flag a fresh default user does not have.
        self.cmd("ACL", "SETUSER", "default", "on", "nopass", "resetkeys", "~*", "resetchannels", "&*", "+@all",
                 "clearselectors")
        for name in self.users():
            if name != b"default":
                self.cmd("ACL", "DELUSER", name)
        self.cmd("CONFIG", "SET", "acl-pubsub-default", "resetchannels")
        self.cmd("ACL", "LOG", "RESET")
        self.conn.close()


def parse(reply: bytes):
    """A RESP2/RESP3 reply as Python values: bulk and simple strings as bytes, errors as Exception instances, maps as
    dicts (keys decoded), sets as sets, doubles as floats."""
    value, rest = _parse(reply)
    assert rest == b"", rest
    return value


def _parse(data: bytes):
    line, _, rest = data.partition(b"\r\n")
    kind, body = line[:1], line[1:]
    if kind in (b"+",):
        return body, rest
    if kind == b"-":
        return Exception(body.decode()), rest
    if kind == b":":
        return int(body), rest
    if kind == b",":
        return float(body), rest
    if kind == b"_":
        return None, rest
    if kind in (b"$", b"="):
        if body == b"-1":
            return None, rest
        n = int(body)
        payload, rest = rest[:n], rest[n + 2:]
        return (payload[4:] if kind == b"=" else payload), rest
    if kind in (b"*", b"~", b">"):
        if body == b"-1":
            return None, rest
        items = []
        for _ in range(int(body)):
            item, rest = _parse(rest)
            items.append(item)
        return (set(items) if kind == b"~" else items), rest
    if kind == b"%":
        result = {}
        for _ in range(int(body)):
            key, rest = _parse(rest)
            value, rest = _parse(rest)
            result[key.decode() if isinstance(key, bytes) else key] = value
        return result, rest
    raise AssertionError(f"unknown reply type {line!r}")


def pairs(items: list) -> dict:
    """A RESP2 flat map (key, value, key, value...) as a dict with decoded keys."""
    return {items[i].decode(): items[i + 1] for i in range(0, len(items), 2)}


def log_entries(conn) -> list[dict]:
    """ACL LOG, newest first, each entry as a dict (from a RESP2 connection)."""
    return [pairs(entry) for entry in parse(conn.cmd("ACL", "LOG"))]


def redis_cli(server, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """redis-cli against the server, its output as text."""
    return subprocess.run(["redis-cli", "-h", server.host, "-p", str(server.port), *args],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
