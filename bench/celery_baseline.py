"""The raw-Celery side of bench/cluster.py: one no-op task, nothing of graft's.

    cd bench && celery -A celery_baseline worker -Q bench -c 2 -P prefork

The broker and the result backend are both BENCH_BROKER_URL (default Redis DB 9). The worker
settings mirror graft's own worker app (worker/app.py) where they bear on speed: JSON only,
late acks, prefetch 1, task events on (`-E`; no sent events, as graft). Unlike graft's workers, the
results go to the Redis result backend: that is how canvas chains and groups hand results on.
"""

from __future__ import annotations

import os

from celery import Celery

BROKER_URL = os.environ.get("BENCH_BROKER_URL") or "redis://127.0.0.1:6379/9"
QUEUE = "bench"

app = Celery("celery_baseline", broker=BROKER_URL, backend=BROKER_URL)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    worker_send_task_events=True,
    task_send_sent_event=False,  # as graft's workers (worker/app.py): worker events only
    task_default_queue=QUEUE,
    task_routes={"celery_baseline.*": {"queue": QUEUE}},
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="celery_baseline.noop")
def noop(x: int) -> int:
    return x + 1


@app.task(name="celery_baseline.hold")
def hold(i: int, folder: str, seconds: float) -> int:
    """Record this process's pid in `folder/<i>`, then hold the slot (bench/cancel.py)."""
    import time

    with open(os.path.join(folder, str(i)), "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(seconds)
    return i
