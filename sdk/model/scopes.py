"""The scopes a node's end is reported to: the execution itself (`Root`, for the top graph's
nodes) and the nodes that open a sub-graph: a dynamic (`Dynamic`), a conditional (`Branch`)
and a sub-workflow (`SubWorkflow`). A map is in `scope_map`.

A sub-graph's parent completes when all its children succeed, with outputs resolved from the
sub-graph's output bindings. A child that fails for good fails a dynamic or conditional with
it, while a sub-workflow applies its own failure policy to its other nodes and runs its own
failure handler (`<sub>/on-failure`) before it fails; the execution fails by the top graph's
policy once nothing runs, after its handler (`on-failure`).
"""

from __future__ import annotations

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.machine import Machine, Scope
from sdk.model.report import Failure, FailureKind, Outcome, Report
from sdk.model.runs import FAILURE_HANDLER_ID, GraphOutputs, NodeRun
from sdk.model.spec import FAIL_IMMEDIATELY, GraphSpec, NodeSpec
from sdk.model.states import ACTIVE_STATES, ExecutionState, NodeState
from sdk.model.typesys import is_assignable, type_name
from sdk.model.validate import validate


class Root:
    """The execution as the scope of the top graph's nodes: how many are still to succeed
    (`left`), the graph's outputs, and whether it fails once nothing else runs (`failing`)."""

    def __init__(self, machine: Machine) -> None:
        self.machine = machine
        self.left = 0
        self.out = GraphOutputs([], "", {})
        self.failing = False

    def open(self) -> None:
        """Insert the top graph (an empty one succeeds at once)."""
        m = self.machine
        self.left = len(m.spec.nodes)
        m.insert(m.spec, "", None, m.inputs)
        if self.left == 0:
            self.finish()

    def succeeded(self, child: NodeRun) -> None:
        self.left -= 1
        if self.left == 0:
            self.finish()
        else:
            self.maybe_end()

    def failed(self, child: NodeRun, leaf: str, kind: str) -> None:
        """The execution fails by its policy: now (FAIL_IMMEDIATELY stops what runs) or once
        nothing else runs."""
        m = self.machine
        if leaf not in m.failed:
            m.failed.append(leaf)
        m.cut_off(child)
        self.failing = True
        if m.spec.failure_policy == FAIL_IMMEDIATELY:
            m.stop()
        self.maybe_end()

    def skipped(self, child: NodeRun) -> None:
        self.left -= 1

    def finish(self) -> None:
        """Every top node is done: the execution succeeds with its outputs, unless failing."""
        m = self.machine
        if m.state == ExecutionState.RUNNING and not self.failing:
            if m.gather_graph(None, self.out):
                return  # the driver gathers a large output: the execution ends then
            m.outputs = m.resolve_outputs(self.out)
            m.state = ExecutionState.SUCCEEDED
        else:
            self.maybe_end()

    def maybe_end(self) -> None:
        """A failing execution ends once nothing can run: after its failure handler, if it
        has one and it has not run yet."""
        m = self.machine
        if not self.failing or m.done or m.active:
            return
        handler = m.spec.on_failure
        if handler is not None and FAILURE_HANDLER_ID not in m.nodes:
            run_handler(m, handler, "", m.failed[0], m.inputs, None)
            if m.active:
                return
        m.state = ExecutionState.FAILED


def run_handler(m: Machine, handler: NodeSpec, prefix: str, failed: str,
                inputs: dict[str, Binding], parent: str | None) -> None:
    """Run a workflow's failure handler, `prefix + "on-failure"`, with the workflow's `inputs`
    and `err` naming the node `failed`; it runs even after a stop."""
    first = m.nodes[failed]
    err = {"message": (first.error or {}).get("message", ""), "failed_node_id": first.id}
    scope: dict[str, Binding] = {**inputs, "err": {"val": {"v": err}}}
    run = NodeRun(prefix + FAILURE_HANDLER_ID, handler, parent,
                  {k: bindings.rebase(b, prefix, scope) for k, b in handler.inputs.items()})
    m.add(run)
    m.release(run)


