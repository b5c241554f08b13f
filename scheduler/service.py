"""The scheduler's logic: apply control messages to executions, one transaction a batch.

For each batch of messages it records outcomes, asks the engine which nodes are newly
ready, writes nodes, events and executions, and commits; only then does it send the ready
nodes to their queues and update the status board. A report the engine does not expect
(duplicate, late, wrong attempt) changes nothing. A bad message is refused with a reason and
the rest of the batch goes on. After a restart, executions are rebuilt by replaying their
recorded events through the engine, and nodes left QUEUED are sent again.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from scheduler.db import EventRow, ExecutionRow, NodeRow, utcnow
from scheduler.dispatch import Dispatch, Dispatcher
from sdk.model.config import Settings
from sdk.model.engine import TERMINAL_NODE_STATES, Engine, ExecutionState, NodeRun, NodeState
from sdk.model.errors import GraftError, StoreError, StoreObjectMissing
from sdk.model.spec import GraphSpec, node_to_json, validate
from sdk.remote import messages
from sdk.remote.board import Board
from sdk.values.literals import dumps
from sdk.values.store import Store, put_blob

log = logging.getLogger("graft.scheduler")

INLINE_INPUTS_BYTES = 64 * 1024


@dataclass
class Live:
    """An execution the scheduler holds in memory."""

    engine: Engine
    seq: int = 0
    known: set[str] = field(default_factory=set)  # node ids that have a row
    done: set[str] = field(default_factory=set)  # node ids in a terminal state


@dataclass
class _Batch:
    outbox: list[Dispatch] = field(default_factory=list)
    touched: dict[str, set[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    board: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # executions the batch's messages name


class Scheduler:
    def __init__(self, settings: Settings, db: SqlEngine, dispatcher: Dispatcher,
                 store: Store, board: Board | None = None):
        self.settings = settings
        self.db = db
        self.dispatcher = dispatcher
        self.store = store
        self.board = board
        self.live: dict[str, Live] = {}
        self._queues: dict[int | None, str | None] = {}  # memory bytes -> tier queue
        self._unsent: list[Dispatch] = []  # committed, not yet sent (broker away)
        self._stale: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # board backlog

    # ---- entry points ---------------------------------------------------------------------

    def handle(self, bodies: list[Any]) -> list[str]:
        """Apply a batch of control messages; return the problems found (already logged)."""
        batch = _Batch()
        try:
            with Session(self.db) as session, session.begin():
                for body in bodies:
                    self._apply_one(session, body, batch)
        except Exception:
            # The engines may hold changes that were not committed: rebuild them from the
            # database when their next message comes.
            for eid in batch.seen:
                self.live.pop(eid, None)
            raise
        self._after_commit(batch)
        return batch.problems

    def recover(self) -> int:
        """Rebuild running executions and resend their queued nodes; return how many.

        An execution that cannot be rebuilt (its spec gone from the store) is marked FAILED
        with the reason; the others go on."""
        batch = _Batch()
        with Session(self.db) as session, session.begin():
            ids = session.scalars(select(ExecutionRow.id).where(
                ExecutionRow.status == ExecutionState.RUNNING.value)).all()
            for eid in ids:
                live = self._live(session, eid, batch)
                if live is None:
                    continue
                for run in live.engine.nodes.values():
                    if run.state == NodeState.QUEUED:
                        batch.outbox.append(self._dispatch(eid, run))
                batch.touched.setdefault(eid, set())
        self._after_commit(batch)
        return len(ids)

    def flush(self) -> None:
        """Send what could not be sent, and write what could not be written to the board,
        after earlier commits (the broker or Redis was away). Called by the loop each turn."""
        if self._unsent:
            unsent, self._unsent = self._unsent, []
            self._send(unsent)
        if self._stale and self.board is not None:
            stale, self._stale = self._stale, {}
            for eid, (fields, nodes) in stale.items():
                self._board_write(eid, fields, nodes)

    @property
    def backlog(self) -> int:
        """How many dispatches and board writes wait for the broker."""
        return len(self._unsent) + len(self._stale)

    # ---- messages -------------------------------------------------------------------------

    def _apply_one(self, session: Session, body: Any, batch: _Batch) -> None:
        try:
            msg = messages.check(body)
        except messages.MessageError as exc:
            self._problem(batch, f"refused control message: {exc}")
            return
        eid = msg["execution"]
        batch.seen.add(eid)
        mark = len(batch.outbox)
        savepoint = session.begin_nested()
        try:
            if msg["type"] == "submit":
                self._submit(session, msg, batch)
            else:
                self._report(session, msg, batch)
            savepoint.commit()
        except Exception as exc:
            if is_transient(exc):
                raise  # the whole batch goes back on the queue for another try
            savepoint.rollback()
            del batch.outbox[mark:]
            self.live.pop(eid, None)
            log.exception("control message for execution %s failed", eid)
            self._problem(batch, f"{msg['type']} for execution {eid} failed: "
                                 f"{type(exc).__name__}: {exc}")
            if msg["type"] == "report":
                self._fail_unapplied(session, msg, exc, batch)

    def _fail_unapplied(self, session: Session, msg: dict[str, Any], exc: Exception,
                        batch: _Batch) -> None:
        """A report that could not be applied fails its node, so the execution cannot hang."""
        error = {"type": "ReportNotApplied", "message": f"the scheduler could not apply the "
                 f"report of this node: {type(exc).__name__}: {exc}"}
        body = {"type": "report", "execution": msg["execution"], "node": msg["node"],
                "attempt": msg["attempt"], "outcome": "error", "error": error,
                "retriable": False}
        savepoint = session.begin_nested()
        try:
            self._report(session, body, batch)
            savepoint.commit()
        except Exception:
            savepoint.rollback()
            self.live.pop(msg["execution"], None)
            log.exception("could not fail node %s of %s either", msg["node"], msg["execution"])

    def _submit(self, session: Session, msg: dict[str, Any], batch: _Batch) -> None:
        eid = msg["execution"]
        if eid in self.live or session.get(ExecutionRow, eid) is not None:
            return  # delivered twice
        row = ExecutionRow(id=eid, workflow=str(msg.get("workflow") or "?"),
                           status=ExecutionState.RUNNING.value, spec_key=msg["spec"],
                           inputs=msg["inputs"], submitted_at=msg.get("submitted_at"))
        try:
            spec = GraphSpec.loads(self.store.get(msg["spec"]))
            validate(spec)
            for node_id, node in spec.walk():
                if node.kind != "workflow":
                    self.settings.queue_for(node.memory_bytes,
                                            f"node {node_id!r} (task {node.task.name})")
            for name, binding in msg["inputs"].items():
                _check_resolved(binding, f"input {name!r}")
            engine = Engine(spec, msg["inputs"])
        except GraftError as exc:
            if is_transient(exc):
                raise
            row.status = ExecutionState.FAILED.value
            row.error = {"type": type(exc).__name__, "message": str(exc)}
            session.add(row)
            batch.board[eid] = {"status": row.status, "error": f"execution {eid} was refused: "
                                f"{exc}", "failures": [], "workflow": row.workflow}
            self._problem(batch, f"execution {eid} refused: {exc}")
            return
        session.add(row)
        session.flush()
        live = self.live[eid] = Live(engine)
        self._changed(session, eid, live, engine.start(), batch)

    def _report(self, session: Session, msg: dict[str, Any], batch: _Batch) -> None:
        eid, node_id, attempt = msg["execution"], msg["node"], msg["attempt"]
        live = self._live(session, eid, batch)
        if live is None:
            return
        engine = live.engine
        if node_id not in engine.nodes:
            self._problem(batch, f"report for unknown node {node_id!r} of execution {eid}")
            return
        outcome, body = msg["outcome"], {}
        if outcome == "values":
            for name, binding in msg["outputs"].items():
                _check_resolved(binding, f"output {name!r} of node {node_id!r}")
            body = {"outputs": msg["outputs"]}
            released = engine.complete(node_id, attempt, msg["outputs"])
        elif outcome == "subgraph":
            body = {"subgraph": msg["subgraph"]}
            released, error = self._graft(engine, node_id, attempt, msg["subgraph"])
            if error is not None:
                outcome, body = "error", {"error": error, "retriable": False}
        else:
            body = {"error": msg["error"], "retriable": bool(msg.get("retriable", True))}
            released = engine.fail(node_id, attempt, msg["error"], body["retriable"])
        if released is None:
            log.debug("ignored report for %s/%s attempt %s", eid, node_id, attempt)
            return
        live.seq += 1
        session.add(EventRow(execution_id=eid, seq=live.seq, node_id=node_id, attempt=attempt,
                             outcome=outcome, body=body))
        self._changed(session, eid, live, released, batch)

    def _graft(self, engine: Engine, node_id: str, attempt: int, key: str
               ) -> tuple[list[str] | None, dict[str, Any] | None]:
        if not engine.is_waiting(node_id, attempt):
            return None, None  # a duplicate: do not even load its sub-graph
        try:
            sub = GraphSpec.loads(self.store.get(key))
            for child_id, node in sub.walk(f"{node_id}/"):
                if node.kind != "workflow":
                    self.settings.queue_for(node.memory_bytes,
                                            f"node {child_id!r} (task {node.task.name})")
            return engine.graft(node_id, attempt, sub), None
        except GraftError as exc:
            if is_transient(exc):
                raise
            error = {"type": type(exc).__name__, "message": str(exc)}
            return engine.fail(node_id, attempt, error, retriable=False), error

    # ---- state ----------------------------------------------------------------------------

    def _live(self, session: Session, eid: str, batch: _Batch) -> Live | None:
        live = self.live.get(eid)
        if live is not None:
            return live
        row = session.get(ExecutionRow, eid)
        if row is None:
            self._problem(batch, f"report for unknown execution {eid}")
            return None
        if row.status != ExecutionState.RUNNING.value:
            return None  # finished: late reports change nothing
        try:
            engine = Engine(GraphSpec.loads(self.store.get(row.spec_key)), row.inputs)
        except GraftError as exc:
            if is_transient(exc):
                raise
            self._problem(batch, f"execution {eid} cannot be rebuilt and is failed: {exc}")
            row.status = ExecutionState.FAILED.value
            row.error = {"type": type(exc).__name__, "message": str(exc)}
            batch.board[eid] = {"status": row.status, "failures": [],
                                "error": f"execution {eid} cannot be rebuilt: {exc}"}
            return None
        engine.start()
        events = session.scalars(select(EventRow).where(EventRow.execution_id == eid)
                                 .order_by(EventRow.seq))
        seq = 0
        for ev in events:
            seq = ev.seq
            if ev.outcome == "values":
                engine.complete(ev.node_id, ev.attempt, ev.body["outputs"])
            elif ev.outcome == "subgraph":
                self._graft(engine, ev.node_id, ev.attempt, ev.body["subgraph"])
            else:
                engine.fail(ev.node_id, ev.attempt, ev.body["error"], ev.body["retriable"])
        engine.drain_changes()
        known = set(session.scalars(select(NodeRow.node_id).where(NodeRow.execution_id == eid)))
        done = {nid for nid, r in engine.nodes.items() if r.state in TERMINAL_NODE_STATES}
        live = self.live[eid] = Live(engine, seq, known, done)
        return live

    def _changed(self, session: Session, eid: str, live: Live, released: list[str],
                 batch: _Batch) -> None:
        engine = live.engine
        changed = engine.drain_changes()
        batch.outbox.extend(self._dispatch(eid, engine.nodes[nid]) for nid in released)
        new, old = [], []
        for nid in changed:
            run = engine.nodes[nid]
            row = self._row(eid, run)
            (old if nid in live.known else new).append(row)
            if run.state in TERMINAL_NODE_STATES:
                live.done.add(nid)
        if new:
            session.execute(insert(NodeRow), new)
            live.known.update(r["node_id"] for r in new)
        if old:
            session.execute(update(NodeRow), old)
        batch.touched.setdefault(eid, set()).update(changed)
        if engine.done:
            self._finish(session, eid, engine)

    def _finish(self, session: Session, eid: str, engine: Engine) -> None:
        values: dict[str, Any] = {"status": engine.state.value, "updated_at": utcnow()}
        if engine.state == ExecutionState.SUCCEEDED:
            values["outputs"] = engine.outputs
        else:
            values["error"] = {"failures": self._failures(engine)}
        session.execute(update(ExecutionRow).where(ExecutionRow.id == eid).values(**values))

    def _queue(self, run: NodeRun) -> str | None:
        if run.spec.kind == "workflow":
            return None
        memory = run.spec.memory_bytes
        if memory not in self._queues:
            try:
                self._queues[memory] = self.settings.queue_for(memory, f"node {run.id!r}")
            except GraftError:
                self._queues[memory] = None
        return self._queues[memory]

    def _row(self, eid: str, run: NodeRun) -> dict[str, Any]:
        return {"execution_id": eid, "node_id": run.id, "parent": run.parent,
                "task": run.spec.task.name, "kind": run.spec.kind, "state": run.state.value,
                "attempt": run.attempt, "queue": self._queue(run), "error": run.error,
                "updated_at": utcnow()}

    def _dispatch(self, eid: str, run: NodeRun) -> Dispatch:
        inputs = self.live[eid].engine.resolved_inputs(run.id)
        node = node_to_json(dataclasses.replace(run.spec, inputs={}, subgraph=None))
        payload: dict[str, Any] = {"node": node, "inputs": inputs}
        data = dumps(inputs)
        if len(data) > INLINE_INPUTS_BYTES:
            payload = {"node": node, "inputs_key": put_blob(self.store, data, prefix="inputs")}
        queue = self._queue(run)
        assert queue is not None
        task = run.spec.task
        return Dispatch(queue, f"{task.module}.{task.qualname}", eid, run.id, run.attempt,
                        payload)

    @staticmethod
    def _failures(engine: Engine) -> list[dict[str, Any]]:
        out = []
        for nid in engine.failed:
            run = engine.nodes[nid]
            err = run.error or {}
            out.append({"node_id": nid, "task": run.spec.task.name,
                        "error_type": err.get("type", "Error"),
                        "message": err.get("message", ""), "traceback": err.get("traceback", "")})
        return out

    # ---- after commit ---------------------------------------------------------------------

    def _send(self, outbox: list[Dispatch]) -> None:
        try:
            self.dispatcher.send(outbox)
        except Exception as exc:  # committed already: keep them and try again next turn
            log.error("could not send %d ready nodes (%s); will retry", len(outbox), exc)
            self._unsent.extend(outbox)

    def _after_commit(self, batch: _Batch) -> None:
        self._send(batch.outbox)
        if self.board is None:
            return
        for eid, fields in batch.board.items():
            self._board_write(eid, fields, None)
        for eid, changed in batch.touched.items():
            live = self.live.get(eid)
            if live is None:
                continue
            engine = live.engine
            fields: dict[str, Any] = {"status": engine.state.value, "done": len(live.done),
                                      "total": len(engine.nodes)}
            if engine.state == ExecutionState.SUCCEEDED:
                fields["outputs"] = engine.outputs
            elif engine.state == ExecutionState.FAILED:
                fields["failures"] = self._failures(engine)
                fields["error"] = f"execution {eid} failed"
            nodes = {nid: self._record(engine.nodes[nid]) for nid in changed}
            self._board_write(eid, fields, nodes)
            if engine.done:
                del self.live[eid]

    def _board_write(self, eid: str, fields: dict[str, Any],
                     nodes: dict[str, dict[str, Any]] | None) -> None:
        assert self.board is not None
        try:
            self.board.write(eid, fields, nodes)
        except GraftError as exc:
            log.error("status board not updated for %s (%s); will retry", eid, exc)
            old_fields, old_nodes = self._stale.get(eid, ({}, {}))
            self._stale[eid] = ({**old_fields, **fields}, {**old_nodes, **(nodes or {})})

    def _record(self, run: NodeRun) -> dict[str, Any]:
        return {"task": run.spec.task.name, "kind": run.spec.kind, "state": run.state.value,
                "queue": self._queue(run), "attempts": run.attempt, "parent": run.parent,
                "error": run.error}

    @staticmethod
    def _problem(batch: _Batch, text: str) -> None:
        log.warning("%s", text)
        batch.problems.append(text)


def is_transient(exc: BaseException) -> bool:
    """Errors of the infrastructure, not of the message, that another try may not meet: the
    database unreachable or locked, the store failing. Data the database refuses, a store
    object that is gone and malformed messages are final."""
    if isinstance(exc, StoreError):
        return not isinstance(exc, StoreObjectMissing)
    return isinstance(exc, (OperationalError, InterfaceError, DisconnectionError,
                            PoolTimeout, OSError))


def _check_resolved(binding: Any, what: str) -> None:
    """A binding in a message must be fully resolved: val, list or dict of those."""
    if isinstance(binding, dict) and len(binding) == 1:
        kind, body = next(iter(binding.items()))
        if kind == "val" and isinstance(body, dict) and ("v" in body or "u" in body):
            return
        if kind == "list" and isinstance(body, list):
            for i, b in enumerate(body):
                _check_resolved(b, f"{what}[{i}]")
            return
        if kind == "dict" and isinstance(body, dict):
            for k, b in body.items():
                _check_resolved(b, f"{what}[{k!r}]")
            return
    raise messages.MessageError(f"{what}: malformed value binding {str(binding)[:200]}")
