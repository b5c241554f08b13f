"""The recorder: what an engine decided, written down in the state, inside the batch's
transaction.

For each report the engine takes, it appends the event the execution is replayed from; for
each node the engine changed, it writes the node's row (its state, attempt, token, times,
error, history, inputs and outputs) and gives a released node a fresh token and its place on
the batch's ready list; an expanded node (a map, a conditional) is expanded on the spot and
its report applied in turn; a gate is held (`scheduler.gates`), sent nowhere. When the
execution ends, it writes the execution's end. Cache entries of dynamics whose sub-graphs
succeeded are saved once the batch committed.

A node gets its row when it is sent or moves on: a grafted sub-graph's waiting nodes cost no
SQL until then (every node has one once the execution ended). A map's items get theirs as
they are created, their turn come; those a failed or aborted map never created have none, its
own row's error naming them (`never_started`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Callable, Container
from typing import Any

from scheduler.batch import Batch, Live
from scheduler.board_view import BoardView
from scheduler.collector import FREEZE_ABOVE, collection_paused
from scheduler.continuation import claimed, given_up_with, link_token
from scheduler.gates import Gates
from scheduler.notices import Notices
from scheduler.state import EventRecord, StateTx
from sdk.model.errors import GraftError
from sdk.model.report import Report
from sdk.model.runs import NodeRun
from sdk.model.spec import NodeSpec
from sdk.model.states import TERMINAL_NODE_STATES, ExecutionState, NodeState
from sdk.model.store import Store
from sdk.runtime.cache import cluster_index
from sdk.runtime.expand import EXPANDED, expand
from sdk.wire import reports
from sdk.wire.keys import AttemptKey
from sdk.wire.tiers import TierQueues

log = logging.getLogger("graft.scheduler")

RUN_ON_WORKERS = ("task", "dynamic")  # node kinds sent to a tier queue
UNSENT_STATES = (NodeState.PENDING, NodeState.QUEUED)


class Recorder:
    """Writes what engines decide (events, node rows, execution ends) in the open
    transaction, and lists on the batch what is to be sent, saved and shown once it commits."""

    def __init__(self, store: Store, view: BoardView, queues: TierQueues,
                 held: Container[AttemptKey], clock: Callable[[], float], gates: Gates,
                 cache_signing_key: bytes | None = None, notices: Notices | None = None):
        self.store = store
        self.gates = gates
        self.cache_signing_key = cache_signing_key  # entry_key(GRAFT_SECRET)
        self.view = view
        self.queues = queues
        self.held = held  # attempts ready but held back, never sent (the sender's queue)
        self.clock = clock
        self.notices = notices or Notices()

    def queue_of(self, run: NodeRun) -> str:
        return self.queues.of(run.spec.memory_bytes, run.id)

    def apply(self, tx: StateTx, eid: str, live: Live, report: Report, batch: Batch) -> None:
        """Have the engine take `report`; if it did (it waited for that attempt), record the
        event and what changed."""
        # A report that completes a large graph builds its whole output at once (the outputs
        # of its dropped nodes read back, a list of them): Python's collections, set off by
        # those millions of new objects, walked them over and over.
        paused = collection_paused() if live.engine.evicted >= FREEZE_ABOVE \
            else contextlib.nullcontext()
        with paused:
            # when it ended, on the clock of the node times (whatever a message said)
            report = dataclasses.replace(report, ended_at=round(self.clock(), 3))
            link = self._claimed_link(live, report)
            released = live.engine.apply(report)
            if released is None:
                # A report not taken: its node was given up (its worker runs a link the
                # execution no longer waits for: stop it), or this is a copy of one applied
                # before (the link is under way: leave it).
                if link is not None and not live.engine.is_waiting(link[1], link[2]):
                    batch.superseded.append((eid, link[1], link[2]))
                return
            # The gathers it began go in its event, for a replay to begin the same ones.
            extra = {k: v for k, v in report.extra.items()
                     if k not in ("gathers", "valid", "continued")}
            started = live.engine.drain_gathers()
            if started:
                extra["gathers"] = started
            if live.engine.drain_validated():  # a replay need not validate it again
                extra["valid"] = True
            if extra != report.extra:
                report = dataclasses.replace(report, extra=extra)
            if report.extra.get("cache_key"):
                live.cache_keys[report.node] = report.extra["cache_key"]
            live.seq += 1
            tx.append_event(EventRecord(eid, live.seq, report.node, report.attempt,
                                        report.outcome.value, reports.encode(report)))
            self.changed(tx, eid, live, released, batch, link)

    def _claimed_link(self, live: Live, report: Report) -> tuple[str, str, int] | None:
        """`(node, link, attempt)` when `report` says its worker claimed the link after it
        and that link is the one its message carried (`scheduler.continuation`); a link it
        names that its message could not have carried is ignored, and logged."""
        named = report.extra.get("continued")
        if not named:
            return None
        run = live.engine.nodes.get(report.node)
        after = claimed(live.engine, run, named, self.queue_of) if run is not None else None
        if after is None:
            log.warning("report of node %s attempt %d names link %s, which its message did "
                        "not carry: ignored", report.node, report.attempt, named)
            return None
        return report.node, after.id, after.attempt

    def changed(self, tx: StateTx, eid: str, live: Live, released: list[str],
                batch: Batch, link: tuple[str, str, int] | None = None) -> None:
        """Record what the engine changed since the last call, `released` being the nodes it
        made ready: tokens and ready places for those (a `link` a worker claimed after node
        `link[0]` runs there: sent, no message), expansion for maps and conditionals,
        deadlines for gates, rows for the rest, and the execution's end when it ended."""
        engine = live.engine
        now = self.clock()
        expanded = [nid for nid in released if engine.nodes[nid].spec.kind in EXPANDED]
        continued: set[str] = set()
        for nid in released:
            if nid in expanded:
                continue
            times = live.times.setdefault(nid, [None, None])
            times[0] = times[0] or now
            run = engine.nodes[nid]
            if run.spec.kind == "gate":  # held here, WAITING: no token, no worker
                self.gates.hold(eid, run, times[0])
                continue
            if link is not None and (nid, run.attempt) == link[1:]:
                live.tokens[nid] = link_token(live.tokens[link[0]], nid, run.attempt)
                live.sent[nid] = run.attempt
                continued.add(nid)
                batch.observed.append(("continued", self.queue_of(run)))
                continue
            live.tokens[nid] = secrets.token_hex(8)
            queue = self.queues.of(run.spec.memory_bytes, nid)
            batch.ready.append((queue, live.priority, (eid, nid, run.attempt),
                                run.retry_delay_s))
        if link is not None and link[1] not in continued:  # not released: stop it
            batch.superseded.append((eid, link[1], link[2]))
        for nid in expanded:  # read its inputs here and expand it now
            run = engine.nodes[nid]
            report = expand(run.spec, engine.resolved_inputs(nid), self.store, nid, run.attempt,
                            raise_transient=True)
            self.apply(tx, eid, live, report, batch)
        changed = engine.drain_changes()
        self._rows(tx, eid, live, changed, now, batch, continued)
        batch.touched.setdefault(eid, set()).update(changed)
        if engine.done:
            self._ended(tx, eid, live, batch)

    def _rows(self, tx: StateTx, eid: str, live: Live, changed: set[str], now: float,
              batch: Batch, continued: Container[str] = ()) -> None:
        """Insert or update the rows of the nodes that changed (a node still waiting, or
        queued and not sent, has none until the execution ends; one `continued` on its
        worker was sent). A node cancelled in flight is given up, and with it the links its
        message may have carried."""
        engine = live.engine
        new, old = [], []
        done = engine.done
        for nid in changed:
            run = engine.nodes[nid]
            times = live.times.setdefault(nid, [None, None])
            if run.state in TERMINAL_NODE_STATES:
                if nid not in live.done and run.spec.kind in RUN_ON_WORKERS:
                    queue = self.view.queue(run)
                    if queue is not None:  # None: no tier fits it (GRAFT_TIERS changed)
                        batch.observed.append(("finished", queue, run.state.value))
                live.done.add(nid)
                times[1] = times[1] or now
                key = live.cache_keys.pop(nid, None)
                if key and run.state == NodeState.SUCCEEDED and run.outputs is not None:
                    batch.cached.append((key, run.spec, run.outputs, eid, nid))
                if run.state == NodeState.CANCELLED and nid in live.tokens \
                        and (eid, nid, run.attempt) not in self.held:  # held: never sent
                    batch.superseded.append((eid, nid, run.attempt))
                    batch.superseded.extend((eid, after.id, after.attempt) for after
                                            in given_up_with(engine, run, self.queue_of))
            elif run.state == NodeState.RUNNING and times[0] is None:
                times[0] = now
            if nid in live.known:
                old.append(self.view.row(eid, run, live.tokens.get(nid), times))
            elif run.state not in UNSENT_STATES or done or nid in continued:
                new.append(self.view.row(eid, run, live.tokens.get(nid), times))
        if done:  # rows for every node, those never sent too
            new.extend(self.view.row(eid, run, live.tokens.get(nid), live.times.get(nid))
                       for nid, run in engine.nodes.items()
                       if nid not in live.known and nid not in changed)
        tx.insert_nodes(new)
        live.known.update(r["node_id"] for r in new)
        tx.update_nodes(old)

    def _ended(self, tx: StateTx, eid: str, live: Live, batch: Batch) -> None:
        engine = live.engine
        live.ended_at = self.clock()
        fields: dict[str, Any] = {"status": engine.state.value}
        if engine.state == ExecutionState.SUCCEEDED:
            fields["outputs"] = engine.outputs
        elif engine.state == ExecutionState.ABORTED:
            fields["error"] = {"aborted": live.cancel_reason or "cancelled"}
        else:
            fields["error"] = {"failures": self.view.failures(engine)}
        if live.snapshot_key is not None:  # its snapshot goes with its end
            fields.update(snapshot_key=None, snapshot_seq=None)
            batch.replaced.append(live.snapshot_key)
            live.snapshot_key = None
        tx.update_execution(eid, **fields)
        self.notices.ended(tx, eid, live.notify, engine.state.value, fields.get("error"), batch)
        batch.observed.append(("execution", eid, ExecutionState.RUNNING.value,
                               engine.state.value))

    def save_cached(self, entries: list[tuple[str, NodeSpec, dict[str, Any], str, str]]
                    ) -> None:
        """Cache entries of dynamics whose sub-graphs succeeded (best effort: a cache entry
        that could not be written is a later miss, nothing worse)."""
        if not entries:
            return
        index = cluster_index(self.store, self.cache_signing_key)
        for key, spec, outputs, eid, nid in entries:
            try:
                index.save(key, spec, outputs, execution=eid, node=nid)
            except GraftError as exc:
                log.warning("cache entry of dynamic node %s of %s not saved: %s", nid, eid, exc)