class GraphScope(Scope):
    """A node whose children are a graph inserted under it: it succeeds when they all have,
    and fails when one fails for good or ends without outputs."""

    def _open_graph(self, run: NodeRun, graph: GraphSpec, prefix: str) -> None:
        """Insert `graph` under `prefix` as `run`'s children, its inputs bound to `run`'s
        (an empty graph completes `run` at once)."""
        m = self.machine
        m.set_state(run, NodeState.RUNNING)
        run.children_left = len(graph.nodes)
        scope = m.resolved_inputs(run.id)
        m.insert(graph, prefix, run.id, scope)
        if run.children_left == 0 and run.state == NodeState.RUNNING:
            assert run.out_bindings is not None
            m.succeed(run, m.resolve_outputs(run.out_bindings))

    def succeeded(self, parent: NodeRun, child: NodeRun) -> None:
        """The last child to succeed completes the parent, with its graph's outputs, or
        leaves a large one for the driver to gather (`Machine.gather_graph`)."""
        parent.children_left -= 1
        if parent.children_left == 0:
            assert parent.out_bindings is not None
            m = self.machine
            if not m.gather_graph(parent, parent.out_bindings):
                m.succeed(parent, m.resolve_outputs(parent.out_bindings))

    def failed(self, parent: NodeRun, child: NodeRun, leaf: str, kind: str) -> None:
        """The parent fails with its child, and its failure goes up in turn."""
        m = self.machine
        m.set_state(parent, NodeState.FAILED)
        parent.error = {"kind": kind, "type": "SubNodeFailed",
                        "message": f"sub-node {leaf!r} failed"}
        m.cut_off(child)
        m.propagate(parent, leaf, kind)

    def skipped(self, parent: NodeRun, child: NodeRun) -> None:
        """The parent can no longer succeed: it fails, and ends without outputs in turn."""
        m = self.machine
        m.set_state(parent, NodeState.FAILED)
        parent.error = {"kind": "DATA", "type": "SubNodeSkipped",
                        "message": f"sub-node {child.id!r} could not run"}
        m.cut_off(parent)
        m.child_ended(parent)


class Dynamic(GraphScope):
    """A dynamic: its task runs and reports the sub-graph it generated, grafted under it."""

    kind = "dynamic"
    opened_by = Outcome.SUBGRAPH

    def open(self, run: NodeRun, report: Report | None) -> None:
        """Merge a dynamic node's generated sub-graph under its id (SpecError, leaving the
        engine unchanged, when the sub-graph is invalid)."""
        assert report is not None and report.subgraph is not None
        node_id, subgraph = run.id, report.subgraph
        if run.spec.kind != "dynamic":
            raise SpecError(f"node {node_id!r} is a {run.spec.kind}, not a dynamic: it cannot "
                            "report a sub-graph")
        where = f"sub-graph of dynamic node {node_id!r}"
        if not (self.machine.replaying and report.extra.get("valid")):
            validate(subgraph, where)  # a replayed event says whether it passed already
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
        self._open_graph(run, subgraph, run.id + "/")


class Branch(GraphScope):
    """A conditional: its driver reports the case that holds, whose graph opens under
    `<branch>/<case>/`."""

    kind = "branch"
    opened_by = Outcome.BRANCHED

    def open(self, run: NodeRun, report: Report | None) -> None:
        """Open the case of a conditional that holds; show the other cases' nodes SKIPPED."""
        assert report is not None
        branch = run.spec.branch
        if run.spec.kind != "branch" or branch is None or report.case is None \
                or not 0 <= report.case < len(branch.cases):
            raise SpecError(f"node {run.id!r} cannot take case {report.case!r}")
        run.record(report)
        m = self.machine
        chosen = branch.cases[report.case]
        for case in branch.cases:
            if case is not chosen and case.graph is not None:
                for node in case.graph.nodes:
                    m.add(NodeRun(f"{run.id}/{case.label}/{node.id}", node, run.id, {},
                                  state=NodeState.SKIPPED))
        if chosen.fail is not None:
            m.fail(run, Failure(FailureKind.USER, "ConditionalFailed",
                                f"conditional {branch.name!r}: {chosen.fail}"), None)
            return
        assert chosen.graph is not None
        self._open_graph(run, chosen.graph, f"{run.id}/{chosen.label}/")


