"""The sender: how held ready attempts leave for the tier queues.

Attempts the engines made ready wait in a `ReadyQueue` (scheduler/fair.py) and leave it a
tier queue's depth at a time, in turn: `select` takes them at the end of a batch's
transaction, writes the rows of those sent for the first time (with their tokens) in that
transaction, and builds their messages, which the outbox sends once it committed.

A single attempt's message may carry the links of a chain after it, for its worker to run
without coming back here (`scheduler/continuation.py`).

Items of one map, or sibling nodes made from one task template, may leave together, as one
message (a chunk: `scheduler/chunks.py` says which and how many, `sdk.wire.chunks` what the
message holds); each keeps its own attempt, token and row. How long a task's items take is
measured from the durations its reports give (`observe`).

It also keeps track of the attempts it handed to the broker (`Live.sent`), so that the search
for attempts lost on the way (`queued_attempts`) looks at those only, not at every node held.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Hashable, Iterable
from typing import Any, Protocol

from scheduler.batch import Batch, Live
from scheduler.board_view import BoardView
from scheduler.chunks import CHUNK_BYTES, Chunks, task_ref, template_key
from scheduler.continuation import make_links
from scheduler.dispatch import (
    PREVIEW_CHARS,
    Dispatch,
    chunk_item,
    inputs_preview,
    items_preview,
    make_chunk,
    make_dispatch,
)
from scheduler.executions import Executions
from scheduler.fair import ReadyQueue
from scheduler.outbox import Outbox
from scheduler.state import StateTx
from sdk.model.config import Settings
from sdk.model.errors import GraftError
from sdk.model.runs import NodeRun
from sdk.model.spec import node_to_json
from sdk.model.states import NodeState
from sdk.model.store import Store
from sdk.wire.keys import AttemptKey
from sdk.wire.tiers import TierQueues

log = logging.getLogger("graft.scheduler")

# Attempts one transaction takes from the ready queue, all tier queues together: it writes the
# rows of those sent for the first time and builds their messages, which holds the loop. (A
# queue found emptied doubles its depth, up to 5,000 messages, and with chunks of 64 one
# transaction took a 100,000-node fan-out whole, for seconds.) The rest go on the next turns.
SELECT_ATTEMPTS = 2_000
RETRY_HELD_S = 2.0  # an attempt whose inputs the store refused is held this long


class QueueDepths(Protocol):
    """How full the broker's queues are (scheduler/loop.py reads them from Redis)."""

    def read(self, queues: list[str]) -> dict[str, int]:
        """How many messages wait in each of these tier queues."""
        ...

    def backlogged(self) -> bool:
        """Whether, as last read with the depths, so many reports wait to be applied that
        nothing more should be sent until they are."""
        ...


