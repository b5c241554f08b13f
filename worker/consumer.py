"""The worker's Celery consumer, refusing what it cannot run in one line each.

Celery's own handlers log a traceback for a message it cannot decode, a message of unknown
format, an unregistered task name or an invalid task; here each becomes one log line naming
the queue and the reason, the message goes to the dead-letter list, and is acknowledged so it
cannot loop.
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer

from worker.refuse import refuse


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
