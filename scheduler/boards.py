"""The board writer: the status board (`sdk.wire.board`) kept up with what committed.

After each committed batch it writes the record of every execution the batch changed, with
the records of its nodes that changed, through the outbox (which merges writes and sends
them in one round trip). A graft changes many nodes at once: at most `BOARD_NODES` node
records of an execution are written a turn, the others on the next turns from the state the
nodes have then (and its engine keeps those nodes in memory until they are written). A
refresh rebuilds an execution's records, from its engine while it runs, else from the state.
What became of a signal is written as the execution's field `signal:<request>` for the
client that sent it to read (never rebuilt: a client waits for it only a little).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Collection
from typing import Any

from scheduler.batch import Batch, Live
from scheduler.board_view import BoardView
from scheduler.outbox import Outbox, StatusBoard
from scheduler.state import StateTx
from sdk.model.errors import GraftError
from sdk.model.states import ExecutionState

BOARD_NODES = 5000  # node board records written per execution and turn

log = logging.getLogger(__name__)


class BoardWriter:
    """Writes executions' board records once their batches committed."""

    def __init__(self, view: BoardView, outbox: Outbox):
        self.view = view
        self.outbox = outbox
        # Node board records still to write, a chunk a turn (a graft changes many at once).
        self.later: dict[str, set[str]] = {}

    @property
    def board(self) -> StatusBoard | None:
        """Where the board is written (None: not at all)."""
        return self.outbox.board

    def waiting(self, eid: str) -> Collection[str]:
        """The nodes of `eid` whose records are still to be written (their engine keeps
        them)."""
        return self.later.get(eid, ())

    def refresh(self, tx: StateTx, eid: str, batch: Batch, live: Live | None,
                body: Any = None, *, recent: int | None = None) -> None:
        """Put on `batch` the whole board record of execution `eid` and of its nodes: from
        its engine (`live`) while it runs, else from the state. `body`: the refresh message
        that asked, refused when the execution is unknown. With `recent`, of the nodes
        dropped from memory only those its last `recent` events (or their ends) may have
        changed are rewritten: the board missed at most the last batch of a scheduler that
        died (the board is written after each commit), and the rest is on it already."""
        record = tx.get_execution(eid)
        if record is None:
            if body is not None:  # a client's typo, most likely: answered, not dead-lettered
                log.info("refresh for unknown execution %s: the client is told so", eid)
                batch.unknown.append(eid)
            return
        if live is not None and record.status == ExecutionState.RUNNING.value:
            engine = live.engine
            batch.board[eid] = {**self.view.submitted(record),
                                **self.view.execution(eid, engine, live.finished,
                                                      record.spec_key, live.cancel_reason,
                                                      live.ended_at)}
            nodes = batch.board_nodes[eid] = {nid: self.view.node(run, live.times.get(nid))
                                              for nid, run in engine.nodes.items()}
            if engine.evicted:  # those dropped from memory, from their rows
                ids = None if recent is None else _ended_by(tx, eid, live.seq, recent)
                nodes.update((r["node_id"], self.view.node_row(r)) for r in tx.nodes(eid, ids)
                             if r["node_id"] not in engine.nodes)
        else:
            rows = tx.nodes(eid)
            batch.board[eid] = self.view.from_record(record, rows)
            batch.board_nodes[eid] = {r["node_id"]: self.view.node_row(r) for r in rows}

    def committed(self, batch: Batch, live_of: Callable[[str], Live | None]) -> None:
        """Write what a committed batch showed: the records it built, and those of the
        executions it changed (`live_of` finds their engines)."""
        if self.board is None:
            return
        for eid, fields in batch.board.items():
            self.outbox.write_board(eid, fields, batch.board_nodes.get(eid))
        for eid, changed in batch.touched.items():
            live = live_of(eid)
            if live is not None:
                self.write(eid, live, changed)
        if batch.unknown:
            try:
                self.board.mark_unknown(batch.unknown)
            except GraftError as exc:  # Redis away: the client times out instead
                log.debug("unknown executions not marked on the board: %s", exc)
        for eid, answers in batch.answers.items():  # after the gates' records they speak of
            self.outbox.write_board(eid, {f"signal:{request}": answer
                                          for request, answer in answers.items()}, None)

    def write(self, eid: str, live: Live, changed: set[str] | None = None) -> None:
        """Write an execution's board record with up to `BOARD_NODES` of its changed nodes'
        records (all of them once it ended); the others are written on the next turns."""
        later = self.later.pop(eid, set())
        if changed:
            later |= changed
        engine = live.engine
        if len(later) > BOARD_NODES and not engine.done:
            now = set(itertools.islice(later, BOARD_NODES))
            self.later[eid] = later - now
            later = now
        fields = self.view.execution(eid, engine, live.finished, live.spec_key,
                                     live.cancel_reason, live.ended_at)
        self.outbox.write_board(eid, fields, {nid: self.view.node(engine.nodes[nid],
                                                                  live.times.get(nid))
                                              for nid in later})

    def flush(self, live_of: Callable[[str], Live | None]) -> None:
        """Write the node records left for this turn (of executions still in memory)."""
        for eid in list(self.later):
            live = live_of(eid)
            if live is None:
                self.later.pop(eid)
            else:
                self.write(eid, live)

    def write_now(self) -> None:
        """Write the board records still waiting, now (before this scheduler stops serving)."""
        self.outbox.write_boards(force=True)

    def clear(self) -> None:
        self.later.clear()


def _ended_by(tx: StateTx, eid: str, seq: int, count: int) -> set[str]:
    """The nodes the events up to `seq`, the last `count` of them, name, and those above
    them (a parent ends with its last child, in the same batch)."""
    ids = set()
    for event in tx.events(eid, max(0, seq - count), count):
        parts = event.node_id.split("/")
        ids.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return ids
