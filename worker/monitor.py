"""What Celery monitors (Flower, `celery events`) see of a failed node attempt.

graft's record of an attempt is its report to the scheduler; the Celery task's state exists
only for monitors. So after a failed attempt has been reported, `run_node` raises: `Retry`
when the scheduler will run another attempt (Celery sends task-retried: Flower shows RETRY),
`NodeFailed` when it will not (task-failed: FAILURE, in Flower's Failed filter). Either way
Celery acknowledges the message and sends nothing again: the message carries no Celery retry
(`Retry` raised without `Task.retry()` publishes nothing), and the task has no autoretry.
Both show the user's exception type and message, and the user's traceback
(`worker.request.GraftRequest` puts it in the event in place of this module's frames).
"""

from __future__ import annotations

from typing import Any

from celery.exceptions import Retry

from sdk.model.errors import GraftError


class NodeFailed(GraftError):
    """A node attempt failed: `repr` is the user's exception as Python shows it
    (`ValueError('bad row 3')`), which is what Celery's task-failed event carries."""

    def __init__(self, type_: str, message: str, traceback: str = "", kind: str = "USER"):
        super().__init__(type_, message, traceback, kind)
        self.type = type_
        self.message = message
        self.traceback = traceback
        self.kind = kind

    def __repr__(self) -> str:
        return f"{self.type}({self.message!r})"

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


def will_retry(error: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Whether the scheduler runs another attempt after this failure, by the attempts left
    for its kind that the scheduler put in the message (none for DATA failures). The
    scheduler may still give up on it when the execution is failing or cancelled."""
    left = payload.get("retries_left")
    if not isinstance(left, dict):
        return False
    count = left.get(str(error.get("kind") or "USER"))
    return isinstance(count, int) and count > 0


def failure_for_monitors(message: dict[str, Any], payload: dict[str, Any]) -> Exception:
    """The exception `run_node` raises once the failed attempt of `message` is reported."""
    error = message.get("error") or {}
    failed = NodeFailed(str(error.get("type") or "Error"), str(error.get("message") or ""),
                        str(error.get("traceback") or ""), str(error.get("kind") or "USER"))
    if will_retry(error, payload):
        attempt = message.get("attempt", "?")
        return Retry(f"attempt {attempt} failed with {failed!r}; the scheduler runs another",
                     exc=failed)
    return failed
