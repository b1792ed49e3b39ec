"""A real Celery worker (from PyPI) on the server under test, with the Redis broker AND the Redis result backend: the
application (celery_app.py) is unchanged code whose only setting is the URL. The worker is a separate process
(`celery -A celery_app worker --pool=solo`); this test process submits tasks and reads their results: a plain task and
a group, a task that retries with a countdown until it succeeds, and a task with a countdown. Kombu's fanout exchange
(every bound consumer gets a broadcast) and its Redis priority queues (`priority_steps`; on Redis priority 0 is the
highest) run from this process. Every expectation holds against a real redis-server (KVNODE_TARGET=redis). Waits are
bounded; nothing is timed.

The Lua scripts that redis-py's Lock (Kombu's restore mutex) and Kombu 5.7 (the bindings of expiring queues) send
by EVALSHA run on the server, as deployed."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import TARGET, wait_until

# Covers the worker's start-up too, which runs in the first test's setup.
pytestmark = pytest.mark.timeout(300)

HERE = Path(__file__).resolve().parent
WORKER_START_TIMEOUT = 120  # importing Celery and connecting on a loaded 2-core machine
RESULT_TIMEOUT = 60


@pytest.fixture(autouse=True)
def _flush():
    """Overrides conftest's per-test FLUSHDB: the worker's queue bindings (`_kombu.binding.*`) live in the keyspace
    for the whole module, as they would in production."""
    yield


@pytest.fixture(scope="module")
def url(server):
    return f"redis://{server.host}:{server.port}/0"


@pytest.fixture(scope="module")
def celery_app(url):
    """The application module, imported in this process with the server's URL."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CELERY_TEST_URL", url)
        module = importlib.reload(sys.modules["celery_app"]) if "celery_app" in sys.modules \
            else importlib.import_module("celery_app")
        yield module
        module.app.close()


@pytest.fixture(scope="module")
def worker(url, celery_app):
    """`celery -A celery_app worker --pool=solo` as a process of its own, up once it answers a broadcast ping (a
    fanout through the broker and a reply through it); stopped (SIGTERM, then SIGKILL) at the end."""
    name = f"kvnode-test-{os.getpid()}@{socket.gethostname()}"
    log_dir = tempfile.mkdtemp(prefix="celery-worker-")
    log_path = os.path.join(log_dir, "worker.log")
    paths = [str(HERE), os.environ.get("PYTHONPATH")]
    env = {**os.environ, "CELERY_TEST_URL": url, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo",
                                 "--loglevel=INFO", "-n", name],
                                cwd=HERE, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def log_text() -> str:
        return Path(log_path).read_text(errors="replace")

    def answers_ping():
        assert proc.poll() is None, f"the worker exited with {proc.returncode}:\n{log_text()[-4000:]}"
        return any(name in reply for reply in celery_app.app.control.ping(destination=[name], timeout=1.0))

    try:
        wait_until(answers_ping, timeout=WORKER_START_TIMEOUT, interval=0.2,
                   message=lambda: f"the worker to answer a ping; its log:\n{log_text()[-4000:]}")
        yield log_text
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # warm shutdown
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        shutil.rmtree(log_dir, ignore_errors=True)


def test_a_task_and_a_group_run_on_the_worker(celery_app, worker):
    result = celery_app.add.delay(2, 3)
    assert result.get(timeout=RESULT_TIMEOUT) == 5
    assert result.state == "SUCCESS"
    # Results are kept by the backend: a new handle on the same id reads it back.
    assert celery_app.app.AsyncResult(result.id).get(timeout=RESULT_TIMEOUT) == 5

    from celery import group
    results = group(celery_app.add.s(i, i) for i in range(10)).apply_async()
    assert results.get(timeout=RESULT_TIMEOUT) == [2 * i for i in range(10)]


def test_a_task_that_retries_with_a_countdown_then_succeeds(celery_app, worker):
    result = celery_app.flaky.delay(2)
    assert result.get(timeout=RESULT_TIMEOUT) == {"retries": 2}
    assert result.state == "SUCCESS"
    log = worker()
    assert log.count(f"Task celery_app.flaky[{result.id}] retry:") == 2, log[-4000:]


def test_a_task_with_a_countdown_runs_after_it(celery_app, worker):
    submitted = time.time()
    result = celery_app.ran_at.apply_async(countdown=3)
    ran = result.get(timeout=RESULT_TIMEOUT)
    # The ETA is computed after `submitted`; a millisecond of slack for the ETA's round trip through ISO text.
    assert ran >= submitted + 3 - 0.001, (submitted, ran)


