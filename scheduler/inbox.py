"""The inbox: control messages applied to the state, each checked first; a batch goes without
savepoints, and when one of its messages fails it is applied again with each message in a
savepoint of its own (`Scheduler.handle`), so that the failing one is refused (with its
reason) and the rest of its batch goes on.

- `submit` creates an execution and releases its first nodes; one whose spec is gone,
  invalid or needs a tier that does not exist, or whose launch plan's notifications this
  scheduler cannot send (scheduler/notices.py), is recorded FAILED, saying why.
- `report` hands an attempt's outcome to its engine. A report the engine does not wait for
  (duplicate, late, superseded attempt) changes nothing; one whose token is not the
  attempt's is refused; one that cannot be applied fails its node, so the execution cannot
  hang.
- `cancel` aborts an execution; `refresh` rewrites its board record; `activate` and
  `deactivate` go to the launch plans (scheduler/cron.py).
- `signal` completes the gates waiting for a signal of its name, when its value fits each
  one's type (`sdk.model.gates`); the sender learns either way from the board. A signal no
  gate waits for (yet, or any more) is refused, changing nothing, as Flyte refuses one for a
  gate not reached.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from scheduler.batch import CONTROL, Batch, Live, Refusal
from scheduler.board_view import BoardView
from scheduler.boards import BoardWriter
from scheduler.cron import LaunchPlans
from scheduler.executions import Executions
from scheduler.notices import Notices
from scheduler.recorder import Recorder
from scheduler.snapshots import stored_graph
from scheduler.state import ExecutionRecord, StateTx
from scheduler.subgraphs import Subgraphs
from scheduler.transactions import Transactions
from sdk.model import bindings
from sdk.model.config import Settings
from sdk.model.errors import ConfigError, GraftError
from sdk.model.gates import answers, literal_error, signal_type, signalled
from sdk.model.report import Outcome, Report, data_failure
from sdk.model.states import ExecutionState, NodeState
from sdk.model.store import Store
from sdk.model.typesys import type_name
from sdk.model.validate import validate
from sdk.values.literals import materialize
from sdk.wire import messages, reports
from sdk.wire.tiers import check_tiers

log = logging.getLogger("graft.scheduler")


class Unguarded(Exception):
    """A message applied without a savepoint of its own failed (`Inbox.apply`)."""


class Inbox:
    """Applies control messages in the open transaction."""

    def __init__(self, settings: Settings, store: Store, executions: Executions,
                 recorder: Recorder, boards: BoardWriter, subgraphs: Subgraphs,
                 launch_plans: LaunchPlans, transactions: Transactions, view: BoardView,
                 notices: Notices | None = None,
                 clock: Callable[[], float] = time.time):
        self.clock = clock
        self.settings = settings
        self.store = store
        self.executions = executions
        self.recorder = recorder
        self.boards = boards
        self.subgraphs = subgraphs
        self.launch_plans = launch_plans
        self.transactions = transactions
        self.view = view
        self.notices = notices or Notices()

    def apply(self, tx: StateTx, body: Any, batch: Batch, guarded: bool = True) -> None:
        """Apply one message; with `guarded`, in a savepoint, so that a failure of its own
        refuses it and keeps the rest of the batch; without, such a failure raises
        `Unguarded` (the caller rolls back and applies it again, guarded). A failure of the
        state or the store that another try may not meet raises as it is."""
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
        notices_mark = len(batch.notices)
        try:
            with tx.savepoint() if guarded else contextlib.nullcontext():
                if msg["type"] == "submit":
                    self.submit(tx, msg, batch, True)  # check_notify
                elif msg["type"] == "report":
                    self._report(tx, msg, batch)
                elif msg["type"] == "cancel":
                    self._cancel(tx, msg, batch)
                elif msg["type"] == "signal":
                    self._signal(tx, msg, batch)
                else:
                    self.boards.refresh(tx, eid, batch, self.executions.get(eid), body)
        except Exception as exc:
            if self.transactions.is_transient(exc):
                raise  # the whole batch goes back for another try
            if not guarded:
                raise Unguarded from exc
            del batch.ready[mark:]
            del batch.observed[observed_mark:]
            del batch.notices[notices_mark:]
            self.executions.forget([eid])
            log.exception("control message for execution %s failed", eid)
            batch.refused.append(Refusal(CONTROL, f"{msg['type']} for execution {eid} could "
                                         f"not be applied: {type(exc).__name__}: {exc}", body))
            if msg["type"] == "report":
                self._fail_unapplied(tx, msg, exc, batch)

    def _launch_plan(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        """An `activate` or `deactivate` message, in its own savepoint."""
        try:
            with tx.savepoint():
                self.launch_plans.apply(tx, msg, batch)
        except Exception as exc:
            if self.transactions.is_transient(exc):
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
                live = self.executions.load(tx, eid, batch, quiet=True)
                if live is not None:
                    failure = data_failure("ReportNotApplied", f"the scheduler could not apply "
                                           f"the report of this node: {type(exc).__name__}: "
                                           f"{exc}")
                    self.recorder.apply(tx, eid, live,
                                        Report.failed(msg["node"], msg["attempt"], failure),
                                        batch)
        except Exception:
            self.executions.forget([eid])
            log.exception("could not fail node %s of %s either", msg["node"], eid)

    def submit(self, tx: StateTx, msg: dict[str, Any], batch: Batch,
               check_notify: bool = False) -> None:
        """Create the execution a checked submission message describes, in `tx` (nothing
        when it exists already), and queue its first nodes on `batch`. With `check_notify`
        (a client's submission; not a tick of a plan activated before), one whose
        notifications this scheduler cannot send is recorded FAILED, saying so."""
        eid = msg["execution"]
        if self.executions.get(eid) is not None or tx.get_execution(eid) is not None:
            return  # delivered twice
        record = ExecutionRecord(id=eid, workflow=str(msg.get("workflow") or "?"),
                                 status=ExecutionState.RUNNING.value, spec_key=msg["spec"],
                                 inputs=msg["inputs"], submitted_at=msg.get("submitted_at"),
                                 priority=msg.get("priority", 0), notify=msg.get("notify"))
        notify = msg.get("notify")
        unsendable = None
        try:
            if check_notify and notify:
                unsendable = self.notices.undeliverable(
                    notify["notifications"], f"launch plan {notify['launch_plan']!r}")
                if unsendable:
                    raise ConfigError(unsendable)
            for name, binding in msg["inputs"].items():
                bindings.check_resolved(binding, f"input {name!r}")
            spec = stored_graph(self.store, msg["spec"])
            validate(spec)
            check_tiers(spec, self.settings)
            engine = self.executions.engine(eid, spec, msg["inputs"])
        except GraftError as exc:
            if self.transactions.is_transient(exc):
                raise
            error = {"type": type(exc).__name__, "message": str(exc)}
            tx.add_execution(ExecutionRecord(**{**record.__dict__,
                                                "status": ExecutionState.FAILED.value,
                                                "error": error}))
            batch.board[eid] = self.view.refused(eid, record, str(exc))
            batch.observed.append(("execution", eid, None, ExecutionState.FAILED.value))
            if not unsendable:
                self.notices.ended(tx, eid, notify, ExecutionState.FAILED.value, error, batch)
            log.warning("execution %s refused: %s", eid, exc)
            return
        tx.add_execution(record)
        batch.observed.append(("execution", eid, None, ExecutionState.RUNNING.value))
        live = Live(engine, record.spec_key, priority=record.priority, notify=record.notify)
        self.executions.add(eid, live, record.created_at)
        batch.board[eid] = self.view.submitted(record)
        self.recorder.changed(tx, eid, live, engine.start(), batch)

    def _report(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        eid, node_id, attempt = msg["execution"], msg["node"], msg["attempt"]
        live = self.executions.load(tx, eid, batch, body=msg)
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
        self.recorder.apply(tx, eid, live, self.decode(msg), batch)
        if msg["outcome"] == Outcome.SUBGRAPH.value:
            batch.observed.append(("graft", time.perf_counter() - started))

    def decode(self, msg: dict[str, Any]) -> Report:
        """The report a checked report message carries; a dynamic's sub-graph that is gone,
        altered or invalid fails its node as DATA."""
        node_id, attempt = msg["node"], msg["attempt"]
        try:
            return reports.decode(node_id, attempt, msg["outcome"], msg,
                                  lambda key: self.subgraphs.take(key, node_id))
        except GraftError as exc:
            if self.transactions.is_transient(exc):
                raise
            return Report.failed(node_id, attempt, data_failure(type(exc).__name__, str(exc)),
                                 **reports.attempt_info(msg))

    def _cancel(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        """Abort a running execution: its queued and running attempts are superseded (the
        workers stop those that run), nothing new starts. A cancel of a finished execution
        changes nothing; one of an unknown execution is refused."""
        eid = msg["execution"]
        record = tx.get_execution(eid)
        if record is None:
            batch.refused.append(Refusal(CONTROL, f"cancel for unknown execution {eid}", msg))
            return
        live = self.executions.load(tx, eid, batch, quiet=True)
        if live is None or not live.engine.cancel():
            log.info("cancel of execution %s: it is %s already", eid, record.status)
            self.boards.refresh(tx, eid, batch, self.executions.get(eid))
            return
        why = msg.get("reason") or "cancelled"
        log.info("execution %s aborted: %s", eid, why)
        live.cancel_reason = why
        self.recorder.changed(tx, eid, live, [], batch)

    def _signal(self, tx: StateTx, msg: dict[str, Any], batch: Batch) -> None:
        """Complete the gates of a running execution that wait for a signal of this name (or
        the gate of this node id), if its value fits each one's type; else change nothing.
        Either way the answer goes to the board for the sender (`signal:<request>`)."""
        eid, name = msg["execution"], msg["name"]

        def answer(ok: bool, text: str, nodes: list[str] | None = None) -> None:
            log.info("signal %r for execution %s %s: %s", name, eid,
                     "applied" if ok else "refused", text)
            if msg.get("request"):
                batch.answers.setdefault(eid, {})[msg["request"]] = {
                    "ok": ok, "message": text, "nodes": nodes or []}

        record = tx.get_execution(eid)
        if record is None:
            batch.refused.append(Refusal(CONTROL, f"signal for unknown execution {eid}", msg))
            return
        live = self.executions.load(tx, eid, batch, quiet=True)
        if live is None:
            answer(False, f"execution {eid} has ended ({record.status}): no gate of it waits "
                          f"for a signal any more")
            return
        engine = live.engine
        gates = [run for run in engine.nodes.values() if answers(run, name)]
        waiting = [run for run in gates if run.state == NodeState.WAITING]
        if not waiting:
            shown = ", ".join(f"{run.id} ({run.state.value})" for run in gates[:10])
            answer(False, f"no gate named {name!r} waits for a signal in execution {eid}" + (
                f": {shown} (a gate takes its signal only while it is WAITING)" if gates
                else ""))
            return
        try:
            literal = materialize(msg["value"], self.store)
        except GraftError as exc:
            if self.transactions.is_transient(exc):
                raise
            answer(False, f"the value of signal {name!r} cannot be read: {exc}")
            return
        for run in waiting:
            gate = run.spec.gate
            assert gate is not None
            reason = literal_error(literal, signal_type(gate))
            if reason:
                what = "is an approval, which takes true or false" if gate.kind == "approve" \
                    else f"takes a value of type {type_name(gate.type or {'t': 'any'})}"
                answer(False, f"gate {gate.name!r} (node {run.id!r}) of execution {eid} {what}: "
                              f"{reason}")
                return
        now = self.clock()
        for run in waiting:
            started = live.times.get(run.id, [None])[0]
            report = signalled(run, msg["value"], literal, engine.resolved_inputs(run.id),
                               None if started is None else max(0.0, now - started))
            self.recorder.apply(tx, eid, live, report, batch)
        answer(True, f"signal {name!r} given to {', '.join(run.id for run in waiting)}",
               [run.id for run in waiting])
