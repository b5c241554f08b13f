"""The Celery app graft's workers run and its scheduler sends through, made in one place so
both sides agree on every setting (the scheduler never imports the worker's module)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.app.amqp import AMQP
from kombu import Exchange, Queue

from sdk.model.config import Settings
from sdk.wire import sentinel
from sdk.wire.keys import tier_queue


class GraftAMQP(AMQP):
    """Celery's message factory, except that a message sent with a `shadow` name announces
    itself under that name in its task-sent event. Celery names the sent event after the
    registered task (`graft.run_node`), while the worker's events use the shadow (the user's
    task): without this, Flower lists a queued node under `graft.run_node` until it starts."""

    def as_task_v2(self, *args: Any, **kwargs: Any) -> Any:
        message = super().as_task_v2(*args, **kwargs)
        shadow = message.headers.get("shadow")
        if shadow and message.sent_event is not None:
            message.sent_event["name"] = shadow
        return message


def tier_queues(settings: Settings) -> list[Queue]:
    """One queue per memory tier (`mem-256Mi`, ...), declared by the scheduler and listed
    by Flower even while no worker consumes it."""
    # As Celery makes a missing queue (`task_create_missing_queues`): its own direct exchange.
    names = [tier_queue(t) for t in settings.tiers]
    return [Queue(name, Exchange(name), routing_key=name) for name in names]


def sent_events_on() -> bool:
    """Whether each dispatch also publishes a task-sent event (`GRAFT_TASK_SENT_EVENTS`)."""
    return os.environ.get("GRAFT_TASK_SENT_EVENTS", "0") == "1"


def make_app(settings: Settings, include: list[str] | None = None) -> Celery:
    """A Celery app on `settings.broker_url`: JSON only, late acks, prefetch 1, no results,
    task events on, and reconnecting to the broker forever. A `sentinel://` URL becomes
    Celery's Sentinel broker, its master's name and the sentinels' password transport
    options."""
    broker, sentinel_options = settings.broker_url, {}
    if sentinel.is_sentinel(broker):
        broker, sentinel_options = sentinel.celery_broker(broker)
    app = Celery("graft", broker=broker, include=include or [], amqp=GraftAMQP)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_acks_late=True,
        # A pool child that dies is reported by the worker's parent process as a lost
        # attempt (worker.request), so its message is acknowledged, not redelivered.
        task_reject_on_worker_lost=False,
        worker_prefetch_multiplier=1,
        worker_send_task_events=True,
        # A "sent" event per dispatched node doubles the scheduler's publishing cost; the
        # status board already shows queued nodes. GRAFT_TASK_SENT_EVENTS=1 turns them on.
        task_send_sent_event=sent_events_on(),
        task_track_started=True,
        task_ignore_result=True,
        task_create_missing_queues=True,
        # Every tier's queue, so that tools reading the app (Flower's Broker page, `celery
        # inspect`) know them all; a worker consumes only the one it is started with (-Q).
        task_queues=tier_queues(settings),
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_channel_error_retry=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
        broker_transport_options={
            # Longer than the longest task: Redis hands an unacknowledged message out again
            # after this. Lost attempts are found sooner by their leases (sdk.wire.leases).
            "visibility_timeout": int(os.environ.get("GRAFT_VISIBILITY_TIMEOUT_S")
                                      or 12 * 3600),
            "socket_timeout": 30,
            "socket_connect_timeout": 5,
            "retry_on_timeout": True,
            **sentinel_options,
        },
    )
    return app