def test_the_worker_logged_no_errors(celery_app, worker):
    assert celery_app.add.delay(1, 1).get(timeout=RESULT_TIMEOUT) == 2
    log = worker()
    problems = [line for line in log.splitlines()
                if any(word in line for word in ("ERROR", "CRITICAL", "Traceback", "unknown command"))]
    assert not problems, log[-4000:]


# --- Kombu on its own -------------------------------------------------------------------------------------------

def psubscribed_clients(c) -> int:
    return sum(1 for client in c.client_list() if int(client.get("psub", 0)) > 0)


def drain(conn, timeout: float) -> bool:
    """One wait for messages; False if none came. A wait that sees nothing runs Kombu's restore of unacked messages,
    under its mutex (redis-py's Lock, released with a script): the first such wait on a channel always does."""
    try:
        conn.drain_events(timeout=timeout)
        return True
    except socket.timeout:
        return False


def test_kombu_fanout_reaches_every_bound_consumer(url, r2):
    """Needs no script even on kvnode: a channel that consumes fanout queues only (over PSUBSCRIBE) has no unacked
    messages to restore."""
    from kombu import Connection, Consumer, Exchange, Queue

    exchange = Exchange("kvnode-broadcast", type="fanout", durable=False)
    received: dict[str, list] = {"a": [], "b": []}
    with Connection(url) as conn_a, Connection(url) as conn_b, Connection(url) as publisher:
        consumers = []
        for name, conn in (("a", conn_a), ("b", conn_b)):
            queue = Queue(f"kvnode-broadcast-{name}", exchange, exclusive=True, durable=False)
            consumer = Consumer(conn, [queue], accept=["json"],
                                callbacks=[lambda body, message, name=name: (received[name].append(body),
                                                                              message.ack())])
            consumer.consume()
            consumers.append((name, conn, consumer))
        baseline = psubscribed_clients(r2)

        # A consumer subscribes to the exchange's channel when it first waits for messages.
        def both_subscribed():
            for _, conn, _ in consumers:
                drain(conn, 0.1)
            return psubscribed_clients(r2) >= baseline + 2

        wait_until(both_subscribed, timeout=30, message="both consumers to subscribe")
        producer = publisher.Producer(serializer="json")
        producer.publish({"hello": "everyone"}, exchange=exchange, routing_key="", declare=[exchange])
        for name, conn, _ in consumers:
            wait_until(lambda: drain(conn, 0.5) or received[name], timeout=30, message=f"consumer {name}'s message")
        # Each got the broadcast exactly once.
        for name, conn, _ in consumers:
            assert not drain(conn, 0.2)
        assert received == {"a": [{"hello": "everyone"}], "b": [{"hello": "everyone"}]}
        for _, _, consumer in consumers:
            consumer.cancel()


def test_kombu_priority_queue_delivers_highest_priority_first(url, r2):
    from kombu import Connection, Consumer, Exchange, Queue

    options = {"priority_steps": list(range(10)), "queue_order_strategy": "priority"}
    exchange = Exchange("kvnode-priority", type="direct", durable=False)
    queue = Queue("kvnode-priority", exchange, routing_key="kvnode-priority", durable=False)
    priorities = [5, 9, 0, 3, 7, 1, 8, 2, 6, 4, 0, 9]
    with Connection(url, transport_options=options) as conn:
        producer = conn.Producer(serializer="json")
        for i, priority in enumerate(priorities):
            producer.publish({"priority": priority, "i": i}, exchange=exchange, routing_key="kvnode-priority",
                             priority=priority, declare=[queue])
        # One list per priority step: the bare name for 0, `name\x06\x16<step>` for the others.
        assert r2.llen("kvnode-priority") == 2
        assert r2.llen(b"kvnode-priority\x06\x169") == 2 and r2.llen(b"kvnode-priority\x06\x165") == 1

        received = []
        consumer = Consumer(conn, [queue], accept=["json"], prefetch_count=1,
                            callbacks=[lambda body, message: (received.append(body), message.ack())])
        with consumer:
            for n in range(len(priorities)):
                wait_until(lambda: drain(conn, 1) and len(received) > n, timeout=30, message=f"message {n + 1}")
            assert not drain(conn, 0.2)  # and nothing more
    # On Redis a lower number is a higher priority; equal priorities keep their publishing order.
    assert [(m["priority"], m["i"]) for m in received] == sorted((p, i) for i, p in enumerate(priorities))
    assert r2.llen("kvnode-priority") == 0
