"""The Celery app every graft worker runs: `celery -A worker.app worker -Q mem-1Gi -c 8`.

Settings come from `sdk.wire.celery_app` (shared with the scheduler). On top of them the
worker reads its queues through a transport that moves garbage to the dead-letter list
instead of dying (`worker.transport`), refuses undecodable or unknown messages in one line
each (`worker.consumer`), holds a lease on every attempt it has (`worker.request`), obeys
only the remote-control commands `GRAFT_REMOTE_CONTROL` allows (`worker.control`), and when
it starts and stops removes the working folders of runners that are gone (`worker.folders`).
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from celery import Task, signals

from sdk.model.config import Settings
from sdk.wire.celery_app import make_app
from sdk.wire.connections import redis_client
from sdk.wire.presence import Heartbeat, Presence, worker_role
from sdk.wire.sentinel import is_sentinel
from sdk.wire.signing import UNSET_WARNING
from worker import control, folders, outage
from worker.request import on_received

settings = Settings.from_env()

app = make_app(settings, include=["worker.tasks"])
app.conf.update(
    broker_transport="worker.transport:" + (
        "SentinelTransport" if is_sentinel(settings.broker_url) else "Transport"),
    worker_consumer="worker.consumer:GraftConsumer",
)
if settings.broker_url.startswith("rediss://"):
    # kombu turns TLS on by the transport's name, which a transport class does not have.
    app.conf.broker_use_ssl = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
remote_control = control.apply(app)
outage.install(settings.broker_url)


class GraftTask(Task):
    Request = "worker.request:GraftRequest"


@signals.task_received.connect
def _received(sender: object = None, request: object = None, **_: object) -> None:
    on_received(request)


@signals.celeryd_after_setup.connect  # logging is set up, the pool processes not started
def _starting(**_: object) -> None:
    if not settings.secret:
        logging.getLogger("graft.worker").warning("%s", UNSET_WARNING)
    folders.remove_orphans()  # left by a worker killed outright, or the machine's crash


_heartbeats: list[Heartbeat] = []


@signals.worker_ready.connect  # consuming: say so for each queue, so clients see the tier
def _ready(sender: Any = None, **_: object) -> None:
    presence = Presence(redis_client(settings.broker_url), settings.key_prefix)
    for queue in sender.app.amqp.queues.consume_from:
        _heartbeats.append(Heartbeat(presence, worker_role(queue), sender.hostname).start())


@signals.worker_shutdown.connect
def _stopped(**_: object) -> None:
    for beat in _heartbeats:
        beat.stop()
    folders.remove_orphans()  # of runners whose pool process died before them
