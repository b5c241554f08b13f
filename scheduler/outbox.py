"""What the scheduler has committed but not yet handed on: dispatches the broker refused
(sent again each turn) and status board writes Redis refused. Nothing here decides anything:
the transaction that produced it has committed. (Attempts held back for their turn or their
backoff are in `scheduler.fair.ReadyQueue`.)"""

from __future__ import annotations

import logging
from typing import Any

from scheduler.dispatch import Dispatch, Dispatcher
from scheduler.metrics import Observer
from sdk.model.errors import GraftError
from sdk.remote.board import Board
from sdk.remote.leases import AttemptKey

log = logging.getLogger("graft.scheduler")


class Outbox:
    def __init__(self, dispatcher: Dispatcher, board: Board | None, metrics: Observer):
        self.dispatcher = dispatcher
        self.board = board
        self.metrics = metrics
        self.unsent: list[Dispatch] = []  # committed, not yet sent (broker away)
        self.stale: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # board backlog

    def send(self, dispatches: list[Dispatch]) -> None:
        """Send now; what the broker refuses is kept and sent again by `flush`."""
        if not dispatches:
            return
        try:
            self.dispatcher.send(dispatches)
        except Exception as exc:  # committed already: keep them and try again next turn
            log.error("could not send %d ready nodes (%s); will retry", len(dispatches), exc)
            self.unsent.extend(dispatches)
            return
        self.metrics.dispatched(d.queue for d in dispatches)

    def write_board(self, eid: str, fields: dict[str, Any],
                    nodes: dict[str, dict[str, Any]] | None) -> None:
        """Write an execution's board record; kept and merged with later writes while Redis
        refuses it."""
        assert self.board is not None
        try:
            self.board.write(eid, fields, nodes)
        except GraftError as exc:
            log.debug("status board not updated for %s (%s); will retry", eid, exc)
            old_fields, old_nodes = self.stale.get(eid, ({}, {}))
            self.stale[eid] = ({**old_fields, **fields}, {**old_nodes, **(nodes or {})})

    def flush(self) -> None:
        """Send what could not be sent, and write what could not be written."""
        if self.unsent:
            unsent, self.unsent = self.unsent, []
            self.send(unsent)
        if self.stale and self.board is not None:
            stale, self.stale = self.stale, {}
            for eid, (fields, nodes) in stale.items():
                self.write_board(eid, fields, nodes)

    def held(self) -> set[AttemptKey]:
        """The attempts waiting here to be sent."""
        return {(d.execution_id, d.node_id, d.attempt) for d in self.unsent}

    def clear(self) -> None:
        self.unsent.clear()
        self.stale.clear()

    @property
    def backlog(self) -> int:
        return len(self.unsent) + len(self.stale)
