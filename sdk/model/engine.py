"""The pure graph engine: readiness, binding resolution, sub-graph grafting, maps,
conditionals, failure policies and retries.

It does no I/O and imports neither Celery nor SQLAlchemy. The local runner and the scheduler
both drive it: they run what it releases and hand every outcome back as a `Report` to
`apply`. A released map or conditional node is expanded by its driver, which reads the
inputs (I/O) and reports how many items the map has or which case holds. Every call costs in
proportion to the nodes it touches, never to the size of the graph (ending an execution aside),
and a report for a node that is not waiting for that attempt is ignored (returns None), so
duplicate and late reports change nothing.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.evict import Evictor, Spill
from sdk.model.report import Failure, FailureKind, Outcome, Report, data_failure
from sdk.model.retry import RetryPolicy
from sdk.model.runs import (
    FAILURE_HANDLER_ID,
    GraphOutputs,
    MapProgress,
    NodeRun,
    is_handler,
    reads,
)
from sdk.model.spec import FAIL_IMMEDIATELY, GraphSpec, NodeSpec
from sdk.model.states import ACTIVE_STATES, ExecutionState, NodeState
from sdk.model.typesys import is_assignable, type_name
from sdk.model.validate import validate
from sdk.model.window import Window

# isort: split
# moved: importers outside sdk/model still read these here until they are updated (and
# NodeState, ExecutionState, NodeRun and RetryPolicy, which the engine imports for itself)
from sdk.model.states import TERMINAL_NODE_STATES  # noqa: F401


class Engine:
    """The state of one execution of `spec` with resolved `inputs` ({name: binding}).

    With `graft_slice`, a graph of more nodes than that (a large sub-graph, mostly) is inserted
    `graft_slice` nodes at a time: the first slice when it opens, each next one when the driver
    calls `graft_more` (while `grafting`), so no single call costs in proportion to the whole
    graph. Its nodes not yet inserted cannot have run, so nothing but time tells the
    difference; whatever must see every node (a failure going up, a stop) first inserts the
    rest, and a cancel drops it. Without it, as by default, a graph goes in whole. With
    `window` too, a next slice goes in only while fewer than `window` nodes are active (or
    none is queued, so that what waits on the rest is never stuck).

    With `spill`, nodes that succeeded and that no node in memory still reads may be dropped
    from memory (`evict`): their driver keeps their outputs (the scheduler in its node rows)
    and `spill` reads them back when a graph's or a map's outputs are resolved. Held are the
    frontier (what waits, runs or was just done), failed nodes and failure handlers."""

    def __init__(self, spec: GraphSpec, inputs: dict[str, Binding],
                 policy: RetryPolicy | None = None, graft_slice: int | None = None):
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
        self.error: dict[str, Any] | None = None  # a failure of the whole execution (timeout)
        self.changed: set[str] = set()
        self.active = 0  # nodes PENDING, QUEUED or RUNNING
        self.queued = 0  # nodes QUEUED
        self._released: list[str] = []
        self._root_left = 0
        self._root_out = GraphOutputs([], "", {})
        self._started = False
        self._stopped = False  # a failure stopped new work (FAIL_IMMEDIATELY)
        self._failing = False  # the execution will fail once nothing else runs
        # Failing sub-workflows: how many nodes under each are still active. One fails (after
        # its handler) when its count reaches 0; the ids to look at are queued in _closing.
        self._failing_scopes: dict[str, int] = {}
        self._closing: list[str] = []
        self._evictor = Evictor(self.nodes, None)
        self._window = Window(self.nodes, self._evictor, self._add, self._release,
                              self._outputs_in, graft_slice, None)

    def start(self) -> list[str]:
        """Insert the top-level graph; return the ids of the nodes ready to run."""
        if not self._started:
            self._started = True
            self._root_left = len(self.spec.nodes)
            self._window.insert(self.spec, "", None, self.inputs)
            if self._root_left == 0:
                self._finish_root()
        return self._drain()

    @property
    def grafting(self) -> bool:
        """Whether a graph is partly inserted (`graft_more` inserts its next slice)."""
        return bool(self._window.grafts)

    @property
    def can_graft(self) -> bool:
        """Whether `graft_more` would insert a slice now: a graph is partly inserted, and
        fewer than `window` nodes are active or none is queued (what is active then waits for
        nodes still to be inserted, or for graphs opened under them)."""
        return self._window.can_graft(self.active, self.queued)

    @property
    def graft_slice(self) -> int | None:
        return self._window.graft_slice

    @graft_slice.setter
    def graft_slice(self, n: int | None) -> None:
        self._window.graft_slice = n

    @property
    def window(self) -> int | None:
        return self._window.window

    @window.setter
    def window(self, n: int | None) -> None:
        self._window.window = n

    @property
    def spill(self) -> Spill | None:
        return self._evictor.spill

    @spill.setter
    def spill(self, spill: Spill | None) -> None:
        self._evictor.spill = spill

    @property
    def evicted(self) -> int:
        """How many nodes were dropped from memory (`evict`)."""
        return self._evictor.evicted

    @property
    def total(self) -> int:
        """How many nodes this execution has inserted, those dropped from memory included."""
        return len(self.nodes) + self.evicted

    @property
    def size(self) -> int:
        """How many nodes this execution holds in memory: those inserted, and those of graphs
        partly inserted that are still to go in."""
        return len(self.nodes) + self._window.left

    def graft_more(self) -> list[str]:
        """Insert the next slice of the oldest partly inserted graph; return the ids of the
        nodes that makes ready (none while `window` nodes or more are active)."""
        if self.can_graft:
            self._window.more()
        return self._drain()

    # ---- reports --------------------------------------------------------------------------

    def apply(self, report: Report) -> list[str] | None:
        """Take the outcome of one attempt; return the ids of the nodes it makes ready, or
        None when no node waits for that attempt (a duplicate or late report)."""
        run = self._waiting(report.node, report.attempt)
        if run is None:
            return None
        outcome = report.outcome
        if outcome in (Outcome.VALUES, Outcome.CACHED):
            return self._complete(run, report)
        try:
            if outcome == Outcome.SUBGRAPH:
                return self._graft(run, report)
            if outcome == Outcome.MAPPED:
                return self._expand_map(run, report)
            if outcome == Outcome.BRANCHED:
                return self._take_branch(run, report)
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
        run.record(report)
        run.cached = report.outcome == Outcome.CACHED
        self._succeed(run, outputs)
        return self._drain()

    def _graft(self, run: NodeRun, report: Report) -> list[str]:
        """Merge a dynamic node's generated sub-graph under its id (SpecError, leaving the
        engine unchanged, when the sub-graph is invalid)."""
        node_id, subgraph = run.id, report.subgraph
        assert subgraph is not None
        if run.spec.kind != "dynamic":
            raise SpecError(f"node {node_id!r} is a {run.spec.kind}, not a dynamic: it cannot "
                            "report a sub-graph")
        where = f"sub-graph of dynamic node {node_id!r}"
        validate(subgraph, where)
        unknown = sorted(set(subgraph.inputs) - set(run.spec.inputs_types))
        if unknown:
            raise SpecError(f"{where}: reads input(s) {', '.join(unknown)}, which the dynamic "
                            f"does not have (inputs: {', '.join(run.spec.inputs_types) or 'none'})")
        outs = subgraph.output_types()
        if set(outs) != set(run.spec.outputs_types):
            raise SpecError(f"{where}: outputs {sorted(outs)} do not match the dynamic's "
                            f"declared outputs {sorted(run.spec.outputs_types)}")
        for name, want in run.spec.outputs_types.items():
            if not is_assignable(outs[name], want):
                raise SpecError(f"{where}: output {name!r} is {type_name(outs[name])}, "
                                f"declared {type_name(want)}")
        run.record(report)
        self._open(run, subgraph, run.id + "/")
        return self._drain()

    def _expand_map(self, run: NodeRun, report: Report) -> list[str]:
        """Create a map's items (`<map>/<index>`) and release as many as its concurrency
        allows."""
        spec = run.spec.map
        if run.spec.kind != "map" or spec is None or report.items is None or report.items < 0:
            raise SpecError(f"node {run.id!r} cannot be expanded as a map")
        run.record(report)
        count = report.items
        self._set(run, NodeState.RUNNING)
        run.map = MapProgress(count, spec.required(count))
        run.children_left = count
        resolved = self.resolved_inputs(run.id)
        template = spec.template
        for i in range(count):
            item = NodeRun(f"{run.id}/{i}", template, run.id,
                           {name: _item_binding(resolved[name], i, name in spec.mapped,
                                                f"{run.id}.{name}")
                            for name in template.inputs_types})
            self._add(item)
        if count == 0:
            self._finish_map(run)
        else:
            self._release_items(run)
        return self._drain()

    def _release_items(self, run: NodeRun) -> None:
        """Release a map's next items while it has free slots."""
        progress, spec = run.map, run.spec.map
        assert progress is not None and spec is not None
        limit = spec.concurrency or progress.items
        running = progress.next_item - (progress.items - run.children_left)
        may = not self._stopped or is_handler(run.id)
        while progress.next_item < progress.items and running < limit and may:
            self._release(self.nodes[f"{run.id}/{progress.next_item}"])
            progress.next_item += 1
            running += 1

    def _take_branch(self, run: NodeRun, report: Report) -> list[str]:
        """Open the case of a conditional that holds; show the other cases' nodes SKIPPED."""
        branch = run.spec.branch
        if run.spec.kind != "branch" or branch is None or report.case is None \
                or not 0 <= report.case < len(branch.cases):
            raise SpecError(f"node {run.id!r} cannot take case {report.case!r}")
        run.record(report)
        chosen = branch.cases[report.case]
        for case in branch.cases:
            if case is not chosen and case.graph is not None:
                for node in case.graph.nodes:
                    skipped = NodeRun(f"{run.id}/{case.label}/{node.id}", node, run.id, {},
                                      state=NodeState.SKIPPED)
                    self.nodes[skipped.id] = skipped
                    self.changed.add(skipped.id)
        if chosen.fail is not None:
            return self._fail(run, Failure(FailureKind.USER, "ConditionalFailed",
                                           f"conditional {branch.name!r}: {chosen.fail}"),
                              None)
        assert chosen.graph is not None
        self._open(run, chosen.graph, f"{run.id}/{chosen.label}/")
        return self._drain()

    def _fail(self, run: NodeRun, failure: Failure, report: Report | None) -> list[str]:
        """Record a failed attempt. While the execution may go on and the failure's kind has
        attempts left (`RetryPolicy.another_try`), the node is released again with attempt + 1;
        otherwise it fails. A failure no attempt reported (`report` None: the engine's own
        finding, such as a conditional's failing case) is never retried."""
        self.changed.add(run.id)
        run.error = failure.to_json()
        if report is not None:
            run.record(report, failure)
            if self.policy.another_try(run, failure.kind) \
                    and (not self._stopped or is_handler(run.id)):
                run.attempt += 1
                self._released.append(run.id)
                return self._drain()
        self._node_failed(run, failure)
        return self._drain()

    def _node_failed(self, run: NodeRun, failure: Failure) -> None:
        """A node failed for good: the failure goes up its parents (`_propagate`)."""
        self._set(run, NodeState.FAILED)
        self._propagate(run, run.id, failure.kind.value)

    def _propagate(self, child: NodeRun, leaf: str, kind: str) -> None:
        """`child` failed for good, carrying the failure of node `leaf`. Its map absorbs it
        while the map may still succeed; a sub-workflow starts failing by its own policy
        (`_scope_failing`); a dynamic or conditional fails with it; at the top the execution
        fails by its policy, now or once nothing else runs. What waited for `child` is
        skipped, after its parent knows of the failure."""
        parent = self.nodes.get(child.parent) if child.parent is not None else None
        if self._window.grafts and (parent is None or parent.state != NodeState.RUNNING
                             or parent.map is None):
            self._window.finish()  # what waits for `child` must be in, to be skipped
        if parent is None:
            if leaf not in self.failed:
                self.failed.append(leaf)
            self._cut_off(child)
            self._failing = True
            if self.spec.failure_policy == FAIL_IMMEDIATELY:
                self._stop()
            self._maybe_end()
        elif parent.state != NodeState.RUNNING:
            self._cut_off(child)
            self._maybe_end()
        elif parent.map is not None:
            self._map_item_done(parent, child, ok=False)
        elif parent.spec.kind == "workflow":
            self._scope_failing(parent, leaf, kind)
            self._cut_off(child)
        else:
            self._set(parent, NodeState.FAILED)
            parent.error = {"kind": kind, "type": "SubNodeFailed",
                            "message": f"sub-node {leaf!r} failed"}
            self._cut_off(child)
            self._propagate(parent, leaf, kind)

    def _scope_failing(self, scope: NodeRun, leaf: str, kind: str) -> None:
        """A node of sub-workflow `scope` failed: under FAIL_IMMEDIATELY its other nodes stop;
        under FAIL_AFTER_EXECUTABLE_NODES_COMPLETE those that do not depend on the failure run
        on. Once nothing in it runs, its handler runs, then it fails (`_close_scope`)."""
        if scope.id not in self._failing_scopes:
            prefix = scope.id + "/"
            scope.first_failed = leaf
            scope.error = {"kind": kind, "type": "SubNodeFailed",
                           "message": f"sub-node {leaf!r} failed"}
            self._failing_scopes[scope.id] = sum(
                1 for nid, n in self.nodes.items()
                if n.state in ACTIVE_STATES and nid.startswith(prefix))
        sub = scope.spec.subgraph
        if sub is None or sub.failure_policy == FAIL_IMMEDIATELY:
            self._stop(scope.id + "/")
        self._closing.append(scope.id)

    def _close_scope(self, scope: NodeRun) -> None:
        """Nothing runs in failing sub-workflow `scope` any more: run its handler if it has
        one and it has not run; once that is done too, the sub-workflow fails."""
        sub = scope.spec.subgraph
        handler_id = f"{scope.id}/{FAILURE_HANDLER_ID}"
        if sub is not None and sub.on_failure is not None and handler_id not in self.nodes:
            assert scope.first_failed is not None
            self._run_handler(sub.on_failure, scope.id + "/", scope.first_failed,
                              self.resolved_inputs(scope.id), scope.id)
            if self._failing_scopes[scope.id]:
                return
        del self._failing_scopes[scope.id]
        self._set(scope, NodeState.FAILED)
        error = scope.error or {}
        self._propagate(scope, scope.first_failed or scope.id,
                        error.get("kind", FailureKind.USER.value))

    def _settle(self) -> None:
        """Close the failing sub-workflows in which nothing runs any more."""
        while self._closing:
            scope_id = self._closing.pop()
            if self._failing_scopes.get(scope_id) == 0:
                self._close_scope(self.nodes[scope_id])

    # ---- queries --------------------------------------------------------------------------

    def resolve(self, binding: Binding) -> Binding:
        """Replace node references by the outputs they name (the nodes must have succeeded)."""
        return bindings.transform(binding, self._resolve_leaf)

    def _resolve_leaf(self, kind: str, body: Any) -> Binding:
        if kind != "ref":
            return {kind: body}
        src, out = body
        outputs = self._evictor.outputs_of(src)
        if outputs is None:
            raise SpecError(f"output {out!r} of node {src!r} is read before it exists")
        return outputs[out]

    def resolve_outputs(self, outs: GraphOutputs) -> dict[str, Binding]:
        """A completed graph's outputs: its output bindings rebased and resolved in one pass."""
        prefix, scope = outs.prefix, outs.scope

        def leaf(kind: str, body: Any) -> Binding:
            if kind == "ref":
                return self._resolve_leaf("ref", (prefix + body[0], body[1]))
            if kind == "input":
                return self.resolve(scope[body])
            return {kind: body}

        bound = outs.bindings
        evictor = self._evictor
        evictor.prefetch(prefix + src for b in bound.values() for src, _ in bindings.refs(b))
        try:
            return {k: bindings.transform(b, leaf) for k, b in bound.items()}
        finally:
            evictor.fetched = {}

    def evict(self, hold: Container[str] = ()) -> list[str]:
        """Drop from memory the nodes that succeeded and that no node held still reads,
        except those in `hold` or changed since `drain_changes` (kept for a later call); return
        their ids. Nothing is dropped without `spill`, nor failure handlers (whether one ran is
        read from memory)."""
        return self._evictor.evict(hold, self.changed)

    def resolved_inputs(self, node_id: str) -> dict[str, Binding]:
        run = self.nodes[node_id]
        evictor = self._evictor
        if evictor.evicted:
            evictor.prefetch(reads(run))
        try:
            return {name: self.resolve(b) for name, b in run.bindings.items()}
        finally:
            evictor.fetched = {}

    def drain_changes(self) -> set[str]:
        """The ids of nodes changed since the last call."""
        changed, self.changed = self.changed, set()
        return changed

    @property
    def done(self) -> bool:
        return self.state in (ExecutionState.SUCCEEDED, ExecutionState.FAILED,
                              ExecutionState.ABORTED)

    def cancel(self) -> bool:
        """Abort the execution: nothing new starts, what waits is skipped, what was released
        is cancelled, open sub-graphs and maps are aborted, and no failure handler runs. The
        nodes of graphs partly inserted that are not in yet never will be: a cancel costs
        what the execution holds, not its whole graph. False when the execution had ended
        already (nothing changes)."""
        if self.done:
            return False
        self._window.clear()
        self._failing_scopes.clear()
        self._closing.clear()
        self._stopped = True
        for run in list(self.nodes.values()):
            self._halt(run)
        self._released.clear()
        self.state = ExecutionState.ABORTED
        return True

    def time_out(self) -> bool:
        """End the execution FAILED for running past its workflow timeout: what runs is
        stopped as by `cancel`, and `error` says why (a WorkflowTimeout, no failure handler
        runs). False when the execution had ended already."""
        if self.spec.timeout_s is None or not self.cancel():
            return False
        self.state = ExecutionState.FAILED
        self.error = {"type": "WorkflowTimeout", "kind": "USER",
                      "message": f"workflow {self.spec.name!r} ran past its timeout of "
                                 f"{self.spec.timeout_s:g} s"}
        return True

    def is_waiting(self, node_id: str, attempt: int) -> bool:
        """Whether a report for this attempt of this node would be taken."""
        return self._waiting(node_id, attempt) is not None

    def _waiting(self, node_id: str, attempt: int) -> NodeRun | None:
        run = self.nodes.get(node_id)
        if run is None or run.state != NodeState.QUEUED or run.attempt != attempt:
            return None
        return run

    # ---- the graph --------------------------------------------------------------------------

    def _set(self, run: NodeRun, state: NodeState) -> None:
        """Move a node to `state`, keeping the counts of active nodes."""
        delta = (state in ACTIVE_STATES) - (run.state in ACTIVE_STATES)
        self.active += delta
        self.queued += (state == NodeState.QUEUED) - (run.state == NodeState.QUEUED)
        run.state = state
        self.changed.add(run.id)
        if delta and self._failing_scopes:
            self._count_in_scopes(run, delta)
        if delta < 0 and run.counted:
            self._evictor.read_done(run)

    def _add(self, run: NodeRun) -> None:
        self.nodes[run.id] = run
        self.changed.add(run.id)
        if run.state in ACTIVE_STATES:
            self.active += 1
            if self._failing_scopes:
                self._count_in_scopes(run, 1)

    def _count_in_scopes(self, run: NodeRun, delta: int) -> None:
        """Add `delta` to the active count of every failing sub-workflow above `run` (walked
        only while some sub-workflow is failing, so the common path pays nothing)."""
        parent = run.parent
        while parent is not None:
            left = self._failing_scopes.get(parent)
            if left is not None:
                self._failing_scopes[parent] = left + delta
                if left + delta == 0:
                    self._closing.append(parent)
            parent = self.nodes[parent].parent

    def _outputs_in(self, parent: str | None, outputs: GraphOutputs) -> None:
        """A graph is in whole: its output bindings are recorded on its parent (or the
        execution's, for the top graph)."""
        if parent is None:
            self._root_out = outputs
        else:
            self.nodes[parent].out_bindings = outputs

    def _release(self, run: NodeRun) -> None:
        if self._stopped and not is_handler(run.id):
            return
        if run.spec.kind == "workflow":
            assert run.spec.subgraph is not None
            self._open(run, run.spec.subgraph, run.id + "/")
        else:
            self._set(run, NodeState.QUEUED)
            self._released.append(run.id)

    def _open(self, run: NodeRun, graph: GraphSpec, prefix: str) -> None:
        self._set(run, NodeState.RUNNING)
        run.children_left = len(graph.nodes)
        scope = self.resolved_inputs(run.id)
        self._window.insert(graph, prefix, run.id, scope)
        if run.children_left == 0 and run.state == NodeState.RUNNING:
            assert run.out_bindings is not None
            self._succeed(run, self.resolve_outputs(run.out_bindings))

    def _succeed(self, run: NodeRun, outputs: dict[str, Binding]) -> None:
        self._set(run, NodeState.SUCCEEDED)
        run.outputs = outputs
        run.error = None
        if not run.readers:
            self._evictor.settled.append(run.id)
        for dep_id in run.dependents:
            dep = self.nodes[dep_id]
            dep.waiting -= 1
            if dep.waiting == 0 and dep.state == NodeState.PENDING:
                self._release(dep)
        run.dependents = []
        if run.id.rpartition("/")[2] == FAILURE_HANDLER_ID:  # a handler: not one of the children
            self._maybe_end()
            return
        if run.parent is None:
            self._root_left -= 1
            if self._root_left == 0:
                self._finish_root()
            else:
                self._maybe_end()
            return
        parent = self.nodes[run.parent]
        if parent.state != NodeState.RUNNING:
            self._maybe_end()
            return
        if parent.map is not None:
            self._map_item_done(parent, run, ok=True)
            return
        parent.children_left -= 1
        if parent.children_left == 0:
            assert parent.out_bindings is not None
            self._succeed(parent, self.resolve_outputs(parent.out_bindings))

    def _map_item_done(self, run: NodeRun, item: NodeRun, ok: bool) -> None:
        progress = run.map
        assert progress is not None
        run.children_left -= 1
        if not ok:
            progress.failed.append(item.id)
            if progress.items - len(progress.failed) < progress.required:
                self._fail_map(run)
                return
        if run.children_left == 0:
            self._finish_map(run)
        else:
            self._release_items(run)

    def _finish_map(self, run: NodeRun) -> None:
        """All items are done and enough succeeded: outputs are lists in item order, None for
        the items that failed."""
        progress = run.map
        assert progress is not None
        none = {"val": {"v": None}}
        outputs: dict[str, Binding] = {}
        ids = [f"{run.id}/{i}" for i in range(progress.items)]
        failed = set(progress.failed)
        read = iter(self._evictor.read([nid for nid in ids if nid not in failed]))
        items = [None if nid in failed else next(read) for nid in ids]
        for name in run.spec.outputs_types:
            outputs[name] = {"list": [out[name] if out is not None else none for out in items]}
        self._succeed(run, outputs)

    def _fail_map(self, run: NodeRun) -> None:
        """Too many items failed: the map fails, naming each failed item and its error; the
        items not yet done are given up."""
        progress = run.map
        assert progress is not None and run.spec.map is not None
        for i in range(progress.items):
            item = self.nodes.get(f"{run.id}/{i}")  # None: succeeded, evicted
            if item is not None and item.state in (NodeState.PENDING, NodeState.QUEUED):
                self._set(item, NodeState.SKIPPED if item.state == NodeState.PENDING
                          else NodeState.CANCELLED)
        failed = sorted(progress.failed, key=lambda item: int(item.rsplit("/", 1)[1]))
        lines = [f"{item}: {(self.nodes[item].error or {}).get('type', 'Error')}: "
                 f"{(self.nodes[item].error or {}).get('message', '')}"
                 for item in failed[:20]]
        more = len(progress.failed) - len(lines)
        first = self.nodes[failed[0]].error or {}
        kind = FailureKind(first.get("kind", FailureKind.USER.value))
        failure = Failure(kind, "MapFailed", f"map {run.id!r}: {len(progress.failed)} of "
                          f"{progress.items} items failed, at most "
                          f"{progress.items - progress.required} may: " + "; ".join(lines)
                          + (f"; and {more} more" if more > 0 else ""))
        run.error = failure.to_json()
        self._node_failed(run, failure)

    def _cut_off(self, run: NodeRun) -> None:
        """Skip every node that waits, directly or not, for `run` (it will never have
        outputs)."""
        stack = list(run.dependents)
        run.dependents = []
        while stack:
            dep = self.nodes[stack.pop()]
            if dep.state == NodeState.PENDING:
                self._set(dep, NodeState.SKIPPED)
                stack.extend(dep.dependents)
                dep.dependents = []
                self._child_ended(dep)

    def _child_ended(self, run: NodeRun) -> None:
        """A node ended without outputs: its parent can no longer succeed (a failing
        sub-workflow knows already)."""
        if run.parent is None:
            self._root_left -= 1
            return
        parent = self.nodes[run.parent]
        if parent.state == NodeState.RUNNING and parent.map is None \
                and parent.id not in self._failing_scopes:
            self._set(parent, NodeState.FAILED)
            parent.error = {"kind": "DATA", "type": "SubNodeSkipped",
                            "message": f"sub-node {run.id!r} could not run"}
            self._cut_off(parent)
            self._child_ended(parent)

    def _stop(self, prefix: str = "") -> None:
        """FAIL_IMMEDIATELY: nothing new starts; what waits is skipped, what was released is
        given up, open sub-graphs are aborted. With `prefix`, only in that sub-workflow.
        Failure handlers below `prefix` and failing sub-workflows (which end themselves, after
        their handlers) are left to run."""
        self._window.finish()
        if not prefix:
            self._stopped = True
        for run in list(self.nodes.values()):
            if prefix and not run.id.startswith(prefix):
                continue
            if FAILURE_HANDLER_ID in run.id[len(prefix):].split("/") \
                    or run.id in self._failing_scopes:
                continue
            self._halt(run)

    def _halt(self, run: NodeRun) -> None:
        """Stop a node that has not ended: waiting, it is skipped; released, cancelled (its
        attempt is given up); open (a sub-graph, a map), aborted."""
        if run.state == NodeState.PENDING:
            self._set(run, NodeState.SKIPPED)
        elif run.state == NodeState.QUEUED:
            self._set(run, NodeState.CANCELLED)
        elif run.state == NodeState.RUNNING:
            self._set(run, NodeState.ABORTED)

    def _maybe_end(self) -> None:
        """A failing execution ends once nothing can run: after its failure handler, if it
        has one and it has not run yet."""
        if not self._failing or self.done or self.active:
            return
        handler = self.spec.on_failure
        if handler is not None and FAILURE_HANDLER_ID not in self.nodes:
            self._run_handler(handler, "", self.failed[0], self.inputs, None)
            if self.active:
                return
        self.state = ExecutionState.FAILED

    def _run_handler(self, handler: NodeSpec, prefix: str, failed: str,
                     inputs: dict[str, Binding], parent: str | None) -> None:
        """Run a workflow's failure handler, `prefix + "on-failure"`, with the workflow's
        `inputs` and `err` naming the node `failed`; it runs even after a stop."""
        first = self.nodes[failed]
        err = {"message": (first.error or {}).get("message", ""), "failed_node_id": first.id}
        scope: dict[str, Binding] = {**inputs, "err": {"val": {"v": err}}}
        run = NodeRun(prefix + FAILURE_HANDLER_ID, handler, parent,
                      {k: bindings.rebase(b, prefix, scope) for k, b in handler.inputs.items()})
        self._add(run)
        self._release(run)

    def _finish_root(self) -> None:
        if self.state == ExecutionState.RUNNING and not self._failing:
            self.outputs = self.resolve_outputs(self._root_out)
            self.state = ExecutionState.SUCCEEDED
        else:
            self._maybe_end()

    def _drain(self) -> list[str]:
        """The nodes released since the last call that are still to run (a failure may have
        given some up since, such as those of a graph inserted whole at that failure)."""
        self._settle()
        released, self._released = self._released, []
        return [nid for nid in released if self.nodes[nid].state == NodeState.QUEUED]


def _item_binding(binding: Binding, index: int, mapped: bool, source: str) -> Binding:
    """What a map item binds to: item `index` of a mapped list input, or the bound input."""
    if not mapped:
        return binding
    if "list" in binding:
        return binding["list"][index]
    return {"path": {"of": binding, "steps": [["index", index]], "from": source}}
