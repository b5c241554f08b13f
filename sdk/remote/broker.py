"""The broker side of graft: connections, the control queue, one-line errors."""

from __future__ import annotations

import re
from typing import Any

from kombu import Connection, Exchange, Producer, Queue

from sdk.model.config import Settings
from sdk.model.errors import BrokerUnavailable


def redact(url: str) -> str:
    """The URL with any password hidden."""
    return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", url)


def control_queue(settings: Settings) -> Queue:
    name = settings.control_queue
    return Queue(name, Exchange(name, type="direct", durable=True), routing_key=name,
                 durable=True)


def check_broker(url: str, timeout_s: float = 3.0) -> None:
    """Raise BrokerUnavailable with a one-line hint when no broker answers at `url`."""
    try:
        with Connection(url, connect_timeout=timeout_s) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout_s)
    except Exception as exc:
        raise BrokerUnavailable(
            f"no broker answers at {redact(url)} ({type(exc).__name__}); start Redis "
            f"(`redis-server --daemonize yes`) or point GRAFT_BROKER_URL at a running one"
        ) from None


def publish(conn: Connection, settings: Settings, body: dict[str, Any]) -> None:
    """Put one control message (JSON, persistent) on the scheduler's queue."""
    with conn.Producer(serializer="json") as producer:
        publish_with(producer, settings, body)


def publish_with(producer: Producer, settings: Settings, body: dict[str, Any],
                 max_retries: int | None = 5) -> None:
    """`publish` through an existing (pooled) producer; the queue is declared once per
    connection, not per message. `max_retries=None` retries until the broker answers."""
    queue = control_queue(settings)
    producer.publish(body, exchange=queue.exchange, routing_key=queue.routing_key,
                     declare=[queue], delivery_mode=2, serializer="json", retry=True,
                     retry_policy={"max_retries": max_retries, "interval_start": 0.1,
                                   "interval_step": 0.5, "interval_max": 5})
