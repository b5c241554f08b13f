"""Notifications: what an execution's end fires, written in the transaction that records the
end, handed to the notifier once that committed, and marked sent once it was.

An execution a launch plan with notifications started (submitted, or fired by its schedule)
carries them (`ExecutionRecord.notify`, from the submit message). When it ends, in the same
transaction as its end, one `NotificationRecord` is written for each notification naming the
phase it ended in (SUCCEEDED, FAILED, ABORTED; TIMED_OUT for a workflow timeout) through the
channel that carries it (SMTP: all three kinds are mails), and one for the webhook when the
scheduler has one. Once the transaction committed they go to the `Deliveries` (the loop's
`scheduler.notify.Notifier`, which does the network I/O on a thread of its own); what it
reports sent, or given up, is marked in a later transaction. A scheduler that starts serving
hands its executions' pending notifications to it again (`recover`).

So a notification is sent at least once: a scheduler that dies after the mail went out and
before its mark committed leaves it pending, and its successor sends it again (a window of
one loop turn, about the time of a send). Marked, it is never sent again.

The `Deliveries` also says which channels this scheduler has: a launch plan whose
notifications none of them carries is refused when it is activated or submitted
(`undeliverable`), not run with its notifications dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from scheduler.batch import Batch
from scheduler.state import NotificationRecord, StateTx
from sdk.authoring.notification import undeliverable
from sdk.model.states import ExecutionState

Mark = tuple[str, int, str, str | None]  # (execution id, seq, "sent" | "failed", why)
MAX_ERROR_CHARS = 2_000


class Deliveries(Protocol):
    """What sends notifications (`scheduler.notify.Notifier`)."""

    channels: frozenset[str]

    def committed(self, records: list[NotificationRecord]) -> None:
        """Send these (their rows are committed); each only once however often given."""

    def done(self) -> list[Mark]:
        """The notifications sent or given up since the last call."""

    def forget(self) -> None:
        """Drop what waits (this scheduler stops serving; its successor sends it)."""


class NoDeliveries:
    """A scheduler without notifiers: it refuses launch plans with notifications."""

    channels: frozenset[str] = frozenset()

    def committed(self, records: list[NotificationRecord]) -> None:
        return None

    def done(self) -> list[Mark]:
        return []

    def forget(self) -> None:
        return None


class Notices:
    """Records the notifications executions' ends fire, and their marks."""

    def __init__(self, deliveries: Deliveries | None = None):
        self.deliveries = deliveries or NoDeliveries()
        self._marks: list[Mark] = []  # reported by the deliveries, not yet committed

    def undeliverable(self, notifications: list[dict[str, Any]] | None, where: str
                      ) -> str | None:
        """Why this scheduler cannot deliver `notifications` (their JSON), or None."""
        if not notifications:
            return None
        return undeliverable(notifications, self.deliveries.channels, where)

    def ended(self, tx: StateTx, eid: str, notify: dict[str, Any] | None, status: str,
              error: Any, batch: Batch) -> None:
        """Execution `eid` ended in `status` (with `error`, as its record keeps it): write
        the notifications that fires, to hand over once `batch` committed."""
        if not notify or any(r.execution_id == eid for r in batch.notices):
            return
        phase = phase_of(status, error)
        fired = [n for n in notify["notifications"] if phase in n["phases"]]
        if not fired:
            return
        about = {"execution": eid, "launch_plan": notify["launch_plan"],
                 "workflow": notify["workflow"], "phase": phase, "error": error_text(error)}
        records = [NotificationRecord(eid, seq, "smtp", phase,
                                      {**about, "kind": n["kind"], "recipients": n["recipients"]})
                   for seq, n in enumerate(fired)]
        if "webhook" in self.deliveries.channels:
            records.append(NotificationRecord(eid, len(fired), "webhook", phase,
                                              {**about, "notifications": fired}))
        tx.add_notifications(records)
        batch.notices.extend(records)

    def recover(self, tx: StateTx, owns: Callable[[str], bool], batch: Batch) -> None:
        """Hand over again, once `batch` committed, the pending notifications of the
        executions this scheduler serves (it just started serving them)."""
        batch.notices.extend(r for r in tx.notifications(state="pending")
                             if owns(r.execution_id))

    def committed(self, batch: Batch) -> None:
        if batch.notices:
            self.deliveries.committed(batch.notices)

    def take_marks(self) -> list[Mark]:
        """What was sent or given up since the last call, to mark in a transaction; give it
        back with `keep` when that transaction failed."""
        marks, self._marks = [*self._marks, *self.deliveries.done()], []
        return marks

    def keep(self, marks: list[Mark]) -> None:
        self._marks = [*marks, *self._marks]

    def forget(self) -> None:
        """This scheduler stops serving: its successor sends what is unsent, again."""
        self._marks.clear()
        self.deliveries.forget()


def phase_of(status: str, error: Any) -> str:
    """The Flyte phase an execution that ended in `status` is in: FAILED is TIMED_OUT when
    its workflow timeout ended it."""
    if status == ExecutionState.FAILED.value and isinstance(error, dict):
        failures = error.get("failures") or []
        if any(f.get("error_type") == "WorkflowTimeout" and not f.get("node_id")
               for f in failures if isinstance(f, dict)):
            return "TIMED_OUT"
    return status


def error_text(error: Any) -> str | None:
    """An execution's error (as its record keeps it) in one line, or None."""
    if not isinstance(error, dict):
        return None
    text = None
    if "aborted" in error:
        text = f"aborted: {error['aborted']}"
    elif "failures" in error:
        failures = [f for f in error["failures"] or [] if isinstance(f, dict)]
        if failures:
            first = failures[0]
            where = f"node {first['node_id']} ({first.get('task')})" if first.get("node_id") \
                else str(first.get("task") or "the workflow")
            text = f"{where}: {first.get('error_type', 'Error')}: {first.get('message', '')}"
            if len(failures) > 1:
                text += f" (and {len(failures) - 1} more failures)"
    elif "message" in error:
        text = f"{error.get('type', 'Error')}: {error['message']}"
    if text is None:
        return None
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 3] + "..."
