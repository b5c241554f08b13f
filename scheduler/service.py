"""The scheduler's logic: apply control messages to executions, one transaction a batch.

For each batch it records outcomes, asks the engine which nodes are newly ready, gives each
ready attempt a random token, writes nodes, events and executions, and commits; only then are
the ready nodes sent and the status board updated (`after_commit`). A report the engine does
not wait for (duplicate, late, superseded attempt) changes nothing; one whose token is not the
attempt's is refused. A bad message is refused with a reason and the rest of the batch goes
on. After a restart, executions are rebuilt by replaying their recorded events.

The state is behind `StateStore` and dispatching behind `Dispatcher`, so this module needs
neither a database nor a broker.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from scheduler.batch import CONTROL, Batch, Live, Refusal
from scheduler.board_view import BoardView
from scheduler.chunks import Chunks
from scheduler.collector import FREEZE_ABOVE, collection_paused
from scheduler.dispatch import Dispatcher
from scheduler.fair import ReadyQueue
from scheduler.observer import Observer
from scheduler.outbox import Outbox
from scheduler.sending import Sending
from scheduler.state import EventRecord, ExecutionRecord, StateStore, StateTx
from scheduler.subgraphs import Subgraphs
from sdk.model import bindings
from sdk.model.engine import (
    TERMINAL_NODE_STATES,
    Engine,
    ExecutionState,
    NodeRun,
    NodeState,
    RetryPolicy,
)
from sdk.model.errors import GraftError
from sdk.model.failures import is_transient
from sdk.model.report import Outcome, Report, data_failure, system_failure
from sdk.model.spec import GraphSpec, NodeSpec
from sdk.model.store import Store
from sdk.model.validate import validate
from sdk.runtime.cache import cluster_index
from sdk.runtime.expand import EXPANDED, expand
from sdk.values.store import get_verified
from sdk.wire import messages, reports
from sdk.wire.board import Board
from sdk.wire.keys import AttemptKey
from sdk.wire.tiers import check_tiers, tier_check

log = logging.getLogger("graft.scheduler")

RUN_ON_WORKERS = ("task", "dynamic")  # node kinds sent to a tier queue
PUMP_S = 0.1  # how often tier queues are topped up while ready attempts wait for room
BOARD_NODES = 5000  # node board records written per execution and turn
# Nodes of a large graph inserted per execution and turn (`Engine.graft_slice`): grafting a
# 100,000-node sub-graph at once held the loop, and every other execution, for over a second.
GRAFT_SLICE = 2_000
# Active nodes per execution past which no next slice is inserted: with nodes that succeeded
# and that nothing reads dropped from memory (`Engine.evict`), what a large graph holds is
# this window, not the graph.
GRAFT_WINDOW = 20_000
# A node gets its row when it is sent or moves on: a grafted sub-graph's waiting nodes cost
# no SQL until then.
UNSENT_STATES = (NodeState.PENDING, NodeState.QUEUED)


class _Unguarded(Exception):
    """A message applied without a savepoint of its own failed (`Scheduler.handle`)."""


class Scheduler(Sending):
    def __init__(self, settings: Any, state: StateStore, dispatcher: Dispatcher, store: Store,
                 board: Board | None = None, *, clock: Callable[[], float] = time.time,
                 metrics: Observer | None = None):
        self.settings = settings
        self.state = state
        self.dispatcher = dispatcher
        self.store = store
        self.clock = clock
        self.policy = RetryPolicy(system_retries=settings.system_retries)
        self.live: dict[str, Live] = {}
        self.view = BoardView(settings)
        self.outbox = Outbox(dispatcher, board, metrics or Observer())
        # Ready attempts held back, sent a tier queue's depth at a time (scheduler/fair.py).
        self.ready = ReadyQueue(settings.queue_ahead_s)
        # How many attempts one message carries (scheduler/chunks.py).
        self.chunks = Chunks(settings.chunk_items)
        # The depth of tier queues (messages waiting in the broker); None: send all at once.
        self.queue_depth: Callable[[list[str]], dict[str, int]] | None = None
        # Whether, as last read with those depths, so many reports wait in the control streams
        # that nothing more is sent until they are applied (set by the loop).
        self.backlogged: Callable[[], bool] = lambda: False
        self._revive: dict[str, list[AttemptKey]] = {}  # held attempts of dropped executions
        self._queues: dict[int | None, str] = {}
        # Node board records still to write, a chunk a turn (a graft changes many at once).
        self._board_later: dict[str, set[str]] = {}
        # Sub-graph specs read and parsed off the loop (scheduler/subgraphs.py).
        self.subgraphs = Subgraphs(self._load_subgraph)
        self._deadlines: list[tuple[float, str]] = []  # (ends_at, execution id)
        # Executions with a graph partly inserted: `graft_more` inserts a slice a turn.
        self.graft_slice: int | None = GRAFT_SLICE
        self.graft_window: int | None = GRAFT_WINDOW
        self.grafting: set[str] = set()
        self._tx: StateTx | None = None  # the transaction open now (`_spilled` reads in it)
        # Applies `activate` and `deactivate` messages: a `scheduler.cron.Ticker` sets itself.
        self.launch_plans: Any = None
        # With several schedulers (scheduler/shards.py): which executions this one serves, and
        # the check that refuses a transaction once another took its shards over.
        self.owns: Callable[[str], bool] = lambda eid: True
        self.fence: Callable[[StateTx], None] | None = None

    @property
    def board(self) -> Board | None:
        """Where the status board is written (None: not at all)."""
        return self.outbox.board

    @board.setter
    def board(self, board: Board | None) -> None:
        self.outbox.board = board

    @property
    def metrics(self) -> Observer:
        """What this scheduler reports to its metrics (an `Observer` that ignores it all, by
        default)."""
        return self.outbox.metrics

    @metrics.setter
    def metrics(self, metrics: Observer) -> None:
        self.outbox.metrics = metrics

    # ---- entry points ---------------------------------------------------------------------

    def handle(self, bodies: list[Any]) -> Batch:
        """Apply a batch of decoded control messages in one transaction, then send what it
        made ready. Raises (rolling the whole batch back) only for failures of the state or
        the store that another try may not meet."""
        split = self.split(bodies)  # a chunk's `reports`: one `report` per item
        # A lone message needs no savepoint of its own (two round trips on PostgreSQL): when
        # it fails, nothing else of the batch is there to keep, so the whole transaction is
        # rolled back and the message applied again, in a savepoint, to be refused alone.
        guarded = len(split) != 1
        while True:
            batch = Batch()

            def work(tx: StateTx, batch: Batch = batch, guarded: bool = guarded) -> None:
                for body in split:
                    self._apply_one(tx, body, batch, guarded)
                self._select(tx, batch)

            try:
                self._run(batch, work)
            except _Unguarded:
                guarded = True
                continue
            return batch

    def lost(self, attempts: list[AttemptKey], why: str) -> Batch:
        """Fail attempts whose worker is gone (their lease ran out) as SYSTEM, so the engine
        releases new ones; supersede them so no late copy runs."""
        batch = Batch()

        def apply(tx: StateTx) -> None:
            for eid, node, attempt in attempts:
                batch.superseded.append((eid, node, attempt))
                live = self._live(tx, eid, batch, quiet=True)
                if live is None or not live.engine.is_waiting(node, attempt):
                    continue
                log.warning("attempt %d of node %s of %s is lost: %s", attempt, node, eid, why)
                failure = system_failure("WorkerLost", f"the worker holding attempt {attempt} "
                                         f"of node {node!r} {why}")
                self._apply_report(tx, eid, live, Report.failed(node, attempt, failure), batch)

        self.in_transaction(batch, apply)
        self.after_commit(batch)
        return batch

    def recover(self) -> list[AttemptKey]:
        """Rebuild every running execution; return the attempts it calls queued (which the
        caller sends again unless it can prove them in flight) and rewrite their board."""
        batch = Batch()
        queued: list[AttemptKey] = []

        def apply(tx: StateTx) -> None:
            for record in tx.executions(status=ExecutionState.RUNNING.value):
                if not self.owns(record.id):
                    continue
                live = self._live(tx, record.id, batch)
                if live is None:
                    continue
                for run in live.engine.nodes.values():
                    if run.state == NodeState.QUEUED:
                        queued.append((record.id, run.id, run.attempt))
                self._refresh(tx, record.id, batch)

        self.in_transaction(batch, apply)
        self.after_commit(batch)
        return queued

    def graft_more(self) -> Batch:
        """Insert the next slice of each graph being grafted, in one transaction, and send
        what that made ready (the loop calls this each turn while `grafting`)."""
        batch = Batch()
        self.grafting = {eid for eid in self.grafting
                         if eid in self.live and self.live[eid].engine.grafting}
        eids = [eid for eid in self.grafting if self.live[eid].engine.can_graft]
        if not eids:
            return batch

        def work(tx: StateTx) -> None:
            for eid in eids:
                live = self.live[eid]
                batch.seen.add(eid)
                self._changed(tx, eid, live, live.engine.graft_more(), batch)
            self._select(tx, batch)

        self._run(batch, work)
        return batch

    def forget(self) -> None:
        """Drop everything held in memory (this scheduler stops serving; whoever serves next
        rebuilds from the state)."""
        self.live.clear()
        self.grafting.clear()
        self._board_later.clear()
        self.outbox.clear()
        self.ready.clear()
        self._revive.clear()
        self.subgraphs.clear()
        self._deadlines.clear()
        if self.launch_plans is not None:
            self.launch_plans.forget()

    def can_graft(self) -> bool:
        """Whether an execution has a next slice to insert now (`graft_more`)."""
        return any(eid in self.live and self.live[eid].engine.can_graft
                   for eid in self.grafting)

    def nodes_held(self) -> int:
        """How many nodes the executions held in memory have (see `Engine.size`)."""
        return sum(live.engine.size for live in self.live.values())

    def queued_attempts(self) -> list[AttemptKey]:
        """The attempts live executions wait for that were sent (not those held back, waiting
        for their backoff, their turn or the broker). It looks only at the attempts handed to
        the broker (`Outbox.sent`), dropping those that ended, so its cost follows what is in
        flight, not the size of the graphs held."""
        held = self.outbox.held()
        found: list[AttemptKey] = []
        for eid in list(self.outbox.sent):
            live = self.live.get(eid)
            if live is None:  # dropped from memory: its rebuild lists what it sent again
                del self.outbox.sent[eid]
                continue
            nodes, sent = live.engine.nodes, self.outbox.sent[eid]
            for node, attempt in list(sent.items()):
                if _ended(nodes, node, attempt):
                    del sent[node]
                elif (key := (eid, node, attempt)) not in held and key not in self.ready:
                    found.append(key)
        return found

    def refresh_boards(self, execution_ids: list[str] | None = None,
                       limit: int = 10_000) -> int:
        """Rewrite the status board of these executions (default: the newest `limit`) from
        the state, after Redis lost it."""
        batch = Batch()

        def apply(tx: StateTx) -> None:
            ids = execution_ids
            if ids is None:
                ids = [r.id for r in tx.executions(limit=limit)]
            for eid in ids:
                if self.owns(eid):
                    self._refresh(tx, eid, batch)

        self.in_transaction(batch, apply)
        self.after_commit(batch)
        return len(batch.board)

    def settle_boards(self, limit: int = 1000) -> int:
        """Rewrite the board records of the newest `limit` executions that show one queued or
        running when the state says it ended (a scheduler killed between a commit and its
        board write leaves such records). Returns how many were rewritten."""
        if self.board is None:
            return 0
        showing = [eid for eid, record in self.board.executions(limit)
                   if self.owns(eid) and record.get("status") in (ExecutionState.QUEUED.value,
                                               ExecutionState.RUNNING.value)]
        batch = Batch()

        def apply(tx: StateTx) -> None:
            for eid in showing:
                record = tx.get_execution(eid)
                if record is not None and record.status != ExecutionState.RUNNING.value:
                    self._refresh(tx, eid, batch)

        self.in_transaction(batch, apply)
        self.after_commit(batch)
        return len(batch.board)

    def flush(self) -> None:
        """Send what could not be sent and what is due, and write what could not be written
        to the board (the broker or Redis was away), and top the tier queues up. Called by
        the loop each turn."""
        self.outbox.flush()
        for eid in list(self._board_later):
            live = self.live.get(eid)
            if live is None:
                self._board_later.pop(eid)
            else:
                self._write_board(eid, live)
        if self._revive:
            self._rebuild_held()
        self.ready.release_due()
        self.pump()

    def next_due_s(self) -> float | None:
        """Seconds until the next delayed dispatch or workflow timeout is due, if any; soon
        when ready attempts wait for room in their queue (the workers drain it meanwhile)."""
        waits = []
        for due in (self.ready.next_due_s(), self.outbox.next_due_s()):
            if due is not None:
                waits.append(due)
        if self.ready.queues() and self.queue_depth is not None:
            waits.append(PUMP_S)
        if self._board_later or self.can_graft():
            waits.append(0.0)
        if self._deadlines:
            waits.append(self._deadlines[0][0] - self.clock())
        return max(0.0, min(waits)) if waits else None

    @property
    def backlog(self) -> int:
        """How many dispatches and board writes wait (for the broker, their time or their
        turn)."""
        return self.outbox.backlog + len(self.ready)

    # ---- transactions ---------------------------------------------------------------------

    def in_transaction(self, batch: Batch, work: Callable[[StateTx], Any]) -> None:
        """Run `work` in one transaction of the state; on failure, forget the engines of the
        batch's executions (they may hold what was rolled back) and re-raise."""
        try:
            with self.state.transaction() as tx:
                if self.fence is not None:
                    self.fence(tx)
                self._tx = tx
                try:
                    work(tx)
                finally:
                    self._tx = None
        except Exception:
            # The engines may hold changes that were not committed: rebuild them from the
            # state when their next message comes.
            for eid in batch.seen:
                self.live.pop(eid, None)
            raise

    def new_execution_id(self) -> str:
        """A fresh execution id of a shard this scheduler serves (for what it starts itself,
        such as launch plan ticks)."""
        while True:
            eid = uuid.uuid4().hex[:20]
            if self.owns(eid):
                return eid

    def is_transient(self, exc: BaseException) -> bool:
        """Errors of the infrastructure, not of the message, that another try may not meet:
        the state store unreachable or locked, the value store failing. Data the database
        refuses, a store object gone or altered, and malformed messages are final."""
        return is_transient(exc) or self.state.is_transient(exc)

    # ---- messages -------------------------------------------------------------------------

    def _apply_one(self, tx: StateTx, body: Any, batch: Batch, guarded: bool = True) -> None:
        """Apply one checked message; with `guarded`, in a savepoint, so that a failure of
        its own refuses it and keeps the rest of the batch; without, such a failure raises
        `_Unguarded` (the caller rolls back and applies it again, guarded)."""
        try:
            msg = messages.check(body)
        except messages.MessageError as exc:
            batch.refused.append(Refusal(CONTROL, str(exc), body))
            return
        if msg["type"] in messages.LAUNCH_PLAN_MESSAGES:
            self._launch_plan(tx, msg, batch)
            return
        eid = msg["execution"]
        batch.seen.add(eid)
        mark, observed_mark = len(batch.ready), len(batch.observed)
        try:
            with tx.savepoint() if guarded else contextlib.nullcontext():
                if msg["type"] == "submit":
                    self.submit(tx, msg, batch)
                elif msg["type"] == "report":
                    self._report(tx, msg, batch)
                elif msg["type"] == "cancel":
                    self._cancel(tx, msg, batch)
                else:
                    self._refresh(tx, eid, batch, body)
        except Exception as exc:
            if self.is_transient(exc):
                raise  # the whole batch goes back for another try
            if not guarded:
                raise _Unguarded from exc
            del batch.ready[mark:]
            del batch.observed[observed_mark:]
            self.live.pop(eid, None)
            log.exception("control message for execution %s failed", eid)
            batch.refused.append(Refusal(CONTROL, f"{msg['type']} for execution {eid} could "
                                         f"not be applied: {type(exc).__name__}: {exc}", body))
            if msg["type"] == "report":
                self._fail_unapplied(tx, msg, exc, batch)

    def _launch_plan(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        """An `activate` or `deactivate` message, in its own savepoint (scheduler/cron.py)."""
        if self.launch_plans is None:
            batch.refused.append(Refusal(CONTROL, f"{msg['type']}: this scheduler runs no "
                                         f"launch plan schedules", msg))
            return
        try:
            with tx.savepoint():
                self.launch_plans.apply(tx, msg, batch)
        except Exception as exc:
            if self.is_transient(exc):
                raise
            log.exception("%s of launch plan %s failed", msg["type"], msg["launch_plan"])
            batch.refused.append(Refusal(CONTROL, f"{msg['type']} of launch plan "
                                         f"{msg['launch_plan']!r} could not be applied: "
                                         f"{type(exc).__name__}: {exc}", msg))

    def _fail_unapplied(self, tx: StateTx, msg: dict[str, Any], exc: Exception,
                        batch: Batch) -> None:
        """A report that could not be applied fails its node, so the execution cannot hang."""
        eid = msg["execution"]
        try:
            with tx.savepoint():
                live = self._live(tx, eid, batch, quiet=True)
                if live is not None:
                    failure = data_failure("ReportNotApplied", f"the scheduler could not apply "
                                           f"the report of this node: {type(exc).__name__}: "
                                           f"{exc}")
                    self._apply_report(tx, eid, live,
                                       Report.failed(msg["node"], msg["attempt"], failure), batch)
        except Exception:
            self.live.pop(eid, None)
            log.exception("could not fail node %s of %s either", msg["node"], eid)

    def submit(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        """Create the execution a checked submission message describes, in `tx` (nothing
        when it exists already), and queue its first nodes on `batch`."""
        eid = msg["execution"]
        if eid in self.live or tx.get_execution(eid) is not None:
            return  # delivered twice
        record = ExecutionRecord(id=eid, workflow=str(msg.get("workflow") or "?"),
                                 status=ExecutionState.RUNNING.value, spec_key=msg["spec"],
                                 inputs=msg["inputs"], submitted_at=msg.get("submitted_at"),
                                 priority=msg.get("priority", 0))
        try:
            for name, binding in msg["inputs"].items():
                bindings.check_resolved(binding, f"input {name!r}")
            spec = GraphSpec.loads(get_verified(self.store, msg["spec"]))
            validate(spec)
            check_tiers(spec, self.settings)
            engine = Engine(spec, msg["inputs"], self.policy, self.graft_slice)
            self._hold_little(eid, engine)
        except GraftError as exc:
            if self.is_transient(exc):
                raise
            error = {"type": type(exc).__name__, "message": str(exc)}
            tx.add_execution(ExecutionRecord(**{**record.__dict__,
                                                "status": ExecutionState.FAILED.value,
                                                "error": error}))
            batch.board[eid] = self.view.refused(eid, record, str(exc))
            batch.observed.append(("execution", eid, None, ExecutionState.FAILED.value))
            log.warning("execution %s refused: %s", eid, exc)
            return
        tx.add_execution(record)
        batch.observed.append(("execution", eid, None, ExecutionState.RUNNING.value))
        live = self.live[eid] = Live(engine, record.spec_key, priority=record.priority)
        self._track_deadline(live, eid, record.created_at)
        batch.board[eid] = self.view.submitted(record)
        self._changed(tx, eid, live, engine.start(), batch)

    def _report(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        eid, node_id, attempt = msg["execution"], msg["node"], msg["attempt"]
        live = self._live(tx, eid, batch, body=msg)
        if live is None:
            return
        engine = live.engine
        if node_id not in engine.nodes:
            if engine.evicted and tx.node_outputs(eid, [node_id]):
                log.debug("ignored report for %s/%s, which succeeded", eid, node_id)
                return
            batch.refused.append(Refusal(CONTROL, f"report for unknown node {node_id!r} of "
                                         f"execution {eid}", msg))
            return
        if not engine.is_waiting(node_id, attempt):
            log.debug("ignored report for %s/%s attempt %s", eid, node_id, attempt)
            return
        if msg["token"] != live.tokens.get(node_id):
            batch.refused.append(Refusal(CONTROL, f"report for attempt {attempt} of node "
                                         f"{node_id!r} of execution {eid} does not carry the "
                                         f"token issued with that attempt (forged, or from "
                                         f"another installation)", msg))
            return
        started = time.perf_counter()
        self._apply_report(tx, eid, live, self._as_report(msg), batch)
        if msg["outcome"] == Outcome.SUBGRAPH.value:
            batch.observed.append(("graft", time.perf_counter() - started))

    def _as_report(self, msg: dict[str, Any]) -> Report:
        node_id, attempt = msg["node"], msg["attempt"]
        try:
            return reports.decode(node_id, attempt, msg["outcome"], msg,
                                  lambda key: self.subgraphs.take(key, node_id))
        except GraftError as exc:  # its sub-graph is gone, altered or invalid
            if self.is_transient(exc):
                raise
            return Report.failed(node_id, attempt, data_failure(type(exc).__name__, str(exc)),
                                 **reports.attempt_info(msg))

    def _stored_subgraph(self, key: str) -> GraphSpec:
        return GraphSpec.loads(get_verified(self.store, key))

    def _load_subgraph(self, key: str, node_id: str) -> GraphSpec:
        """A dynamic node's reported sub-graph, read, verified, validated and checked against
        the tiers (in `Subgraphs`' thread, or inline)."""
        sub = GraphSpec.loads(get_verified(self.store, key))
        # the engine's check, early; and the tiers, in the same read of the nodes
        validate(sub, f"sub-graph of dynamic node {node_id!r}",
                 visit=tier_check(self.settings, f"{node_id}/"))
        return sub

    def _apply_report(self, tx: StateTx, eid: str, live: Live, report: Report,
                      batch: Batch) -> None:
        # A report that completes a large graph builds its whole output at once (the outputs
        # of its dropped nodes read back, a list of them): Python's collections, set off by
        # those millions of new objects, walked them over and over.
        paused = collection_paused() if live.engine.evicted >= FREEZE_ABOVE \
            else contextlib.nullcontext()
        with paused:
            self._apply_one_report(tx, eid, live, report, batch)

    def _apply_one_report(self, tx: StateTx, eid: str, live: Live, report: Report,
                          batch: Batch) -> None:
        released = live.engine.apply(report)
        if released is None:
            return
        if report.extra.get("cache_key"):
            live.cache_keys[report.node] = report.extra["cache_key"]
        live.seq += 1
        tx.append_event(EventRecord(eid, live.seq, report.node, report.attempt,
                                    report.outcome.value, reports.encode(report)))
        self._changed(tx, eid, live, released, batch)

    def _cancel(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        """Abort a running execution: its queued and running attempts are superseded (the
        workers stop those that run), nothing new starts. A cancel of a finished execution
        changes nothing; one of an unknown execution is refused."""
        eid = msg["execution"]
        record = tx.get_execution(eid)
        if record is None:
            batch.refused.append(Refusal(CONTROL, f"cancel for unknown execution {eid}", msg))
            return
        live = self._live(tx, eid, batch, quiet=True)
        if live is None or not live.engine.cancel():
            log.info("cancel of execution %s: it is %s already", eid, record.status)
            self._refresh(tx, eid, batch)
            return
        why = msg.get("reason") or "cancelled"
        log.info("execution %s aborted: %s", eid, why)
        live.cancel_reason = why
        self._changed(tx, eid, live, [], batch)

    def _track_deadline(self, live: Live, eid: str, started_at: float) -> None:
        timeout_s = live.engine.spec.timeout_s
        if timeout_s is not None:
            live.ends_at = started_at + timeout_s
            heapq.heappush(self._deadlines, (live.ends_at, eid))

    def expire(self) -> Batch:
        """End executions past their workflow timeout: FAILED with a WorkflowTimeout, their
        queued and running attempts superseded (the workers stop those that run)."""
        batch = Batch()
        now = self.clock()
        due = []
        while self._deadlines and self._deadlines[0][0] <= now:
            due.append(heapq.heappop(self._deadlines)[1])
        if not due:
            return batch

        def apply(tx: StateTx) -> None:
            for eid in due:
                batch.seen.add(eid)
                live = self._live(tx, eid, batch, quiet=True)
                if live is None or live.ends_at is None or live.ends_at > now:
                    continue
                if live.engine.time_out():
                    log.info("execution %s failed: ran past its workflow timeout of %g s",
                             eid, live.engine.spec.timeout_s)
                    self._changed(tx, eid, live, [], batch)

        try:
            self.in_transaction(batch, apply)
        except Exception:
            for eid in due:  # rolled back: judge them again next turn
                heapq.heappush(self._deadlines, (now, eid))
            raise
        self.after_commit(batch)
        return batch

    def _refresh(self, tx: StateTx, eid: str, batch: Batch, body: Any = None) -> None:
        record = tx.get_execution(eid)
        if record is None:
            if body is not None:
                batch.refused.append(Refusal(CONTROL, f"refresh for unknown execution {eid}",
                                             body))
            return
        live = self.live.get(eid)
        if live is not None and record.status == ExecutionState.RUNNING.value:
            engine = live.engine
            batch.board[eid] = {**self.view.submitted(record),
                                **self.view.execution(eid, engine, live.finished,
                                                      record.spec_key)}
            nodes = batch.board_nodes[eid] = {nid: self.view.node(run, live.times.get(nid))
                                              for nid, run in engine.nodes.items()}
            if engine.evicted:  # those dropped from memory, from their rows
                nodes.update((r["node_id"], self.view.node_row(r)) for r in tx.nodes(eid)
                             if r["node_id"] not in engine.nodes)
        else:
            rows = tx.nodes(eid)
            batch.board[eid] = self.view.from_record(record, rows)
            batch.board_nodes[eid] = {r["node_id"]: self.view.node_row(r) for r in rows}

    # ---- state ----------------------------------------------------------------------------

    def _live(self, tx: StateTx, eid: str, batch: Batch, quiet: bool = False,
              body: Any = None) -> Live | None:
        live = self.live.get(eid)
        if live is not None:
            return live
        record = tx.get_execution(eid)
        if record is None:
            if not quiet:
                batch.refused.append(Refusal(CONTROL, f"report for unknown execution {eid}",
                                             body if body is not None else {"execution": eid}))
            return None
        if record.status != ExecutionState.RUNNING.value:
            return None  # finished: late reports change nothing
        try:
            engine = Engine(GraphSpec.loads(get_verified(self.store, record.spec_key)),
                            record.inputs, self.policy)
            engine.start()
            seq = 0
            cache_keys: dict[str, str] = {}
            for ev in tx.events(eid):
                seq = ev.seq
                report = reports.decode(ev.node_id, ev.attempt, ev.outcome, ev.body,
                                        self._stored_subgraph)
                engine.apply(report)
                if report.extra.get("cache_key"):
                    cache_keys[report.node] = report.extra["cache_key"]
        except GraftError as exc:
            if self.is_transient(exc):
                raise
            log.error("execution %s cannot be rebuilt and is failed: %s", eid, exc)
            error = {"type": type(exc).__name__, "message": str(exc)}
            tx.update_execution(eid, status=ExecutionState.FAILED.value, error=error)
            batch.board[eid] = self.view.refused(eid, record, f"cannot be rebuilt: {exc}")
            batch.observed.append(("execution", eid, record.status,
                                   ExecutionState.FAILED.value))
            return None
        engine.drain_changes()
        rows = tx.nodes(eid)
        live = self.live[eid] = Live(
            engine, record.spec_key, seq, {r["node_id"] for r in rows},
            {nid for nid, r in engine.nodes.items() if r.state in TERMINAL_NODE_STATES},
            {r["node_id"]: r["token"] for r in rows if r["token"]},
            {r["node_id"]: [r["started_at"], r["ended_at"]] for r in rows},
            cache_keys=cache_keys, priority=record.priority)
        self._track_deadline(live, eid, record.created_at)
        engine.graft_slice = self.graft_slice
        self._hold_little(eid, engine)
        self._evict(eid, live)  # every node that succeeded has its row
        untokened = [run for nid, run in engine.nodes.items()
                     if run.state == NodeState.QUEUED and nid not in live.tokens]
        for run in untokened:  # queued by a version of graft that issued no tokens
            live.tokens[run.id] = secrets.token_hex(8)
        tx.update_nodes([self.view.row(eid, run, live.tokens[run.id], live.times.get(run.id))
                         for run in untokened if run.id in live.known])
        # Queued nodes without a row were never sent: held when the execution was dropped
        # from memory, or not yet inserted then (a graft in slices). Ready them again.
        unsent = [run.id for run in untokened if run.id not in live.known]
        if unsent:
            self._changed(tx, eid, live, unsent, batch)
        # Queued nodes with a row were sent (or wait for a retry's turn): look for them in
        # flight again (`queued_attempts`).
        self.outbox.sent.setdefault(eid, {}).update(
            (nid, run.attempt) for nid, run in engine.nodes.items()
            if run.state == NodeState.QUEUED and nid in live.known)
        return live

    def _changed(self, tx: StateTx, eid: str, live: Live, released: list[str],
                 batch: Batch) -> None:
        engine = live.engine
        now = self.clock()
        expanded = [nid for nid in released if engine.nodes[nid].spec.kind in EXPANDED]
        for nid in released:
            if nid in expanded:
                continue
            live.tokens[nid] = secrets.token_hex(8)
            times = live.times.setdefault(nid, [None, None])
            times[0] = times[0] or now
            run = engine.nodes[nid]
            batch.ready.append((self._queue_of(live, nid), live.priority, (eid, nid, run.attempt),
                                run.retry_delay_s))
        for nid in expanded:  # read its inputs here and expand it now
            run = engine.nodes[nid]
            report = expand(run.spec, engine.resolved_inputs(nid), self.store, nid, run.attempt,
                            raise_transient=True)
            self._apply_report(tx, eid, live, report, batch)
        if engine.grafting:
            self.grafting.add(eid)
        changed = engine.drain_changes()
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
                        and (eid, nid, run.attempt) not in self.ready:  # held: never sent
                    batch.superseded.append((eid, nid, run.attempt))
            elif run.state == NodeState.RUNNING and times[0] is None:
                times[0] = now
            if nid in live.known:
                old.append(self.view.row(eid, run, live.tokens.get(nid), times))
            elif run.state not in UNSENT_STATES or done:
                new.append(self.view.row(eid, run, live.tokens.get(nid), times))
        if done:  # rows for every node, those never sent too
            new.extend(self.view.row(eid, run, live.tokens.get(nid), live.times.get(nid))
                       for nid, run in engine.nodes.items()
                       if nid not in live.known and nid not in changed)
        tx.insert_nodes(new)
        live.known.update(r["node_id"] for r in new)
        tx.update_nodes(old)
        batch.touched.setdefault(eid, set()).update(changed)
        if engine.done:
            fields: dict[str, Any] = {"status": engine.state.value}
            if engine.state == ExecutionState.SUCCEEDED:
                fields["outputs"] = engine.outputs
            elif engine.state == ExecutionState.ABORTED:
                fields["error"] = {"aborted": live.cancel_reason or "cancelled"}
            else:
                fields["error"] = {"failures": self.view.failures(engine)}
            tx.update_execution(eid, **fields)
            batch.observed.append(("execution", eid, ExecutionState.RUNNING.value,
                                   engine.state.value))

    # ---- after commit ---------------------------------------------------------------------

    def after_commit(self, batch: Batch) -> None:
        """Act on a committed batch: count it, send what it took, save cache entries, write
        the board; and send what it made ready if `handle` did not (launch plans, lost
        attempts, a restart)."""
        self._acted_on(batch)
        if batch.ready:  # sent from the held ones in a transaction of their own
            self.pump()

    def _acted_on(self, batch: Batch) -> None:
        self.metrics.committed(batch.observed)
        for queue, priority, key, delay_s in batch.ready:  # made ready outside `handle`
            self.ready.push(queue, priority, key, delay_s)
        for eid in batch.touched:
            live = self.live.get(eid)
            if live is not None and live.engine.done:
                self.ready.drop(eid)
        self.outbox.send(batch.outbox)
        self._prune_sent(batch.touched)
        self._save_cached(batch.cached)
        if self.board is not None:
            for eid, fields in batch.board.items():
                self.outbox.write_board(eid, fields, batch.board_nodes.get(eid))
        for eid, changed in batch.touched.items():
            live = self.live.get(eid)
            if live is None:
                continue
            if self.board is not None:
                self._write_board(eid, live, changed)
            if live.engine.done:
                del self.live[eid]
            else:
                self._evict(eid, live)

    def _evict(self, eid: str, live: Live) -> None:
        """Drop from memory the nodes of a running execution that succeeded, are read by no
        node held and have their rows (`Engine.evict`), and what is kept beside them."""
        for nid in live.engine.evict(self._board_later.get(eid, ())):
            live.known.discard(nid)
            live.done.discard(nid)
            live.tokens.pop(nid, None)
            live.times.pop(nid, None)

    def _hold_little(self, eid: str, engine: Engine) -> None:
        """Let `engine` insert a large graph only as its window allows and drop what it no
        longer needs (`GRAFT_WINDOW`), reading dropped outputs back from the node rows."""
        engine.window = self.graft_window
        engine.spill = functools.partial(self._spilled, eid)

    def _spilled(self, eid: str, node_ids: list[str]) -> dict[str, dict[str, Any]]:
        if self._tx is None:
            raise GraftError(f"outputs of nodes of execution {eid} dropped from memory were "
                             "read outside a transaction")
        return self._tx.node_outputs(eid, node_ids)

    def _prune_sent(self, touched: dict[str, set[str]]) -> None:
        """Forget the sent attempts that a batch ended (all of an execution's, once it ended)."""
        for eid, changed in touched.items():
            sent = self.outbox.sent.get(eid)
            if not sent:
                continue
            live = self.live.get(eid)
            if live is None or live.engine.done:
                del self.outbox.sent[eid]
                continue
            nodes = live.engine.nodes
            for node in changed.intersection(sent):
                if _ended(nodes, node, sent[node]):
                    del sent[node]

    def _write_board(self, eid: str, live: Live, changed: set[str] | None = None) -> None:
        """Write an execution's board record with up to `BOARD_NODES` of its changed nodes'
        records (all of them once it ended); the others are written on the next turns, from
        the state the nodes have then."""
        later = self._board_later.pop(eid, set())
        if changed:
            later |= changed
        engine = live.engine
        if len(later) > BOARD_NODES and not engine.done:
            now = set(itertools.islice(later, BOARD_NODES))
            self._board_later[eid] = later - now
            later = now
        fields = self.view.execution(eid, engine, live.finished, live.spec_key)
        self.outbox.write_board(eid, fields, {nid: self.view.node(engine.nodes[nid],
                                                                  live.times.get(nid))
                                              for nid in later})

    def _save_cached(self, entries: list[tuple[str, NodeSpec, dict[str, Any], str, str]]
                     ) -> None:
        """Cache entries of dynamics whose sub-graphs succeeded (best effort: a cache entry
        that could not be written is a later miss, nothing worse)."""
        index = cluster_index(self.store)
        for key, spec, outputs, eid, nid in entries:
            try:
                index.save(key, spec, outputs, execution=eid, node=nid)
            except GraftError as exc:
                log.warning("cache entry of dynamic node %s of %s not saved: %s", nid, eid, exc)


def _ended(nodes: dict[str, NodeRun], node: str, attempt: int) -> bool:
    """Whether a sent attempt is no longer waited for (reported, given up or superseded)."""
    run = nodes.get(node)
    return run is None or run.state != NodeState.QUEUED or run.attempt != attempt
