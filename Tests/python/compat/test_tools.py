"""The Redis tools against the server: redis-benchmark, and redis-cli used interactively (driven through tmux)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest


def require_tools(*names: str) -> None:
    """scripts/test installs redis-tools and tmux: a missing tool is a broken setup, which must fail, not skip."""
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)} (scripts/test installs redis-tools and tmux)",
                    pytrace=False)


@pytest.mark.timeout(900)
def test_redis_benchmark_runs_without_errors(server):
    require_tools("redis-benchmark")
    run = subprocess.run(
        ["redis-benchmark", "-h", server.host, "-p", str(server.port), "-q", "-t", "ping,set,get,incr,mset",
         "-n", "100000"],
        capture_output=True, text=True, timeout=850)
    output = run.stdout.replace("\r", "\n") + run.stderr
    assert run.returncode == 0, output
    assert "error" not in output.lower() and "WARNING" not in output, output
    finished = [line.split(":")[0] for line in output.splitlines() if "requests per second" in line]
    assert finished == ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"], output


class Tmux:
    """A private tmux server (its own socket) running one command in a fixed-size window."""

    def __init__(self, command: list[str]):
        self.socket = f"kvnode-test-{os.getpid()}-{time.monotonic_ns()}"
        self.run("new-session", "-d", "-s", "cli", "-x", "200", "-y", "50", *command)

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=True,
                              timeout=30, env={**os.environ, "TERM": "xterm"}).stdout

    def type(self, text: str, enter: bool = True) -> None:
        self.run("send-keys", "-t", "cli", "-l", text)
        if enter:
            self.run("send-keys", "-t", "cli", "Enter")

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "cli")

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            assert time.monotonic() < deadline, f"{text!r} not on screen:\n{screen}"
            time.sleep(0.05)

    def command(self, text: str, expect: str, prompt: str = ">") -> str:
        """Types a command line and waits until `expect` is shown after it, followed by the next prompt (typing
        ahead of the reply would reach redis-cli while it is not reading the line)."""
        self.type(text)
        deadline = time.monotonic() + 15
        while True:
            screen = self.screen()
            _, typed, after = screen.rpartition(f"> {text}")
            if typed and expect in after and after.rstrip().endswith(prompt):
                return after
            assert time.monotonic() < deadline, f"{expect!r} not shown after {text!r}:\n{screen}"
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def cli(server):
    require_tools("tmux", "redis-cli")
    home = os.path.join(server.data_dir, "..", "cli-home")
    os.makedirs(home, exist_ok=True)
    # A private HOME keeps redis-cli's history file out of the user's.
    session = Tmux(["env", f"HOME={home}", "redis-cli", "-h", server.host, "-p", str(server.port)])
    try:
        yield session
    finally:
        session.close()


def test_redis_cli_interactive_session(cli, server):
    cli.wait_for(f"{server.host}:{server.port}>")
    cli.command("PING", "PONG")
    cli.command("SET greeting hello", "OK")
    cli.command("GET greeting", '"hello"')
    cli.command("GET missing", "(nil)")
    cli.command("MSET a 1 b 2", "OK")
    cli.command("MGET a b missing", '1) "1"\n2) "2"\n3) (nil)')
    cli.command("CLIENT SETNAME interactive", "OK")
    cli.command("CLIENT GETNAME", '"interactive"')
    cli.command("NOSUCHCOMMAND x", "(error) ERR unknown command 'NOSUCHCOMMAND'")
    cli.command("MULTI", "OK", prompt="(TX)>")
    cli.command("SET a 10", "QUEUED", prompt="(TX)>")
    cli.command("EXEC", "1) OK")
    cli.command("INFO server", "redis_version:7.")
    cli.command("DBSIZE", "(integer) 3")


def test_redis_cli_shows_argument_hints(cli, server):
    cli.wait_for(f"{server.host}:{server.port}>")
    cli.type("SET ", enter=False)
    screen = cli.wait_for("key value")
    assert "NX|XX" in screen and "EX seconds" in screen
    cli.type("k v ", enter=False)
    # The hint moves past the arguments already typed (Redis 8.4's SET, kvnode's, goes on with |IFEQ ifeq-value...).
    cli.wait_for("[NX|XX")
    cli.run("send-keys", "-t", "cli", "C-u")  # clear the line
    cli.type("CLIENT KILL ", enter=False)
    cli.wait_for("ip:port")
