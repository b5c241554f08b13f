"""How the scheduler sends held attempts: the part of `Scheduler` that takes ready attempts
from its `ReadyQueue` (scheduler/fair.py) in turn, writes the rows of those sent for the first
time in the same transaction, builds their messages, and sends them once committed.

Items of one map, or sibling nodes made from one task template, may leave together, as one
message (a chunk: `scheduler/chunks.py` says which and how many, `sdk.wire.chunks` what the
message holds); each keeps its own attempt, token and row. A worker reports a chunk's
outcomes in one `reports` message, which `split` turns back into the `report` messages it
stands for.

`Sending` is a base class of `scheduler.service.Scheduler`, which provides what it uses: the
settings, the state, the store, the engines in memory (`live`), the ready queue, the chunk
sizing (`chunks`), the outbox, the board view, `in_transaction`, `after_commit` and `_live`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from scheduler.batch import Batch, Live
from scheduler.board_view import BoardView
from scheduler.chunks import CHUNK_BYTES, Chunks, task_ref, template_key
from scheduler.dispatch import Dispatch, chunk_item, inputs_preview, make_chunk, make_dispatch
from scheduler.fair import ReadyQueue
from scheduler.outbox import Outbox
from scheduler.state import StateStore, StateTx
from sdk.model.config import Settings
from sdk.model.errors import GraftError
from sdk.model.spec import node_to_json
from sdk.model.store import Store
from sdk.wire.chunks import split_reports
from sdk.wire.keys import AttemptKey
from sdk.wire.tiers import queue_for

log = logging.getLogger("graft.scheduler")

# Attempts one transaction takes from the ready queue, all tier queues together: it writes the
# rows of those sent for the first time and builds their messages, which holds the loop. (A
# queue found emptied doubles its depth, up to 5,000 messages, and with chunks of 64 one
# transaction took a 100,000-node fan-out whole, for seconds.) The rest go on the next turns.
SELECT_ATTEMPTS = 2_000


class Sending:
    settings: Settings
    state: StateStore
    store: Store
    live: dict[str, Live]
    ready: ReadyQueue
    chunks: Chunks
    outbox: Outbox
    view: BoardView
    queue_depth: Callable[[list[str]], dict[str, int]] | None
    backlogged: Callable[[], bool]
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
            if not self.backlogged():
                depths = self.ready.bounds(queues)
            if depths is None:
                try:
                    depths = self.queue_depth(queues)
                except Exception as exc:  # the broker is away: try again next turn
                    log.debug("queue depths not read (%s); ready attempts stay held", exc)
                    return
            if self.backlogged():
                return  # reports wait to be applied: more sent now would only wait longer
        rows, rowless = [], []
        most = SELECT_ATTEMPTS if depths is not None else None
        for queue, priority, keys in self.ready.take_units(depths, self._chunk_of, most):
            batch.taken.extend((queue, priority, key) for key in keys)
            if len(keys) == 1:
                single = self._build(keys[0])
                dispatches = [single] if single is not None else []
            else:
                dispatches = self._build_chunk(queue, priority, keys)
            for dispatch in dispatches:
                eid = dispatch.execution_id
                live = self.live[eid]
                batch.seen.add(eid)  # a rollback forgets its engine (and what `known` gained)
                batch.outbox.append(dispatch)
                for _, node, _ in dispatch.attempts:
                    if node not in live.known:
                        rows.append(self.view.row(eid, live.engine.nodes[node],
                                                  live.tokens[node], live.times.get(node)))
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


    def _chunk_of(self, queue: str, key: AttemptKey) -> tuple[Hashable, int] | None:
        """The group a held attempt may share a message with (the items of its map, or its
        siblings of the same task template) and how many of the group one message may carry
        now (`scheduler/chunks.py`); None when it goes alone."""
        live = self.live.get(key[0])
        if live is None:
            return None
        run = live.engine.nodes.get(key[1])
        if run is None or run.parent is None or run.spec.kind != "task":
            return None
        parent = live.engine.nodes.get(run.parent)
        if parent is None:
            return None
        group: Hashable = run.parent if parent.map is not None \
            else (run.parent, template_key(run.spec))
        limit = self.chunks.limit(task_ref(run.spec), parent.children_left,
                                  self.ready.depth_target(queue))
        return (group, limit) if limit > 1 else None

    def _build_chunk(self, queue: str, priority: int,
                     keys: tuple[AttemptKey, ...]) -> list[Dispatch]:
        """The messages of held attempts of one group (children of one parent sharing a
        spec): one chunk, or more when their inline inputs outgrow `CHUNK_BYTES`; one no
        longer awaited is left out, one alone goes as a single message, one whose inputs
        the store refused is held again for 2 s."""
        eid = keys[0][0]
        live = self.live.get(eid)
        if live is None:
            self._revive.setdefault(eid, []).extend(keys)
            return []
        engine = live.engine
        waiting = [k for k in keys if engine.is_waiting(k[1], k[2])]
        if len(waiting) <= 1:
            return [d for d in map(self._build, waiting) if d is not None]
        first = engine.nodes[waiting[0][1]]
        parent = first.parent
        assert parent is not None
        spec = node_to_json(dataclasses.replace(first.spec, inputs={}, subgraph=None,
                                                after=()))
        task = first.spec.task
        name = f"{task.module}.{task.qualname}"
        out: list[Dispatch] = []
        items: list[dict[str, Any]] = []
        size, preview = 0, ""
        for key in waiting:
            run = engine.nodes[key[1]]
            inputs = engine.resolved_inputs(run.id)
            try:
                item, item_bytes = chunk_item(self.settings, self.store, run, inputs,
                                              live.tokens[run.id])
            except GraftError as exc:  # the store refused its inputs: hold it, try again
                log.warning("attempt %d of node %s of %s not sent yet: %s", key[2], key[1],
                            eid, exc)
                self.ready.push(queue, priority, key, delay_s=2.0)
                continue
            if run.spec.id != first.spec.id:
                item["id"] = run.spec.id
            if items and size + item_bytes > CHUNK_BYTES:
                out.append(make_chunk(self.settings, eid, parent, spec, queue, name, items,
                                      preview))
                items, size = [], 0
            if not items:
                preview = inputs_preview(inputs)
            items.append(item)
            size += item_bytes
        if items:
            out.append(make_chunk(self.settings, eid, parent, spec, queue, name, items,
                                  preview))
        return out

    def split(self, bodies: Iterable[Any]) -> list[Any]:
        """The control messages `bodies` stand for, a worker's `reports` message split into
        its `report`s (`sdk.wire.chunks`); the duration each report gives is measured
        against its task, for the chunk limit."""
        out = list(split_reports(bodies))
        for body in out:
            if not isinstance(body, dict) or body.get("type") != "report":
                continue
            duration, live = body.get("duration_s"), self.live.get(body.get("execution"))
            if live is None or not isinstance(duration, (int, float)):
                continue
            run = live.engine.nodes.get(body.get("node"))  # type: ignore[arg-type]
            if run is not None and run.spec.kind == "task":
                self.chunks.observe(task_ref(run.spec), float(duration))
        return out

    def _queue_of(self, live: Live, node: str) -> str:
        memory = live.engine.nodes[node].spec.memory_bytes
        queue = self._queues.get(memory)
        if queue is None:  # a node of no tier raises, naming itself
            queue = self._queues[memory] = queue_for(self.settings, memory, f"node {node!r}")
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