class SubWorkflow(GraphScope):
    """A sub-workflow: opened when released. A failed child makes it *failing*: by its own
    policy its other nodes stop (FAIL_IMMEDIATELY) or run on, those that do not depend on the
    failure (FAIL_AFTER_EXECUTABLE_NODES_COMPLETE). Each failing sub-workflow counts its active
    nodes (`failing`); once none is, its handler runs, then it fails. The engine reports each
    change of a count (`count`) while one is failing, and closes those at 0 (`settle`)."""

    kind = "workflow"
    opened_by = None

    def __init__(self, machine: Machine) -> None:
        super().__init__(machine)
        self.failing: dict[str, int] = {}  # failing sub-workflow: nodes under it still active
        self._closing: list[str] = []  # failing sub-workflows whose count may be 0

    def open(self, run: NodeRun, report: Report | None) -> None:
        assert run.spec.subgraph is not None
        self._open_graph(run, run.spec.subgraph, run.id + "/")

    def failed(self, parent: NodeRun, child: NodeRun, leaf: str, kind: str) -> None:
        self._start_failing(parent, leaf, kind)
        self.machine.cut_off(child)

    def skipped(self, parent: NodeRun, child: NodeRun) -> None:
        """A failing sub-workflow knows already that it cannot succeed."""
        if parent.id not in self.failing:
            super().skipped(parent, child)

    def count(self, run: NodeRun, delta: int) -> None:
        """Add `delta` to the active count of every failing sub-workflow above `run` (called
        only while some sub-workflow is failing, so the common path pays nothing)."""
        nodes = self.machine.nodes
        parent = run.parent
        while parent is not None:
            left = self.failing.get(parent)
            if left is not None:
                self.failing[parent] = left + delta
                if left + delta == 0:
                    self._closing.append(parent)
            parent = nodes[parent].parent

    def settle(self) -> None:
        """Close the failing sub-workflows in which nothing runs any more."""
        while self._closing:
            scope_id = self._closing.pop()
            if self.failing.get(scope_id) == 0:
                self._close(self.machine.nodes[scope_id])

    def clear(self) -> None:
        """Forget every failing sub-workflow (the execution was cancelled)."""
        self.failing.clear()
        self._closing.clear()

    def _start_failing(self, scope: NodeRun, leaf: str, kind: str) -> None:
        """A node of sub-workflow `scope` failed: under FAIL_IMMEDIATELY its other nodes stop;
        under FAIL_AFTER_EXECUTABLE_NODES_COMPLETE those that do not depend on the failure run
        on. Once nothing in it runs, its handler runs, then it fails (`_close`)."""
        m = self.machine
        if scope.id not in self.failing:
            prefix = scope.id + "/"
            scope.first_failed = leaf
            scope.error = {"kind": kind, "type": "SubNodeFailed",
                           "message": f"sub-node {leaf!r} failed"}
            self.failing[scope.id] = sum(
                1 for nid, n in m.nodes.items()
                if n.state in ACTIVE_STATES and nid.startswith(prefix))
        sub = scope.spec.subgraph
        if sub is None or sub.failure_policy == FAIL_IMMEDIATELY:
            m.stop(scope.id + "/")
        self._closing.append(scope.id)

    def _close(self, scope: NodeRun) -> None:
        """Nothing runs in failing sub-workflow `scope` any more: run its handler if it has
        one and it has not run; once that is done too, the sub-workflow fails."""
        m = self.machine
        sub = scope.spec.subgraph
        handler_id = f"{scope.id}/{FAILURE_HANDLER_ID}"
        if sub is not None and sub.on_failure is not None and handler_id not in m.nodes:
            assert scope.first_failed is not None
            run_handler(m, sub.on_failure, scope.id + "/", scope.first_failed,
                        m.resolved_inputs(scope.id), scope.id)
            if self.failing[scope.id]:
                return
        del self.failing[scope.id]
        m.set_state(scope, NodeState.FAILED)
        error = scope.error or {}
        m.propagate(scope, scope.first_failed or scope.id,
                    error.get("kind", FailureKind.USER.value))
