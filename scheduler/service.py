"""The scheduler: apply control messages to executions, one transaction a batch, and send
what they made ready.

`Scheduler` is what the loop (scheduler/loop.py) drives, and is made of units with one
concept each, built here from its arguments and wired by their constructors:

- `Transactions`, `UnitOfWork` (scheduler/transactions.py, work.py): one fenced transaction a
  batch, and each unit's part once it committed;
- `Inbox` (inbox.py): a control message checked and applied (in a savepoint of its own
  when its batch goes again after a failure);
- `Executions` (executions.py): the engines in memory, rebuilt from the state when needed,
  holding a large graph a window at a time, with their workflow timeouts;
- `Gates` (gates.py): the deadlines of the gate nodes it holds itself (sleeps, timeouts);
- `Recorder` (recorder.py): events, node rows and execution ends, as the engines decide;
- `Gatherer` (gathering.py): large output lists written to the store a slice a turn;
- `BoardWriter` (boards.py): the status board, after each commit;
- `Sender` (sending.py): ready attempts held and sent in turn, in chunks, through the outbox;
- `LaunchPlans` (cron.py): activated launch plans; the loop's `Ticker` fires them through the
  narrow `Launcher` interface this class offers;
- `Notices` (notices.py): the notifications executions' ends fire, handed to the notifier
  (`Deliveries`: the loop's is `scheduler.notify.Notifier`) and marked once sent.

The state is behind `StateStore` and dispatching behind `Dispatcher`, so none of this needs a
database or a broker.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from scheduler.batch import Batch
from scheduler.board_view import BoardView
from scheduler.boards import BoardWriter
from scheduler.cron import LaunchPlans
from scheduler.dispatch import Dispatcher
from scheduler.executions import GRAFT_SLICE, GRAFT_WINDOW, Executions
from scheduler.fair import ReadyQueue
from scheduler.gates import Gates
from scheduler.gathering import TURN_S, Gatherer
from scheduler.inbox import Inbox, Unguarded
from scheduler.notices import Deliveries, Notices
from scheduler.observer import Observer
from scheduler.outbox import Outbox, StatusBoard
from scheduler.recorder import Recorder
from scheduler.sending import QueueDepths, Sender
from scheduler.state import Fenced, StateStore, StateTx
from scheduler.subgraphs import Subgraphs, load_subgraph
from scheduler.transactions import Sole, Tenure, Transactions
from scheduler.work import UnitOfWork
from sdk.model.config import Settings
from sdk.model.gates import due as gate_due
from sdk.model.report import Report, system_failure
from sdk.model.retry import RetryPolicy
from sdk.model.states import ExecutionState, NodeState
from sdk.model.store import Store
from sdk.runtime.cache import entry_key
from sdk.wire.chunks import split_reports
from sdk.wire.keys import AttemptKey
from sdk.wire.tiers import TierQueues

log = logging.getLogger("graft.scheduler")

# The events whose nodes a takeover rewrites on the board, beside those it holds: what the
# last batch of a scheduler that died (before writing the board) can have changed. A batch
# takes at most 500 control messages: many more than one batch's.
RECENT_EVENTS = 10_000
PUMP_S = 0.1  # how often tier queues are topped up while ready attempts wait for room


class Scheduler:
    """The scheduler of the executions `tenure` gives it (all, by default), on `state`,
    sending through `dispatcher`, with values in `store` and the status board on `board`.
    `depths` paces what is sent by the tier queues' depths (None: all at once);
    `graft_slice` and `window` hold large graphs a part at a time (None: whole)."""

    def __init__(self, settings: Settings, state: StateStore, dispatcher: Dispatcher,
                 store: Store, board: StatusBoard | None = None, *,
                 clock: Callable[[], float] = time.time, metrics: Observer | None = None,
                 tenure: Tenure | None = None, depths: QueueDepths | None = None,
                 graft_slice: int | None = GRAFT_SLICE, window: int | None = GRAFT_WINDOW,
                 notifier: Deliveries | None = None):
        self.settings = settings
        self.store = store
        self.clock = clock
        self.tenure = tenure or Sole()
        metrics = metrics or Observer()
        queues, view = TierQueues(settings), BoardView(settings)
        ready = ReadyQueue(settings.queue_ahead_s)
        self.notices = Notices(notifier)
        outbox = Outbox(dispatcher, board, metrics)
        self.transactions = Transactions(state, self.tenure)
        self.boards = BoardWriter(view, outbox)
        self.gates = Gates(clock)
        self.recorder = Recorder(store, view, queues, ready, clock, self.gates,
                                 entry_key(settings.secret), self.notices)
        self.executions = Executions(store, RetryPolicy(system_retries=settings.system_retries),
                                     view, self.recorder, self.boards, self.transactions,
                                     self.gates, graft_slice=graft_slice, window=window,
                                     gather_above=settings.gather_above,
                                     snapshot_events=settings.snapshot_events)
        self.gatherer = Gatherer(store, self.recorder)
        self.sender = Sender(settings, store, self.executions, view, queues, ready, outbox,
                             depths)
        self.work = UnitOfWork(self.transactions, self.executions, self.sender,
                               self.recorder, self.boards, metrics, self.notices)
        # Sub-graph specs read and parsed off the loop (scheduler/subgraphs.py).
        self.subgraphs = Subgraphs(functools.partial(load_subgraph, store, settings))
        self.launch_plans = LaunchPlans(clock, self.notices)
        self.inbox = Inbox(settings, store, self.executions, self.recorder, self.boards,
                           self.subgraphs, self.launch_plans, self.transactions, view,
                           self.notices, clock)

    # ---- messages -----------------------------------------------------------------------

    def handle(self, bodies: list[Any]) -> Batch:
        """Apply a batch of decoded control messages in one transaction, then send what it
        made ready. Raises (rolling the whole batch back) only for failures of the state or
        the store that another try may not meet."""
        split = list(split_reports(bodies))  # a chunk's `reports`: one `report` per item
        self.sender.observe(split)
        # A batch goes first without a savepoint per message (each costs a round trip on
        # PostgreSQL): when a message fails, or a write of one is refused at commit (node
        # rows and events are buffered to then on PostgreSQL, scheduler/state_pg.py), the
        # whole transaction is rolled back and the batch applied again, each message in a
        # savepoint, so that the failing one is refused alone.
        guarded = False
        while True:
            batch = Batch()

            def work(tx: StateTx, batch: Batch = batch, guarded: bool = guarded) -> None:
                for body in split:
                    self.inbox.apply(tx, body, batch, guarded)
                self.sender.select(tx, batch)

            try:
                self.work.run(batch, work)
            except Unguarded:
                guarded = True
                continue
            except Fenced:
                raise
            except Exception as exc:
                if guarded or self.transactions.is_transient(exc):
                    raise
                log.warning("a batch of %d messages failed as a whole (%s: %s); applying it "
                            "again, each message in a savepoint", len(split),
                            type(exc).__name__, exc)
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
                live = self.executions.load(tx, eid, batch, quiet=True)
                if live is None or not live.engine.is_waiting(node, attempt):
                    continue
                log.warning("attempt %d of node %s of %s is lost: %s", attempt, node, eid, why)
                failure = system_failure("WorkerLost", f"the worker holding attempt {attempt} "
                                         f"of node {node!r} {why}")
                self.recorder.apply(tx, eid, live, Report.failed(node, attempt, failure), batch)

        self.work.run(batch, apply)
        return batch

    def recover(self) -> list[AttemptKey]:
        """Rebuild every running execution this scheduler serves; return the attempts it
        calls queued (which the caller sends again unless it can prove them in flight) and
        rewrite their board."""
        batch = Batch()
        queued: list[AttemptKey] = []

        def apply(tx: StateTx) -> None:
            for record in tx.executions(status=ExecutionState.RUNNING.value):
                if not self.tenure.owns(record.id):
                    continue
                live = self.executions.load(tx, record.id, batch)
                if live is None:
                    continue
                for run in live.engine.nodes.values():
                    if run.state == NodeState.QUEUED:
                        queued.append((record.id, run.id, run.attempt))
                self.boards.refresh(tx, record.id, batch, live, recent=RECENT_EVENTS)
            self.notices.recover(tx, self.tenure.owns, batch)

        self.work.run(batch, apply)
        return queued

    def graft_more(self) -> Batch:
        """Insert the next slice of each graph being grafted, in one transaction, and send
        what that made ready (the loop calls this each turn while `grafting`)."""
        batch = Batch()
        eids = self.executions.graftable()
        if not eids:
            return batch

        def work(tx: StateTx) -> None:
            for eid in eids:
                live = self.executions.live[eid]
                batch.seen.add(eid)
                self.recorder.changed(tx, eid, live, live.engine.graft_more(), batch)
            self.sender.select(tx, batch)

        self.work.run(batch, work)
        return batch

    def gather_more(self) -> Batch:
        """Go on gathering the large outputs of executions for about `TURN_S`, in one
        transaction, completing those whose last slice it gathers (the loop calls this each
        turn while `gathering`)."""
        batch = Batch()
        eids = self.executions.gatherable()
        if not eids:
            self.gatherer.prune(self.executions.live)
            return batch
        clock = self.gatherer.clock
        until = clock() + TURN_S

        visited: list[str] = []

        def work(tx: StateTx) -> None:
            for eid in eids:
                visited.append(eid)
                live = self.executions.load(tx, eid, batch, quiet=True)
                if live is not None:
                    self.gatherer.step(tx, eid, live, batch, until)
                if clock() >= until:
                    break
            self.sender.select(tx, batch)

        self.work.run(batch, work)
        for eid in visited:  # ended, or nothing left to gather (once that is committed)
            live = self.executions.get(eid)
            if live is None or not live.engine.gathers:
                self.executions.gathering.discard(eid)
        self.gatherer.prune(self.executions.live)
        return batch

    def expire(self) -> Batch:
        """End executions past their workflow timeout: FAILED with a WorkflowTimeout, their
        queued and running attempts superseded (the workers stop those that run). End the
        gates whose time came: a sleep is over, a signal gate timed out (`Gates`)."""
        batch = Batch()
        now = self.clock()
        due = self.executions.due(now)
        gates = self.gates.due(now)
        if not due and not gates:
            return batch

        def apply(tx: StateTx) -> None:
            for eid in due:
                live = self.executions.load(tx, eid, batch, quiet=True)
                if live is None or live.ends_at is None or live.ends_at > now:
                    continue
                if live.engine.time_out():
                    log.info("execution %s failed: ran past its workflow timeout of %g s",
                             eid, live.engine.spec.timeout_s)
                    self.recorder.changed(tx, eid, live, [], batch)
            for eid, node, attempt in gates:
                self._gate_due(tx, eid, node, attempt, now, batch)

        try:
            self.work.run(batch, apply)
        except Exception:
            self.executions.due_again(due, now)  # rolled back: judge them again next turn
            self.gates.due_again(gates, now)
            raise
        return batch

    def _gate_due(self, tx: StateTx, eid: str, node: str, attempt: int, now: float,
                  batch: Batch) -> None:
        """The deadline of a gate came: if it still waits for that attempt, a sleep ends, a
        signal gate fails with a GateTimeout."""
        live = self.executions.load(tx, eid, batch, quiet=True)
        run = live.engine.nodes.get(node) if live is not None else None
        if live is None or run is None or run.state != NodeState.WAITING \
                or run.attempt != attempt:
            return
        started = live.times.get(node, [None])[0]
        waited = max(0.0, now - started) if started is not None else 0.0
        report = gate_due(run, waited)
        log.info("gate %s of execution %s: %s", node, eid,
                 "timed out" if report.error is not None else "slept its time")
        self.recorder.apply(tx, eid, live, report, batch)

    # ---- the status board -----------------------------------------------------------------

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
                if self.tenure.owns(eid):
                    self.boards.refresh(tx, eid, batch, self.executions.get(eid))

        self.work.run(batch, apply)
        return len(batch.board)

    def settle_boards(self, limit: int = 1000) -> int:
        """Rewrite the board records of the newest `limit` executions that show one queued or
        running when the state says it ended (a scheduler killed between a commit and its
        board write leaves such records). Returns how many were rewritten."""
        board = self.boards.board
        if board is None:
            return 0
        showing = [eid for eid, record in board.executions(limit)
                   if self.tenure.owns(eid) and record.get("status") in (
                       ExecutionState.QUEUED.value, ExecutionState.RUNNING.value)]
        batch = Batch()

        def apply(tx: StateTx) -> None:
            for eid in showing:
                record = tx.get_execution(eid)
                if record is not None and record.status != ExecutionState.RUNNING.value:
                    self.boards.refresh(tx, eid, batch, self.executions.get(eid))

        self.work.run(batch, apply)
        return len(batch.board)

    # ---- each turn ------------------------------------------------------------------------

    def flush(self) -> None:
        """Send what could not be sent and what is due, write what could not be written to
        the board (the broker or Redis was away), and top the tier queues up. Called by the
        loop each turn."""
        self.sender.flush()
        self.boards.flush(self.executions.get)
        self.mark_notified()
        if self.sender.revive:
            self._rebuild_held()
        self.work.send_ready()

    def mark_notified(self) -> int:
        """Mark in the state the notifications sent or given up since the last call; how
        many. (A failed transaction keeps them for the next call.)"""
        marks = self.notices.take_marks()
        if not marks:
            return 0
        try:
            self.work.run(Batch(), lambda tx: tx.mark_notifications(marks))
        except Exception:
            self.notices.keep(marks)
            raise
        return len(marks)

    def _rebuild_held(self) -> None:
        """Rebuild the executions whose held attempts were taken while they were not in
        memory, and hold again those attempts they still wait for."""
        revive = self.sender.take_revive()
        batch = Batch()
        try:
            self.work.run(batch, lambda tx: [self.executions.load(tx, eid, batch, quiet=True)
                                             for eid in revive])
        except Exception:
            self.sender.revive_later(revive)  # the state is away: try again next turn
            raise
        for eid, keys in revive.items():
            live = self.executions.get(eid)
            if live is not None:
                self.sender.hold_again(live, keys)

    def next_due_s(self) -> float | None:
        """Seconds until the next delayed dispatch, workflow timeout or gate is due, if any;
        soon when ready attempts wait for room in their queue (the workers drain it
        meanwhile)."""
        waits = []
        due = self.sender.next_due_s()
        if due is not None:
            waits.append(due)
        if self.sender.holding and self.sender.paced:
            waits.append(PUMP_S)
        if self.boards.later or self.executions.can_graft() or self.executions.gathering:
            waits.append(0.0)
        for deadline in (self.executions.next_deadline(), self.gates.next_deadline()):
            if deadline is not None:
                waits.append(deadline - self.clock())
        return max(0.0, min(waits)) if waits else None

    @property
    def grafting(self) -> bool:
        """Whether a large graph is being inserted a slice a turn (`graft_more`)."""
        return bool(self.executions.grafting)

    @property
    def gathering(self) -> bool:
        """Whether a large output is being gathered a slice a turn (`gather_more`)."""
        return bool(self.executions.gathering)

    def resend(self, attempts: list[AttemptKey]) -> int:
        """Send again, in their turn, attempts whose message may be gone (same attempt, same
        token: a worker that already started it drops the copy). Returns how many were
        taken."""
        count = self.sender.resend(attempts)
        self.work.send_ready()
        return count

    def queued_attempts(self) -> list[AttemptKey]:
        """The sent attempts live executions still wait for (`Sender.queued_attempts`)."""
        return self.sender.queued_attempts()

    def nodes_held(self) -> int:
        """How many nodes the executions held in memory have (see `Engine.size`)."""
        return self.executions.nodes_held()

    @property
    def backlog(self) -> int:
        """How many dispatches and board writes wait (for the broker, their time or their
        turn)."""
        return self.sender.backlog

    def forget(self) -> None:
        """Drop everything held in memory (this scheduler stops serving; whoever serves next
        rebuilds from the state)."""
        self.executions.clear()
        self.gatherer.clear()
        self.gates.clear()
        self.boards.clear()
        self.sender.clear()
        self.subgraphs.clear()
        self.launch_plans.forget()
        self.notices.forget()

    # ---- what the launch plan ticker uses (scheduler.cron.Launcher) -----------------------

    def commit(self, batch: Batch, work: Callable[[StateTx], Any]) -> None:
        """Run `work` in one unit of work; act on `batch` once it committed."""
        self.work.run(batch, work)

    def submit(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        """Create the execution a checked submit message describes, in `tx`."""
        self.inbox.submit(tx, msg, batch)

    def discard(self, execution_id: str) -> None:
        """Forget an execution created in a savepoint that rolled back."""
        self.executions.forget([execution_id])

    def new_execution_id(self) -> str:
        """A fresh execution id of a shard this scheduler serves (for what it starts itself,
        such as launch plan ticks)."""
        while True:
            eid = uuid.uuid4().hex[:20]
            if self.tenure.owns(eid):
                return eid

    def is_transient(self, exc: BaseException) -> bool:
        """Errors of the infrastructure, not of the message, that another try may not meet
        (`Transactions.is_transient`)."""
        return self.transactions.is_transient(exc)
