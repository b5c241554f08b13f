"""The worker's Celery consumer, refusing what it cannot run in one line each, and
publishing task events in batches.

Celery's own handlers log a traceback for a message it cannot decode, a message of unknown
format, an unregistered task name or an invalid task; here each becomes one log line naming
the queue and the reason, the message goes to the dead-letter list, and is acknowledged so it
cannot loop.

Celery buffers task events (received, started, succeeded, ...) and publishes them at the next
turn of its event loop: a Redis round trip that holds the loop, about two per attempt when
attempts are short. Here they go out at most every `EVENTS_EVERY_S`, many in one message
(Celery's `task.multi`, which Flower reads), and once more when the consumer shuts down.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.worker.consumer import Consumer

from worker.refuse import refuse

log = logging.getLogger("graft.worker")

EVENTS_EVERY_S = 0.05  # how long a task event may wait to be published with others


def _queue(message: Any) -> str:
    info = getattr(message, "delivery_info", None) or {}
    return str(info.get("routing_key") or info.get("exchange") or "?")


def _raw(message: Any) -> dict[str, Any]:
    body = getattr(message, "body", b"")
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    return {"headers": getattr(message, "headers", None), "body": body}


def _drop(message: Any) -> None:
    try:
        message.ack()
    except Exception:  # already acknowledged, or the connection went: nothing to keep
        return


class GraftConsumer(Consumer):
    def on_decode_error(self, message: Any, exc: Exception) -> None:
        refuse(_queue(message), f"message body cannot be decoded as "
                                f"{message.content_type or '?'}: {exc}", _raw(message))
        _drop(message)

    def on_unknown_message(self, body: Any, message: Any) -> None:
        refuse(_queue(message), "not a Celery task message", _raw(message))
        _drop(message)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        name = (getattr(message, "headers", None) or {}).get("task", "?")
        refuse(_queue(message), f"unknown task name {str(name)[:200]!r} (graft workers run "
                                f"only graft.run_node)", _raw(message))
        _drop(message)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        refuse(_queue(message), f"invalid task message: {exc}", _raw(message))
        _drop(message)

    _events_due_at = 0.0  # when the pending flush runs (monotonic seconds), 0.0: none pending

    def on_send_event_buffered(self) -> None:
        if not self.hub:
            return
        now = time.monotonic()
        # A flush is pending; one overdue (its timer lost when the loop restarted on a
        # reconnect) is scheduled again by the next event.
        if self._events_due_at and now < self._events_due_at + EVENTS_EVERY_S:
            return
        self._events_due_at = now + EVENTS_EVERY_S
        self.hub.call_later(EVENTS_EVERY_S, self._flush_events_due)

    def _flush_events_due(self) -> None:
        self._events_due_at = 0.0
        self._flush_events()

    def shutdown(self) -> None:
        try:
            self._flush_events()
        except Exception as exc:  # the connection went: the events are lost, as Celery's are
            log.debug("task events not published at shutdown: %r", exc)
        super().shutdown()
