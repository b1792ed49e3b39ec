"""The Celery application test_celery.py runs: ordinary application code whose only setting is the server's URL, used
both as the broker (Kombu's Redis transport) and as the result backend. The worker imports it with
`celery -A celery_app worker`; the test process imports it to submit tasks and read results."""

from __future__ import annotations

import os
import time

from celery import Celery

URL = os.environ["CELERY_TEST_URL"]  # e.g. redis://127.0.0.1:6379/0

app = Celery("celery_app", broker=URL, backend=URL)
app.conf.update(broker_connection_retry_on_startup=True)


@app.task
def add(x, y):
    return x + y


@app.task(bind=True, max_retries=5)
def flaky(self, failures):
    """Fails `failures` times, each time asking to be retried a second later, then succeeds."""
    if self.request.retries < failures:
        raise self.retry(countdown=1)
    return {"retries": self.request.retries}


@app.task
def ran_at():
    """When the worker ran it (Unix seconds)."""
    return time.time()
