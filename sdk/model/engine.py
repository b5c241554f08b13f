"""The pure graph engine: readiness, binding resolution, sub-graph grafting, failure and
retries.

It does no I/O and imports neither Celery nor SQLAlchemy. The local runner and the scheduler
both drive it: they run what it releases and hand every outcome back as a `Report` to
`apply`. Every call costs in proportion to the nodes it touches, never to the size of the
graph, and a report for a node that is not waiting for that attempt is ignored (returns
None), so duplicate and late reports change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.report import Failure, FailureKind, Outcome, Report, data_failure
from sdk.model.spec import GraphSpec, NodeSpec, validate
from sdk.model.typesys import is_assignable, type_name


class NodeState(str, Enum):
    PENDING = "PENDING"  # waiting for upstream nodes
    QUEUED = "QUEUED"  # released: to run, or running on a worker
    RUNNING = "RUNNING"  # a dynamic or sub-workflow whose sub-graph is running
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # never ran because the execution failed first
    ABORTED = "ABORTED"  # a dynamic or sub-workflow whose sub-graph was cut off by a failure


class ExecutionState(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


TERMINAL_NODE_STATES = (NodeState.SUCCEEDED, NodeState.FAILED, NodeState.SKIPPED,
                        NodeState.ABORTED)


@dataclass(frozen=True)
class RetryPolicy:
    """How SYSTEM failures are retried: up to `system_retries` more attempts, each released
    after `backoff_s(n)` seconds (doubling from `backoff_base_s`, at most `backoff_max_s`);
    drivers add jitter. USER failures follow the task's own `retries`; DATA failures are
    never retried."""

    system_retries: int = 3
    backoff_base_s: float = 1.0
    backoff_max_s: float = 30.0

    def backoff_s(self, failures: int) -> float:
        """The delay before the attempt that follows the `failures`-th system failure."""
        return min(self.backoff_max_s, self.backoff_base_s * 2 ** max(0, failures - 1))


@dataclass(eq=False, slots=True)
class NodeRun:
    """One node of a running execution. `bindings` use absolute ids or resolved values."""

    id: str
    spec: NodeSpec
    parent: str | None
    bindings: dict[str, Binding]
    state: NodeState = NodeState.PENDING
    attempt: int = 1
    waiting: int = 0
    dependents: list[str] = field(default_factory=list)
    children_left: int = 0
    out_bindings: dict[str, Binding] | None = None
    outputs: dict[str, Binding] | None = None
    error: dict[str, Any] | None = None
    user_failures: int = 0
    system_failures: int = 0
    retry_delay_s: float = 0.0  # set when released again after a SYSTEM failure
    cached: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)  # one record per attempt


class Engine:
    """The state of one execution of `spec` with resolved `inputs` ({name: binding})."""

    def __init__(self, spec: GraphSpec, inputs: dict[str, Binding],
                 policy: RetryPolicy | None = None):
        missing = set(spec.inputs) - set(inputs)
        if missing:
            names = ", ".join(sorted(missing))
            raise SpecError(f"workflow {spec.name!r} is missing input(s) {names}")
        self.spec = spec
        self.inputs = inputs
        self.policy = policy or RetryPolicy()
        self.nodes: dict[str, NodeRun] = {}
        self.state = ExecutionState.RUNNING
        self.outputs: dict[str, Binding] | None = None
        self.failed: list[str] = []
        self.changed: set[str] = set()
        self._released: list[str] = []
        self._root_left = 0
        self._root_out: dict[str, Binding] = {}
        self._started = False

    def start(self) -> list[str]:
        """Insert the top-level graph; return the ids of the nodes ready to run."""
        if not self._started:
            self._started = True
            self._root_left = len(self.spec.nodes)
            self._insert(self.spec, "", None, self.inputs)
            if self._root_left == 0:
                self._finish_root()
        return self._drain()

    # ---- reports --------------------------------------------------------------------------

    def apply(self, report: Report) -> list[str] | None:
        """Take the outcome of one attempt; return the ids of the nodes it makes ready, or
        None when no node waits for that attempt (a duplicate or late report)."""
        run = self._waiting(report.node, report.attempt)
        if run is None:
            return None
        if report.outcome in (Outcome.VALUES, Outcome.CACHED):
            assert report.outputs is not None
            return self._complete(run, report)
        if report.outcome == Outcome.SUBGRAPH:
            assert report.subgraph is not None
            try:
                return self._graft(run, report)
            except SpecError as exc:
                return self._fail(run, data_failure("SpecError", str(exc)), report)
        assert report.error is not None
        return self._fail(run, report.error, report)

    def _complete(self, run: NodeRun, report: Report) -> list[str]:
        outputs = report.outputs or {}
        expected = set(run.spec.outputs_types)
        if set(outputs) != expected:
            return self._fail(run, data_failure(
                "OutputMismatch", f"task {run.spec.task.name} reported outputs "
                f"{sorted(outputs)} but declares {sorted(expected)}"), report)
        self._record(run, report)
        run.cached = report.outcome == Outcome.CACHED
        self._succeed(run, outputs)
        return self._drain()

    def _graft(self, run: NodeRun, report: Report) -> list[str]:
        """Merge a dynamic node's generated sub-graph under its id; return ready node ids.

        Raises SpecError (leaving the engine unchanged) when the sub-graph is invalid."""
        node_id, subgraph = run.id, report.subgraph
        assert subgraph is not None
        if run.spec.kind != "dynamic":
            raise SpecError(f"node {node_id!r} is a {run.spec.kind}, not a dynamic: it cannot "
                            "report a sub-graph")
        if self.done:
            # The execution failed while the body ran: its sub-graph will never run.
            run.state = NodeState.SKIPPED
            run.error = {"type": "ExecutionFailed", "message": "the execution had failed "
                         "before this sub-graph arrived; it was not run"}
            self.changed.add(run.id)
            return []
        where = f"sub-graph of dynamic node {node_id!r}"
        validate(subgraph, where)
        unknown = sorted(set(subgraph.inputs) - set(run.spec.inputs_types))
        if unknown:
            raise SpecError(f"{where}: reads input(s) {', '.join(unknown)}, which the dynamic "
                            f"does not have (inputs: {', '.join(run.spec.inputs_types) or 'none'})")
        outs = {o.name: o for o in subgraph.outputs}
        if set(outs) != set(run.spec.outputs_types):
            raise SpecError(f"{where}: outputs {sorted(outs)} do not match the dynamic's "
                            f"declared outputs {sorted(run.spec.outputs_types)}")
        for name, want in run.spec.outputs_types.items():
            if not is_assignable(outs[name].type, want):
                raise SpecError(f"{where}: output {name!r} is {type_name(outs[name].type)}, "
                                f"declared {type_name(want)}")
        self._record(run, report)
        self._open(run, subgraph)
        return self._drain()

    def _fail(self, run: NodeRun, failure: Failure, report: Report) -> list[str]:
        """Record a failed attempt. While the execution runs and the failure's kind has
        attempts left, the node is released again with attempt + 1; otherwise it fails, and
        with it its parents and the execution."""
        self.changed.add(run.id)
        run.error = failure.to_json()
        self._record(run, report, failure)
        if failure.kind == FailureKind.USER:
            run.user_failures += 1
            again = run.user_failures <= run.spec.retries
            run.retry_delay_s = 0.0
        elif failure.kind == FailureKind.SYSTEM:
            run.system_failures += 1
            again = run.system_failures <= self.policy.system_retries
            run.retry_delay_s = self.policy.backoff_s(run.system_failures)
        else:
            again = False
        if again and not self.done:
            run.attempt += 1
            self._released.append(run.id)
            return self._drain()
        run.state = NodeState.FAILED
        self.failed.append(run.id)
        parent = run.parent
        while parent is not None:
            p = self.nodes[parent]
            if p.state in TERMINAL_NODE_STATES:
                break
            p.state = NodeState.FAILED
            p.error = {"kind": failure.kind.value, "type": "SubNodeFailed",
                       "message": f"sub-node {run.id!r} failed"}
            self.changed.add(p.id)
            parent = p.parent
        self._fail_execution()
        return self._drain()

    @staticmethod
    def _record(run: NodeRun, report: Report, failure: Failure | None = None) -> None:
        record: dict[str, Any] = {"attempt": report.attempt, "outcome": report.outcome.value}
        if failure is not None:
            record.update(kind=failure.kind.value, type=failure.type, message=failure.message)
        if report.worker:
            record["worker"] = report.worker
        if report.duration_s is not None:
            record["duration_s"] = report.duration_s
        record.update(report.extra)
        run.history.append(record)

    # ---- queries --------------------------------------------------------------------------

    def resolve(self, binding: Binding) -> Binding:
        """Replace node references by the outputs they name (the nodes must have succeeded)."""
        return bindings.transform(binding, self._resolve_leaf)

    def _resolve_leaf(self, kind: str, body: Any) -> Binding:
        if kind != "ref":
            return {kind: body}
        src, out = body
        run = self.nodes[src]
        if run.outputs is None:
            raise SpecError(f"output {out!r} of node {src!r} is read before it exists")
        return run.outputs[out]

    def resolved_inputs(self, node_id: str) -> dict[str, Binding]:
        run = self.nodes[node_id]
        return {name: self.resolve(b) for name, b in run.bindings.items()}

    def drain_changes(self) -> set[str]:
        """The ids of nodes changed since the last call."""
        changed, self.changed = self.changed, set()
        return changed

    @property
    def done(self) -> bool:
        return self.state in (ExecutionState.SUCCEEDED, ExecutionState.FAILED)

    # ---- internals ------------------------------------------------------------------------

    def is_waiting(self, node_id: str, attempt: int) -> bool:
        """Whether a report for this attempt of this node would be taken."""
        return self._waiting(node_id, attempt) is not None

    def _waiting(self, node_id: str, attempt: int) -> NodeRun | None:
        run = self.nodes.get(node_id)
        if run is None or run.state != NodeState.QUEUED or run.attempt != attempt:
            return None
        return run

    def _insert(self, graph: GraphSpec, prefix: str, parent: str | None,
                scope: dict[str, Binding]) -> None:
        """Add `graph`'s nodes under `prefix`, record its output bindings on `parent` (or the
        root), then release the ready nodes. The outputs are recorded first because a released
        sub-workflow may finish at once and complete its parent before this call returns."""
        new: list[NodeRun] = []
        for node in graph.nodes:
            run = NodeRun(prefix + node.id, node, parent,
                          {k: bindings.rebase(b, prefix, scope) for k, b in node.inputs.items()})
            self.nodes[run.id] = run
            self.changed.add(run.id)
            new.append(run)
        for run in new:
            for src in {s for b in run.bindings.values() for s, _ in bindings.refs(b)}:
                src_run = self.nodes[src]
                if src_run.state != NodeState.SUCCEEDED:
                    src_run.dependents.append(run.id)
                    run.waiting += 1
        out = {o.name: bindings.rebase(o.binding, prefix, scope) for o in graph.outputs}
        if parent is None:
            self._root_out = out
        else:
            self.nodes[parent].out_bindings = out
        for run in new:
            if run.waiting == 0 and run.state == NodeState.PENDING:
                self._release(run)

    def _release(self, run: NodeRun) -> None:
        if self.done:
            return
        self.changed.add(run.id)
        if run.spec.kind == "workflow":
            assert run.spec.subgraph is not None
            self._open(run, run.spec.subgraph)
        else:
            run.state = NodeState.QUEUED
            self._released.append(run.id)

    def _open(self, run: NodeRun, graph: GraphSpec) -> None:
        run.state = NodeState.RUNNING
        run.children_left = len(graph.nodes)
        self.changed.add(run.id)
        scope = self.resolved_inputs(run.id)
        self._insert(graph, run.id + "/", run.id, scope)
        if run.children_left == 0 and run.state == NodeState.RUNNING:
            self._succeed(run, {k: self.resolve(b) for k, b in run.out_bindings.items()})

    def _succeed(self, run: NodeRun, outputs: dict[str, Binding]) -> None:
        run.state = NodeState.SUCCEEDED
        run.outputs = outputs
        run.error = None
        self.changed.add(run.id)
        for dep_id in run.dependents:
            dep = self.nodes[dep_id]
            dep.waiting -= 1
            if dep.waiting == 0 and dep.state == NodeState.PENDING:
                self._release(dep)
        run.dependents = []
        if run.parent is None:
            self._root_left -= 1
            if self._root_left == 0:
                self._finish_root()
            return
        parent = self.nodes[run.parent]
        if parent.state != NodeState.RUNNING:
            return
        parent.children_left -= 1
        if parent.children_left == 0:
            assert parent.out_bindings is not None
            self._succeed(parent, {k: self.resolve(b) for k, b in parent.out_bindings.items()})

    def _finish_root(self) -> None:
        if self.state == ExecutionState.RUNNING:
            self.outputs = {k: self.resolve(b) for k, b in self._root_out.items()}
            self.state = ExecutionState.SUCCEEDED

    def _fail_execution(self) -> None:
        if self.state != ExecutionState.RUNNING:
            return
        self.state = ExecutionState.FAILED
        for run in self.nodes.values():
            if run.state == NodeState.PENDING:
                run.state = NodeState.SKIPPED
                self.changed.add(run.id)
            elif run.state == NodeState.RUNNING:
                run.state = NodeState.ABORTED
                self.changed.add(run.id)

    def _drain(self) -> list[str]:
        released, self._released = self._released, []
        return released

