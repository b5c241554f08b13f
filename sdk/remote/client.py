"""Submitting workflows to a graft cluster and following their executions.

The client talks only to the broker (control queue and status board) and the store, never
to the scheduler's database: an execution submitted while the scheduler is down waits on the
queue and runs when it starts.
"""

from __future__ import annotations

import dataclasses
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kombu import Connection

from sdk.model.config import Settings
from sdk.model.engine import ExecutionState
from sdk.model.entity import Runnable
from sdk.model.errors import ExecutionFailed, GraftError, NodeFailure
from sdk.model.spec import GraphSpec, NodeSpec, TaskRef
from sdk.model.store import Store
from sdk.remote import board as board_mod
from sdk.remote.broker import check_broker, publish
from sdk.runtime.bundle import source_root, upload_bundle
from sdk.values.shapes import encode_inputs, shape_outputs
from sdk.values.store import open_store, put_blob

FINAL = (ExecutionState.SUCCEEDED.value, ExecutionState.FAILED.value)


@dataclass(frozen=True)
class NodeRecord:
    """One node of an execution as `Execution.nodes()` reports it."""

    id: str
    task: str
    state: str
    queue: str | None
    attempts: int
    parent: str | None
    error: dict[str, Any] | None
    kind: str = "task"


class Client:
    """Submit workflows and reattach to executions. Reads `GRAFT_*` unless given settings."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings.from_env()
        self.store: Store = open_store(self.settings.store_url)
        self._board: board_mod.Board | None = None

    @property
    def board(self) -> board_mod.Board:
        if self._board is None:
            self._board = board_mod.Board(self.settings)
        return self._board

    def submit(self, entity: Runnable, **inputs: Any) -> Execution:
        """Compile, upload code and inputs, and queue an execution; return it at once.

        Raises CompileError/TypeConversionError on bad workflow or inputs, TierError when a
        node needs more memory than the largest tier, BrokerUnavailable without a broker.
        """
        bound = entity.bind((), inputs)
        spec = entity.graph()
        for node_id, node in spec.walk():
            if node.kind != "workflow":
                self.settings.queue_for(node.memory_bytes,
                                        f"node {node_id!r} (task {node.task.name})")
        check_broker(self.settings.broker_url)
        spec = _with_bundles(spec, self.store, {})
        main = _main_module_name()
        if main:  # types defined in the script: workers import it under its module name
            spec = _renamed_refs(spec, "__main__", main)
        spec_key = put_blob(self.store, spec.dumps().encode(), prefix="specs")
        execution_id = uuid.uuid4().hex[:20]
        body = {"type": "submit", "execution": execution_id, "spec": spec_key,
                "inputs": encode_inputs(entity, bound, self.store), "workflow": spec.name,
                "submitted_at": time.time()}
        self.board.write(execution_id, {"status": ExecutionState.QUEUED.value,
                                        "workflow": spec.name, "spec": spec_key,
                                        "done": 0, "total": 0, "submitted_at": time.time()})
        with Connection(self.settings.broker_url) as conn:
            publish(conn, self.settings, body)
        return Execution(self, execution_id)

    def get(self, execution_id: str) -> Execution:
        """Reattach to an execution by id; GraftError when the board does not know it."""
        if self.board.execution(execution_id) is None:
            raise GraftError(f"no execution {execution_id!r} on the board at "
                             f"{board_mod.redact(self.board.url)} (wrong GRAFT_BROKER_URL, or "
                             f"it expired?)")
        return Execution(self, execution_id)


def _with_bundles(spec: GraphSpec, store: Store, roots: dict[str, tuple[str, str | None]]
                  ) -> GraphSpec:
    """The spec with every task reference made importable on workers (bundle id, and the
    real module name where the code was run as `__main__`)."""

    def ref_for(task: TaskRef) -> TaskRef:
        if task.module not in roots:
            name, root = source_root(task.module)
            if name == "__main__":
                raise GraftError(f"task {task.name!r} is defined in an interactive session; "
                                 f"workers can only import code from a .py file: move it "
                                 f"into one and import it from there")
            roots[task.module] = (name, upload_bundle(root, store) if root else None)
        name, bundle = roots[task.module]
        return dataclasses.replace(task, module=name, bundle=bundle)

    def node(n: NodeSpec) -> NodeSpec:
        sub = _with_bundles(n.subgraph, store, roots) if n.subgraph is not None else None
        return dataclasses.replace(n, task=ref_for(n.task), subgraph=sub)

    return dataclasses.replace(spec, nodes=[node(n) for n in spec.nodes])


def _main_module_name() -> str | None:
    """The importable name of `__main__` when it is a script file (`python script.py`)."""
    file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    name, _ = source_root("__main__")
    return name if file.endswith(".py") and name != "__main__" else None


def _renamed_refs(spec: GraphSpec, old: str, new: str) -> GraphSpec:
    """`spec` with every type reference `old:X` (dataclasses, Enums, NamedTuple outputs, File
    subclasses; sub-workflows included) made `new:X`. Bindings are left as they are."""

    def rename(ref: Any) -> Any:
        return new + ref[len(old):] if isinstance(ref, str) and ref.startswith(old + ":") else ref

    def desc(d: Any) -> Any:
        if isinstance(d, dict):
            return {k: rename(v) if k == "ref" else desc(v) for k, v in d.items()}
        return [desc(v) for v in d] if isinstance(d, list) else d

    def types(ds: dict[str, Any]) -> dict[str, Any]:
        return {name: desc(d) for name, d in ds.items()}

    def node(n: NodeSpec) -> NodeSpec:
        return dataclasses.replace(
            n, inputs_types=types(n.inputs_types), outputs_types=types(n.outputs_types),
            subgraph=graph(n.subgraph) if n.subgraph is not None else None)

    def graph(g: GraphSpec) -> GraphSpec:
        return dataclasses.replace(
            g, inputs=types(g.inputs), nodes=[node(n) for n in g.nodes],
            outputs=[dataclasses.replace(o, type=desc(o.type)) for o in g.outputs],
            output_ref=rename(g.output_ref))

    return graph(spec)


class Execution:
    """A submitted execution. `wait()` returns outputs as a local run would."""

    def __init__(self, client: Client, execution_id: str):
        self.client = client
        self.id = execution_id

    def __repr__(self) -> str:
        return f"Execution({self.id!r})"

    def info(self) -> dict[str, Any]:
        info = self.client.board.execution(self.id)
        if info is None:
            raise GraftError(f"execution {self.id!r} is no longer on the board")
        return info

    def status(self) -> str:
        """One of QUEUED, RUNNING, SUCCEEDED, FAILED."""
        return str(self.info()["status"])

    def nodes(self) -> list[NodeRecord]:
        records = self.client.board.nodes(self.id)
        return [NodeRecord(id=nid, task=r.get("task", ""), state=r.get("state", ""),
                           queue=r.get("queue"), attempts=int(r.get("attempts", 0)),
                           parent=r.get("parent"), error=r.get("error"),
                           kind=r.get("kind", "task"))
                for nid, r in sorted(records.items())]

    def wait(self, timeout: float | None = None,
             progress: Callable[[dict[str, Any]], None] | None = None) -> Any:
        """Block until the execution ends; return its outputs or raise ExecutionFailed.

        `timeout` is in seconds (TimeoutError when it passes); `progress` is called with the
        board's record (status, done, total) each time it is polled.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.02
        while True:
            info = self.info()
            if progress is not None:
                progress(info)
            if info["status"] in FINAL:
                return self._result(info)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"execution {self.id} still {info['status']} after "
                                   f"{timeout} s ({info.get('done', 0)}/{info.get('total', 0)} "
                                   f"nodes done)")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def outputs(self) -> Any:
        """The outputs of a finished execution (ExecutionFailed if it failed)."""
        return self._result(self.info())

    def _result(self, info: dict[str, Any]) -> Any:
        if info["status"] == ExecutionState.FAILED.value:
            failures = [NodeFailure(**f) for f in info.get("failures") or []]
            raise ExecutionFailed(self.id, failures,
                                  info.get("error") or f"execution {self.id} failed")
        if info["status"] != ExecutionState.SUCCEEDED.value:
            raise GraftError(f"execution {self.id} is {info['status']}, not finished")
        spec = GraphSpec.loads(self.client.store.get(info["spec"]))
        main = _main_module_name()
        if main and main not in sys.modules:
            # Submitted from this script: give back its own classes, as a local run does.
            spec = _renamed_refs(spec, main, "__main__")
        return shape_outputs(spec, info.get("outputs") or {}, self.client.store)
