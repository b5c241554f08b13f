"""How the scheduler presents executions and nodes: state rows and status board records.

The board must be rebuildable from the state alone (Redis may be emptied), so every field a
client reads is also in the execution record or a node row, and both come from here.
"""

from __future__ import annotations

from typing import Any

from scheduler.state import ExecutionRecord, NodeRow
from sdk.model.engine import Engine
from sdk.model.errors import GraftError
from sdk.model.gates import describe as describe_gate
from sdk.model.runs import NodeRun
from sdk.model.states import ExecutionState
from sdk.wire.tiers import queue_for


class BoardView:
    def __init__(self, settings: Any):
        self.settings = settings
        self._queues: dict[int | None, str | None] = {}  # memory bytes -> tier queue

    def queue(self, run: NodeRun) -> str | None:
        if run.spec.kind in ("workflow", "gate"):  # run on no worker
            return None
        memory = run.spec.memory_bytes
        if memory not in self._queues:
            try:
                self._queues[memory] = queue_for(self.settings, memory, f"node {run.id!r}")
            except GraftError:
                self._queues[memory] = None
        return self._queues[memory]

    # ---- node rows and records -------------------------------------------------------------

    def row(self, eid: str, run: NodeRun, token: str | None,
            times: list[float | None] | None) -> NodeRow:
        started, ended = times or (None, None)
        return {"execution_id": eid, "node_id": run.id, "parent": run.parent,
                "task": run.spec.task.name, "kind": run.spec.kind, "state": run.state.value,
                "attempt": run.attempt, "queue": self.queue(run), "error": run.error,
                "token": token, "history": list(run.history), "cached": run.cached,
                "started_at": started, "ended_at": ended, "image": run.spec.image,
                "inputs": run.bindings, "outputs": run.outputs}

    def node(self, run: NodeRun, times: list[float | None] | None) -> dict[str, Any]:
        """A node's board record; a gate's says what it waits for (`gate`: its kind, name,
        signal type, timeout or duration)."""
        started, ended = times or (None, None)
        record = {"task": run.spec.task.name, "kind": run.spec.kind, "state": run.state.value,
                  "queue": self.queue(run), "attempts": run.attempt, "parent": run.parent,
                  "error": run.error, "history": list(run.history), "cached": run.cached,
                  "started_at": started, "ended_at": ended, "image": run.spec.image,
                  "inputs": run.bindings, "outputs": run.outputs}
        if run.spec.gate is not None:
            record["gate"] = describe_gate(run.spec)
        return record

    @staticmethod
    def node_row(row: NodeRow) -> dict[str, Any]:
        return {"task": row["task"], "kind": row["kind"], "state": row["state"],
                "queue": row["queue"], "attempts": row["attempt"], "parent": row["parent"],
                "error": row["error"], "history": row["history"] or [],
                "cached": bool(row["cached"]), "started_at": row["started_at"],
                "ended_at": row["ended_at"], "image": row["image"],
                "inputs": row["inputs"], "outputs": row["outputs"]}

    # ---- executions ------------------------------------------------------------------------

    @staticmethod
    def submitted(record: ExecutionRecord) -> dict[str, Any]:
        return {"status": record.status, "workflow": record.workflow, "spec": record.spec_key,
                "inputs": record.inputs, "submitted_at": record.submitted_at,
                "priority": record.priority}

    def refused(self, eid: str, record: ExecutionRecord, reason: str) -> dict[str, Any]:
        return {**self.submitted(record), "status": ExecutionState.FAILED.value,
                "error": f"execution {eid} was refused: {reason}", "failures": []}

    def execution(self, eid: str, engine: Engine, done: int, spec_key: str,
                  cancel_reason: str = "", ended_at: float | None = None) -> dict[str, Any]:
        fields: dict[str, Any] = {"status": engine.state.value, "done": done,
                                  "total": engine.total, "failed": len(engine.failed),
                                  "spec": spec_key}
        if ended_at is not None:
            fields["ended_at"] = ended_at
        if engine.state == ExecutionState.SUCCEEDED:
            fields["outputs"] = engine.outputs
        elif engine.state == ExecutionState.FAILED:
            fields["failures"] = self.failures(engine)
            fields["error"] = f"execution {eid} failed"
        elif engine.state == ExecutionState.ABORTED:
            # as `from_record` says it, so that the reason survives a board rewrite
            fields["error"] = f"execution {eid} was aborted ({cancel_reason or 'cancelled'})"
        return fields

    def from_record(self, record: ExecutionRecord, rows: list[NodeRow]) -> dict[str, Any]:
        """An execution's board record from the state alone."""
        terminal = {"SUCCEEDED", "FAILED", "SKIPPED", "ABORTED"}
        fields = {**self.submitted(record), "done": sum(r["state"] in terminal for r in rows),
                  "total": len(rows)}
        if record.status in terminal:  # an ended execution's row is written last at its end
            fields["ended_at"] = record.updated_at
        if record.status == ExecutionState.SUCCEEDED.value:
            fields["outputs"] = record.outputs
        elif record.status == ExecutionState.FAILED.value:
            error = record.error or {}
            fields["failures"] = error.get("failures", [])
            fields["error"] = (f"execution {record.id} was refused: {error['message']}"
                               if "message" in error else f"execution {record.id} failed")
        elif record.status == ExecutionState.ABORTED.value:
            why = (record.error or {}).get("aborted") or "cancelled"
            fields["error"] = f"execution {record.id} was aborted ({why})"
        return fields

    @staticmethod
    def failures(engine: Engine) -> list[dict[str, Any]]:
        out = []
        if engine.error is not None:  # the whole execution's (its workflow timeout)
            err = engine.error
            out.append({"node_id": "", "task": engine.spec.name,
                        "error_type": err.get("type", "Error"), "kind": err.get("kind", ""),
                        "message": err.get("message", ""), "traceback": ""})
        for nid in engine.failed:
            run = engine.nodes[nid]
            err = run.error or {}
            out.append({"node_id": nid, "task": run.spec.task.name,
                        "error_type": err.get("type", "Error"), "kind": err.get("kind", ""),
                        "message": err.get("message", ""),
                        "traceback": err.get("traceback", "")})
        return out
