"""What the scheduler has committed but not yet handed on: dispatches the broker refused
(sent again each turn) and status board writes. Board writes are merged per execution and
written together, all executions in one round trip, at most every `BOARD_EVERY_S` (so a
busy execution's board lags its state by that much, and a batch of one report costs no
round trip of its own); those Redis refuses are kept and merged with later ones. Nothing
here decides anything: the transaction that produced it has committed. (Attempts held back
for their turn or their backoff are in `scheduler.fair.ReadyQueue`.)"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Protocol

from scheduler.dispatch import Dispatch, Dispatcher
from scheduler.observer import Observer
from sdk.model.errors import GraftError
from sdk.wire.keys import AttemptKey
from sdk.wire.results import FINAL, RESULT_FIELDS

log = logging.getLogger("graft.scheduler")

BOARD_EVERY_S = 0.05


class StatusBoard(Protocol):
    """What the scheduler needs of the status board (`sdk.wire.board.Board`)."""

    def write_many(self, records: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> None:
        ...

    def executions(self, limit: int) -> Iterable[tuple[str, dict[str, Any]]]: ...

    def mark_unknown(self, execution_ids: list[str]) -> None: ...


class Outbox:
    def __init__(self, dispatcher: Dispatcher, board: StatusBoard | None, metrics: Observer):
        self.dispatcher = dispatcher
        self.board = board
        self.metrics = metrics
        self.unsent: list[Dispatch] = []  # committed, not yet sent (broker away)
        # Board writes not yet made: execution -> (fields, node records), merged.
        self.stale: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self._board_due = 0.0  # monotonic time of the next board write

    def send(self, dispatches: list[Dispatch]) -> list[Dispatch]:
        """Send now; what the broker refuses is kept and sent again by `flush`. Returns what
        was handed to the broker."""
        if not dispatches:
            return []
        try:
            self.dispatcher.send(dispatches)
        except Exception as exc:  # committed already: keep them and try again next turn
            log.error("could not send %d ready nodes (%s); will retry", len(dispatches), exc)
            self.unsent.extend(dispatches)
            return []
        self.metrics.dispatched(d.queue for d in dispatches for _ in d.attempts)
        return dispatches

    def write_board(self, eid: str, fields: dict[str, Any],
                    nodes: dict[str, dict[str, Any]] | None) -> None:
        """Have an execution's board record written (merged with the writes still waiting);
        written at once when the last write is `BOARD_EVERY_S` old."""
        old_fields, old_nodes = self.stale.get(eid, ({}, {}))
        self.stale[eid] = (_merged(old_fields, fields), {**old_nodes, **(nodes or {})})
        self.write_boards()

    def write_boards(self, force: bool = False) -> None:
        """Write the waiting board records in one round trip, if the last write is
        `BOARD_EVERY_S` old (or `force`); kept for the next time when Redis refuses."""
        if not self.stale or self.board is None:
            return
        now = time.monotonic()
        if not force and now < self._board_due:
            return
        self._board_due = now + BOARD_EVERY_S
        stale, self.stale = self.stale, {}
        try:
            self.board.write_many(stale)
        except GraftError as exc:
            log.debug("status board not updated for %d executions (%s); will retry",
                      len(stale), exc)
            for eid, (fields, nodes) in stale.items():  # later writes win over these
                new_fields, new_nodes = self.stale.get(eid, ({}, {}))
                self.stale[eid] = (_merged(fields, new_fields), {**nodes, **new_nodes})

    def next_due_s(self) -> float | None:
        """Seconds until waiting board records are due to be written, if any."""
        return max(0.0, self._board_due - time.monotonic()) if self.stale else None

    def flush(self) -> list[Dispatch]:
        """Send what could not be sent, and write what could not be written. Returns what
        was handed to the broker now."""
        sent: list[Dispatch] = []
        if self.unsent:
            unsent, self.unsent = self.unsent, []
            sent = self.send(unsent)
        self.write_boards()
        return sent

    def held(self) -> set[AttemptKey]:
        """The attempts waiting here to be sent."""
        return {key for d in self.unsent for key in d.attempts}

    def clear(self) -> None:
        self.unsent.clear()
        self.stale.clear()

    @property
    def backlog(self) -> int:
        return len(self.unsent) + len(self.stale)


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Board fields `old` then `new` written, as one write: a final result replaces the
    result fields of earlier writes (the board writes a result whole)."""
    if new.get("status") in FINAL:
        old = {k: v for k, v in old.items() if k not in RESULT_FIELDS}
    return {**old, **new}
