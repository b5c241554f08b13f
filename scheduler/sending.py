"""How the scheduler sends held attempts: the part of `Scheduler` that takes ready attempts
from its `ReadyQueue` (scheduler/fair.py) in turn, writes the rows of those sent for the first
time in the same transaction, builds their messages, and sends them once committed.

`Sending` is a base class of `scheduler.service.Scheduler`, which provides what it uses: the
settings, the state, the store, the engines in memory (`live`), the ready queue, the outbox,
the board view, `in_transaction`, `after_commit` and `_live`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from scheduler.batch import Batch, Live
from scheduler.board_view import BoardView
from scheduler.dispatch import Dispatch, make_dispatch
from scheduler.fair import ReadyQueue
from scheduler.outbox import Outbox
from scheduler.state import StateStore, StateTx
from sdk.model.config import Settings
from sdk.model.errors import GraftError
from sdk.model.store import Store
from sdk.remote.leases import AttemptKey

log = logging.getLogger("graft.scheduler")


class Sending:
    settings: Settings
    state: StateStore
    store: Store
    live: dict[str, Live]
    ready: ReadyQueue
    outbox: Outbox
    view: BoardView
    queue_depth: Callable[[list[str]], dict[str, int]] | None
    _revive: dict[str, list[AttemptKey]]
    _queues: dict[int | None, str]  # a node's memory limit -> its tier queue

    def resend(self, attempts: list[AttemptKey]) -> int:
        """Send again attempts whose message may be gone (same attempt, same token: a worker
        that already started it drops the copy), in their turn with the other ready ones.
        Returns how many were taken."""
        count = 0
        for key in attempts:
            eid, node, attempt = key
            live = self.live.get(eid)
            if live is None or not live.engine.is_waiting(node, attempt) or key in self.ready:
                continue
            self.ready.push(self._queue_of(live, node), live.priority, key)
            count += 1
        self.pump()
        return count


    def pump(self) -> int:
        """Send the held ready attempts each tier queue has room for (scheduler/fair.py), in a
        transaction of their own (it writes the rows of those sent for the first time).
        Returns how many were sent."""
        if not self.ready.queues():
            return 0
        batch = Batch()
        self._run(batch, lambda tx: self._select(tx, batch))
        return len(batch.outbox)


    def _run(self, batch: Batch, work: Callable[[StateTx], Any]) -> None:
        """`work` in one transaction, then what it produced; the attempts it took from the
        ready queue go back there when the transaction fails."""
        try:
            self.in_transaction(batch, work)
        except Exception:
            for queue, priority, key in batch.taken:
                self.ready.push(queue, priority, key)
            raise
        self.after_commit(batch)


    def _select(self, tx: StateTx, batch: Batch) -> None:
        """Hold what `batch` made ready, then take the attempts each tier queue has room for
        onto `batch.outbox`, writing in `tx` the rows of those that have none yet (with their
        tokens): they are sent once `tx` committed. Without Redis it takes nothing."""
        for queue, priority, key, delay_s in batch.ready:
            self.ready.push(queue, priority, key, delay_s)
        batch.ready.clear()
        queues = self.ready.queues()
        if not queues:
            return
        depths = None
        if self.queue_depth is not None:
            try:
                depths = self.queue_depth(queues)
            except Exception as exc:  # the broker is away: try again next turn
                log.debug("queue depths not read (%s); ready attempts stay held", exc)
                return
        rows, rowless = [], []
        for queue, priority, key in self.ready.take_placed(depths):
            batch.taken.append((queue, priority, key))
            dispatch = self._build(key)
            if dispatch is None:
                continue
            eid, node, _ = key
            live = self.live[eid]
            batch.seen.add(eid)  # a rollback forgets its engine (and what `known` gained)
            batch.outbox.append(dispatch)
            if node not in live.known:
                rows.append(self.view.row(eid, live.engine.nodes[node], live.tokens[node],
                                          live.times.get(node)))
                rowless.append((live, node))
        tx.insert_nodes(rows)
        for live, node in rowless:
            live.known.add(node)


    def _build(self, key: AttemptKey) -> Dispatch | None:
        """The message of a held attempt, or None when it is no longer awaited (its
        execution ended or was cancelled, or another attempt replaced it) or its execution
        is not in memory (a rolled-back batch dropped it: `flush` rebuilds it and holds the
        attempt again)."""
        eid, node, attempt = key
        live = self.live.get(eid)
        if live is None:
            self._revive.setdefault(eid, []).append(key)
            return None
        if not live.engine.is_waiting(node, attempt):
            return None
        try:
            return self._dispatch(eid, live, node)
        except GraftError as exc:  # the store refused its inputs: hold it and try again
            log.warning("attempt %d of node %s of %s not sent yet: %s", attempt, node, eid, exc)
            self.ready.push(self._queue_of(live, node), live.priority, key, delay_s=2.0)
            return None


    def _queue_of(self, live: Live, node: str) -> str:
        memory = live.engine.nodes[node].spec.memory_bytes
        queue = self._queues.get(memory)
        if queue is None:  # a node of no tier raises, naming itself
            queue = self._queues[memory] = self.settings.queue_for(memory, f"node {node!r}")
        return queue


    def _rebuild_held(self) -> None:
        """Rebuild the executions whose held attempts were taken while they were not in
        memory, and hold again those attempts they still wait for."""
        revive, self._revive = self._revive, {}
        batch = Batch()
        try:
            self.in_transaction(batch, lambda tx: [self._live(tx, eid, batch, quiet=True)
                                                   for eid in revive])
        except Exception:
            for eid, keys in revive.items():  # the state is away: try again next turn
                self._revive.setdefault(eid, []).extend(keys)
            raise
        for eid, keys in revive.items():
            live = self.live.get(eid)
            for key in keys if live is not None else ():
                if live.engine.is_waiting(key[1], key[2]):
                    self.ready.push(self._queue_of(live, key[1]), live.priority, key)
        self.after_commit(batch)


    def _dispatch(self, eid: str, live: Live, node_id: str) -> Dispatch:
        run = live.engine.nodes[node_id]
        return make_dispatch(self.settings, self.store, eid, run,
                             live.engine.resolved_inputs(node_id), live.tokens[node_id])