class Sender:
    """Holds ready attempts and sends them in turn, each tier queue a depth at a time
    (without `depths`, all at once)."""

    def __init__(self, settings: Settings, store: Store, executions: Executions,
                 view: BoardView, queues: TierQueues, ready: ReadyQueue, outbox: Outbox,
                 depths: QueueDepths | None = None):
        self.settings = settings
        self.store = store
        self.executions = executions
        self.view = view
        self.queues = queues
        self.ready = ready
        self.outbox = outbox
        self.depths = depths
        self.chunks = Chunks(settings.chunk_items)  # how many attempts one message carries
        # Held attempts taken while their execution was not in memory (a rolled-back batch
        # dropped it): rebuilt and held again by `Scheduler.flush`.
        self.revive: dict[str, list[AttemptKey]] = {}

    @property
    def holding(self) -> bool:
        """Whether ready attempts wait to be sent."""
        return bool(self.ready.queues())

    @property
    def paced(self) -> bool:
        """Whether queues are topped up a depth at a time (so held attempts need turns)."""
        return self.depths is not None

    # ---- in the transaction ------------------------------------------------------------------

    def select(self, tx: StateTx, batch: Batch) -> None:
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
        if self.depths is not None:
            if not self.depths.backlogged():
                depths = self.ready.bounds(queues)
            if depths is None:
                try:
                    depths = self.depths.read(queues)
                except Exception as exc:  # the broker is away: try again next turn
                    log.debug("queue depths not read (%s); ready attempts stay held", exc)
                    return
            if self.depths.backlogged():
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
                live = self.executions.live[eid]
                batch.seen.add(eid)  # a rollback forgets its engine (and what `known` gained)
                batch.outbox.append(dispatch)
                for _, node, _ in dispatch.attempts:
                    if node not in live.known:
                        rows.append(self.view.row(eid, live.engine.nodes[node],
                                                  live.tokens[node], live.times.get(node)))
                        rowless.append((live, node))
                # The links it carries get their rows (waiting, no token), so that a
                # scheduler rebuilt from the state holds them when their claims come.
                for link in dispatch.payload.get("next") or ():
                    if link["node"] not in live.known:
                        rows.append(self.view.row(eid, live.engine.nodes[link["node"]], None,
                                                  None))
                        rowless.append((live, link["node"]))
        tx.insert_nodes(rows)
        for live, node in rowless:
            live.known.add(node)

    def _build(self, key: AttemptKey) -> Dispatch | None:
        """The message of a held attempt, or None when it is no longer awaited (its
        execution ended or was cancelled, or another attempt replaced it) or its execution
        is not in memory (a rolled-back batch dropped it: it is rebuilt and the attempt held
        again)."""
        eid, node, attempt = key
        live = self.executions.get(eid)
        if live is None:
            self.revive.setdefault(eid, []).append(key)
            return None
        if not live.engine.is_waiting(node, attempt):
            return None
        run = live.engine.nodes[node]
        try:
            token = live.tokens[node]
            links = make_links(self.settings, live.engine, run, token, self.queue_of) \
                if self.settings.continue_links else None
            return make_dispatch(self.settings, self.store, eid, run,
                                 live.engine.resolved_inputs(node), token, links)
        except GraftError as exc:  # the store refused its inputs: hold it and try again
            log.warning("attempt %d of node %s of %s not sent yet: %s", attempt, node, eid, exc)
            self.ready.push(self.queue_of(run), live.priority, key, delay_s=RETRY_HELD_S)
            return None

    def _chunk_of(self, queue: str, key: AttemptKey) -> tuple[Hashable, int] | None:
        """The group a held attempt may share a message with (the items of its map, or its
        siblings of the same task template) and how many of the group one message may carry
        now (`scheduler/chunks.py`); None when it goes alone."""
        live = self.executions.get(key[0])
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
        the store refused is held again for `RETRY_HELD_S`."""
        eid = keys[0][0]
        live = self.executions.get(eid)
        if live is None:
            self.revive.setdefault(eid, []).extend(keys)
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
                self.ready.push(queue, priority, key, delay_s=RETRY_HELD_S)
                continue
            if run.spec.id != first.spec.id:
                item["id"] = run.spec.id
            if items and size + item_bytes > CHUNK_BYTES:
                out.append(make_chunk(self.settings, eid, parent, spec, queue, name, items,
                                      preview))
                items, size = [], 0
            if not items:
                preview = inputs_preview(inputs)
            elif len(preview) < PREVIEW_CHARS:  # each item's inputs, while the preview has room
                preview = items_preview(preview, inputs_preview(inputs))
            items.append(item)
            size += item_bytes
        if items:
            out.append(make_chunk(self.settings, eid, parent, spec, queue, name, items,
                                  preview))
        return out

    # ---- around the transaction --------------------------------------------------------------

    def committed(self, batch: Batch) -> None:
        """Once `batch` committed: hold what it made ready (outside a selection), drop the
        held attempts of executions that ended, send its messages, and forget the sent
        attempts it ended."""
        for queue, priority, key, delay_s in batch.ready:
            self.ready.push(queue, priority, key, delay_s)
        for eid in batch.touched:
            live = self.executions.get(eid)
            if live is not None and live.engine.done:
                self.ready.drop(eid)
        self._sent(self.outbox.send(batch.outbox))
        for eid, changed in batch.touched.items():
            live = self.executions.get(eid)
            if live is not None and live.sent:
                nodes, sent = live.engine.nodes, live.sent
                for node in changed.intersection(sent):
                    if _ended(nodes, node, sent[node]):
                        del sent[node]

    def give_back(self, batch: Batch) -> None:
        """`batch` rolled back: hold again the attempts it took to send."""
        for queue, priority, key in batch.taken:
            self.ready.push(queue, priority, key)

    def _sent(self, dispatches: Iterable[Dispatch]) -> None:
        for d in dispatches:
            for eid, node, attempt in d.attempts:
                live = self.executions.get(eid)
                if live is not None:
                    live.sent[node] = attempt

    def flush(self) -> None:
        """Send what the broker refused before, and release the retries whose backoff
        ended into their turn."""
        self._sent(self.outbox.flush())
        self.ready.release_due()

    def resend(self, attempts: list[AttemptKey]) -> int:
        """Hold again attempts whose message may be gone (same attempt, same token: a worker
        that already started it drops the copy), to be sent in their turn with the other
        ready ones. Returns how many were taken."""
        count = 0
        for key in attempts:
            eid, node, attempt = key
            live = self.executions.get(eid)
            if live is None or not live.engine.is_waiting(node, attempt) or key in self.ready:
                continue
            self.ready.push(self.queue_of(live.engine.nodes[node]), live.priority, key)
            count += 1
        return count

    def take_revive(self) -> dict[str, list[AttemptKey]]:
        """The held attempts taken while their execution was not in memory, by execution
        (to rebuild it and `hold_again` them), forgotten here."""
        revive, self.revive = self.revive, {}
        return revive

    def revive_later(self, revive: dict[str, list[AttemptKey]]) -> None:
        """Keep these for the next `take_revive` (their rebuild failed)."""
        for eid, keys in revive.items():
            self.revive.setdefault(eid, []).extend(keys)

    def hold_again(self, live: Live, keys: list[AttemptKey]) -> None:
        """Hold again the attempts of a rebuilt execution that were taken while it was not
        in memory, those it still waits for."""
        for key in keys:
            if live.engine.is_waiting(key[1], key[2]):
                self.ready.push(self.queue_of(live.engine.nodes[key[1]]), live.priority, key)

    def queued_attempts(self) -> list[AttemptKey]:
        """The attempts live executions wait for that were sent (not those held back, waiting
        for their backoff, their turn or the broker). It looks only at the attempts handed to
        the broker (`Live.sent`), dropping those that ended, so its cost follows what is in
        flight, not the size of the graphs held."""
        held = self.outbox.held()
        found: list[AttemptKey] = []
        for eid, live in self.executions.live.items():
            nodes, sent = live.engine.nodes, live.sent
            for node, attempt in list(sent.items()):
                if _ended(nodes, node, attempt):
                    del sent[node]
                elif (key := (eid, node, attempt)) not in held and key not in self.ready:
                    found.append(key)
        return found

    def observe(self, bodies: Iterable[Any]) -> None:
        """Measure the duration each report among `bodies` gives against its task (for the
        chunk limit)."""
        for body in bodies:
            if not isinstance(body, dict) or body.get("type") != "report":
                continue
            duration = body.get("duration_s")
            live = self.executions.get(body.get("execution"))  # type: ignore[arg-type]
            if live is None or not isinstance(duration, (int, float)):
                continue
            run = live.engine.nodes.get(body.get("node"))  # type: ignore[arg-type]
            if run is not None and run.spec.kind == "task":
                self.chunks.observe(task_ref(run.spec), float(duration))

    def queue_of(self, run: NodeRun) -> str:
        """The tier queue of a node (TierError naming it when no tier fits)."""
        return self.queues.of(run.spec.memory_bytes, run.id)

    def next_due_s(self) -> float | None:
        """Seconds until a held retry or a board write is due, if any."""
        dues = [d for d in (self.ready.next_due_s(), self.outbox.next_due_s()) if d is not None]
        return min(dues) if dues else None

    @property
    def backlog(self) -> int:
        """How many dispatches and board writes wait (for the broker, their time or their
        turn)."""
        return self.outbox.backlog + len(self.ready)

    def clear(self) -> None:
        self.outbox.clear()
        self.ready.clear()
        self.revive.clear()


def _ended(nodes: dict[str, NodeRun], node: str, attempt: int) -> bool:
    """Whether a sent attempt is no longer waited for (reported, given up or superseded)."""
    run = nodes.get(node)
    return run is None or run.state != NodeState.QUEUED or run.attempt != attempt
