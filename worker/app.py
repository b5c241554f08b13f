"""The Celery app every graft worker runs: `celery -A worker.app worker -Q mem-1Gi -c 8`.

Settings suit long jobs: JSON only, late acks (a task killed mid-run is redelivered),
prefetch 1, and task events on so Flower shows every node live.
"""

from __future__ import annotations

import os

from celery import Celery

from sdk.model.config import Settings

settings = Settings.from_env()

app = Celery("graft", broker=settings.broker_url, include=["worker.tasks"])
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    worker_send_task_events=True,
    # A "sent" event per dispatched node doubles the scheduler's publishing cost; the status
    # board already shows queued nodes. GRAFT_TASK_SENT_EVENTS=1 turns them on for Flower.
    task_send_sent_event=os.environ.get("GRAFT_TASK_SENT_EVENTS", "0") == "1",
    task_track_started=True,
    task_ignore_result=True,
    task_create_missing_queues=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    broker_transport_options={
        # Longer than the longest task: Redis redelivers unacked messages after this.
        "visibility_timeout": int(os.environ.get("GRAFT_VISIBILITY_TIMEOUT_S") or 12 * 3600),
    },
)
