#!/usr/bin/env python3
"""Pub/Sub fan-out: messages per second delivered to S subscribers of one channel.

Subscribers are raw sockets read in large chunks (no per-message parsing in Python, so the server is what is
measured); redis-benchmark publishes the messages; a final marker message tells when every subscriber has them all.
Prints one line: "<delivered messages/s> <publish ops/s>".
"""
import argparse
import selectors
import socket
import subprocess
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--subscribers", type=int, default=1)
parser.add_argument("--messages", type=int, default=100000)
parser.add_argument("--payload", type=int, default=64)
args = parser.parse_args()

CHANNEL = b"bench:fanout"
MARKER = b"__fanout_done__"


def command(*parts: bytes) -> bytes:
    out = b"*%d\r\n" % len(parts)
    for part in parts:
        out += b"$%d\r\n%s\r\n" % (len(part), part)
    return out


selector = selectors.DefaultSelector()
subscribers = []
for _ in range(args.subscribers):
    s = socket.create_connection(("127.0.0.1", args.port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.sendall(command(b"SUBSCRIBE", CHANNEL))
    s.setblocking(False)
    selector.register(s, selectors.EVENT_READ, {"tail": b"", "done": False})
    subscribers.append(s)

control = socket.create_connection(("127.0.0.1", args.port))


def numsub() -> bytes:
    control.sendall(command(b"PUBSUB", b"NUMSUB", CHANNEL))
    return control.recv(4096)


expected = b":%d\r\n" % args.subscribers
deadline = time.monotonic() + 30
while expected not in numsub():
    if time.monotonic() > deadline:
        raise SystemExit("subscribers did not all subscribe")
    time.sleep(0.05)

start = time.monotonic()
bench = subprocess.run(
    ["redis-benchmark", "-p", str(args.port), "-c", "10", "-P", "16", "-n", str(args.messages), "-q", "--csv",
     "PUBLISH", CHANNEL.decode(), "x" * args.payload],
    capture_output=True, text=True, check=True)
control.sendall(command(b"PUBLISH", CHANNEL, MARKER))
control.recv(4096)

remaining = args.subscribers
while remaining:
    for key, _ in selector.select(timeout=60):
        state = key.data
        chunk = key.fileobj.recv(1 << 20)
        if not chunk:
            raise SystemExit("a subscriber was disconnected")
        window = state["tail"] + chunk
        if MARKER in window and not state["done"]:
            state["done"] = True
            remaining -= 1
        state["tail"] = window[-len(MARKER):]
elapsed = time.monotonic() - start
publish_rate = float(bench.stdout.strip().splitlines()[-1].split(",")[1].strip('"'))
print(f"{args.messages * args.subscribers / elapsed:.0f} {publish_rate:.0f}")
