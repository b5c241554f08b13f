"""The pure graph engine: the state machine that moves an execution's nodes (readiness,
success, failure going up, stops), driving the modules beside it: node states (`states`),
node records (`runs`), retries (`retry`), sliced grafting (`window`), memory eviction
(`evict`), binding resolution (`resolve`), large outputs left to the driver to gather
(`gather`) and the scopes a node's end is reported to, one per
kind of parent (`scopes`, `scope_map`, which drive the engine through `machine.Machine`).

It does no I/O and imports neither Celery nor SQLAlchemy. The local runner and the scheduler
both drive it: they run what it releases and hand every outcome back as a `Report` to
`apply`. A released map or conditional node is expanded by its driver, which reads the
inputs (I/O) and reports how many items the map has or which case holds. Every call costs in
proportion to the nodes it touches, never to the size of the graph (ending an execution aside),
and a report for a node that is not waiting for that attempt is ignored (returns None), so
duplicate and late reports change nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Container, Iterable
from typing import Any

from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.evict import Evictor, Spill
from sdk.model.gather import ROOT, Gather, Gathers, ItemsOf, decided
from sdk.model.machine import Scope
from sdk.model.report import Failure, Outcome, Report, data_failure
from sdk.model.resolve import Resolver
from sdk.model.retry import RetryPolicy
from sdk.model.runs import FAILURE_HANDLER_ID, GraphOutputs, NodeRun, is_handler
from sdk.model.scope_map import Map
from sdk.model.scopes import Branch, Dynamic, Root, SubWorkflow
from sdk.model.spec import GraphSpec
from sdk.model.states import ACTIVE_STATES, RELEASED_STATES, ExecutionState, NodeState
from sdk.model.window import Window

# Reports a replay applies between two evictions of the nodes that settled meanwhile.
REPLAY_EVICT_EVERY = 2_000


class Engine:
    """The state of one execution of `spec` with resolved `inputs` ({name: binding}).

    With `graft_slice`, a graph of more nodes than that goes in `graft_slice` nodes at a time,
    the next slice at each `graft_more` (while `grafting`); with `window` too, only while fewer
    than `window` nodes are active or none is queued (`sdk.model.window`). Without it, as by
    default, a graph goes in whole. A map creates its items as their turn comes, at most its
    concurrency and `window` of them not ended at once (`sdk.model.scope_map`). With `spill`,
    nodes that succeeded and that no node held still reads may be dropped from memory
    (`evict`), their driver keeping their outputs for `spill` to read back
    (`sdk.model.evict`). With `gather_above`, an output list of more items than that is left
    to the driver to gather into one stored value (`gathers`, `sdk.model.gather`).

    Drivers call `start` (or `replay`, on a fresh engine or one unpickled and `reattach`ed),
    `apply`, `graft_more`, `evict`, `cancel`, `time_out`,
    `drain_gathers` and the queries. The transitions below them (`succeed`, `fail`,
    `propagate`...) are what the scopes drive (`sdk.model.machine.Machine`), not for
    drivers."""

    def __init__(self, spec: GraphSpec, inputs: dict[str, Binding],
                 policy: RetryPolicy | None = None, *, graft_slice: int | None = None,
                 window: int | None = None, spill: Spill | None = None,
                 gather_above: int | None = None) -> None:
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
        self._started = False
        self.stopped = False  # a failure (FAIL_IMMEDIATELY) or a cancel stopped new work
        self._evictor = Evictor(self.nodes, spill)
        self._gathers = Gathers(gather_above)
        self.replaying = False  # in `replay`: sub-graphs recorded as valid are not validated
        self._validated = False  # a sub-graph was validated and opened since the last drain
        self._resolver = Resolver(self.nodes, self._evictor)
        self._window = Window(self.nodes, self._evictor, self.add, self.release,
                              self._outputs_in, graft_slice, window)
        self._root = Root(self)
        self._workflows = SubWorkflow(self)
        self._maps = Map(self, window)
        # The scope of each kind of node with children: a new kind is one more entry.
        self._scopes: dict[str, Scope] = {scope.kind: scope for scope in (
            Dynamic(self), Branch(self), self._workflows, self._maps)}
        self._opened_by = {scope.opened_by: scope for scope in self._scopes.values()
                           if scope.opened_by is not None}
        self._opened_when_released = {kind: scope for kind, scope in self._scopes.items()
                                      if scope.opened_by is None}

    # ---- driving ----------------------------------------------------------------------------

    def start(self) -> list[str]:
        """Insert the top-level graph; return the ids of the nodes ready to run."""
        if not self._started:
            self._started = True
            self._root.open()
        return self._drain()

    def replay(self, reports: Iterable[Report]) -> None:
        """Rebuild the state a run reached from the reports it took, in order: start (if not
        started yet), then apply each. A report naming a node not inserted yet (the run had
        inserted more slices of its graph by then) inserts the slices up to it first, and one
        naming a map's item not created yet (the run had a wider window) creates the items
        up to it: a replay holds what the run held, not whole graphs. With `spill`, the nodes
        that settle are dropped from memory every `REPLAY_EVICT_EVERY` reports (the driver
        has their outputs). A sub-graph whose event says it was valid (`drain_validated`) is
        not validated again. What the reports released is not returned: the driver reads the
        nodes QUEUED, and what changed (`drain_changes`) was recorded by the run."""
        self.replaying = True
        try:
            self.start()
            for count, report in enumerate(reports, 1):
                if self.apply(report) is None and self.reach(report.node):
                    self.apply(report)
                if count % REPLAY_EVICT_EVERY == 0:
                    self.changed.clear()
                    self._evictor.evict((), ())
        finally:
            self.replaying = False
            self._gathers.drain_started()  # recorded already, by the events replayed
            self._validated = False

    def reattach(self, spill: Spill | None, policy: RetryPolicy) -> None:
        """Give a copy of an engine (unpickled from a snapshot, scheduler/snapshots.py) the
        driver's parts a copy leaves out: where the outputs of evicted nodes are read back
        (`spill`), and the retry `policy`. What it noted as changed is forgotten: the run
        that changed it recorded it."""
        self._evictor.spill = spill
        self.policy = policy
        self.changed = set()

    def reach(self, node_id: str) -> bool:
        """Insert the slices of a partly inserted graph up to `node_id`, or create a map's
        items up to it, if it names a node not in yet; whether it did (`Window.reach`). As
        in `replay`, what that released is not returned: the run that inserted them first
        released them, and the driver reads the nodes QUEUED."""
        reached = self._maps.reach(node_id) or self._window.reach(node_id)
        self._drain()
        return reached

    def apply(self, report: Report) -> list[str] | None:
        """Take the outcome of one attempt; return the ids of the nodes it makes ready, or
        None when no node waits for that attempt (a duplicate or late report). A report that
        opens a node (a sub-graph, a map's items, a conditional's case) goes to the scope of
        that node's kind; when it cannot, the node fails as DATA. A report that completes a
        graph or map with a large output list may begin a gather (`gathers`); a GATHERED
        report ends one."""
        recorded = report.extra.get("gathers") if report.extra else None
        if recorded is not None:  # what a replayed event says it began, not for the history
            report = dataclasses.replace(report, extra={
                k: v for k, v in report.extra.items() if k != "gathers"})
        self._validated = False
        gathers = self._gathers
        gathers.open = True
        gathers.decided = decided(recorded) if self.replaying else None
        try:
            outcome = report.outcome
            if outcome == Outcome.GATHERED:
                return self._gathered(report)
            run = self._waiting(report.node, report.attempt)
            if run is None:
                return None
            if outcome in (Outcome.VALUES, Outcome.CACHED):
                self._complete(run, report)
            elif outcome not in self._opened_by:
                assert report.error is not None
                self.fail(run, report.error, report)
            else:
                try:
                    self._opened_by[outcome].open(run, report)
                    self._validated = outcome == Outcome.SUBGRAPH
                except SpecError as exc:
                    self.fail(run, data_failure("SpecError", str(exc)), report)
            return self._drain()
        finally:
            gathers.open, gathers.decided = False, None

    def graft_more(self) -> list[str]:
        """Insert the next slice of the oldest partly inserted graph; return the ids of the
        nodes that makes ready (none while `window` nodes or more are active)."""
        if self.can_graft:
            self._window.more()
        return self._drain()

    def evict(self, hold: Container[str] = ()) -> list[str]:
        """Drop from memory the nodes that succeeded and that no node held still reads,
        except those in `hold` or changed since `drain_changes` (kept for a later call); return
        their ids. Nothing is dropped without `spill`, nor failure handlers (whether one ran is
        read from memory)."""
        return self._evictor.evict(hold, self.changed)

    def drain_gathers(self) -> dict[str, list[str]]:
        """The gathers begun since the last call, `{node id: output names}` (`ROOT` for the
        execution's own): what the event of the report that began them records, so that a
        replay takes the same decisions."""
        return self._gathers.drain_started()

    def drain_validated(self) -> bool:
        """Whether the last report applied opened a dynamic's sub-graph, which passed its
        validation: what its event records (`valid`), so that a replay need not validate it
        again. Reset by the call."""
        validated, self._validated = self._validated, False
        return validated

    def drain_changes(self) -> set[str]:
        """The ids of nodes changed since the last call."""
        changed, self.changed = self.changed, set()
        return changed

    def cancel(self) -> bool:
        """Abort the execution: nothing new starts, what waits is skipped, what was released
        is cancelled, open sub-graphs and maps are aborted, and no failure handler runs. The
        nodes of graphs partly inserted that are not in yet never will be, nor the items of
        maps not created yet: a cancel costs what the execution holds, not its whole graph.
        False when the execution had ended already (nothing changes)."""
        return self._abort("the execution was cancelled")

    def _abort(self, why: str) -> bool:
        if self.done:
            return False
        self._window.clear()
        self._workflows.clear()
        self._gathers.clear()
        self.stopped = True
        for run in list(self.nodes.values()):
            self._halt(run, why)
        self._released.clear()
        self.state = ExecutionState.ABORTED
        return True

    def time_out(self) -> bool:
        """End the execution FAILED for running past its workflow timeout: what runs is
        stopped as by `cancel`, and `error` says why (a WorkflowTimeout, no failure handler
        runs). False when the execution had ended already."""
        if self.spec.timeout_s is None \
                or not self._abort("the workflow ran past its timeout"):
            return False
        self.state = ExecutionState.FAILED
        self.error = {"type": "WorkflowTimeout", "kind": "USER",
                      "message": f"workflow {self.spec.name!r} ran past its timeout of "
                                 f"{self.spec.timeout_s:g} s"}
        return True

    # ---- queries ----------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.state in (ExecutionState.SUCCEEDED, ExecutionState.FAILED,
                              ExecutionState.ABORTED)

    @property
    def grafting(self) -> bool:
        """Whether a graph is partly inserted (`graft_more` inserts its next slice)."""
        return bool(self._window.grafts)

    @property
    def can_graft(self) -> bool:
        """Whether `graft_more` would insert a slice now (`Window.can_graft`)."""
        return self._window.can_graft(self.active, self.queued)

    @property
    def evicted(self) -> int:
        """How many nodes were dropped from memory (`evict`)."""
        return self._evictor.evicted

    @property
    def total(self) -> int:
        """How many nodes this execution has inserted, those dropped from memory included,
        and the items of open maps still to be created."""
        return len(self.nodes) + self.evicted + self._maps.uncreated

    @property
    def size(self) -> int:
        """How many nodes this execution holds in memory: those inserted, and those of graphs
        partly inserted that are still to go in."""
        return len(self.nodes) + self._window.left

    def is_waiting(self, node_id: str, attempt: int) -> bool:
        """Whether a report for this attempt of this node would be taken."""
        return self._waiting(node_id, attempt) is not None

    def resolve(self, binding: Binding) -> Binding:
        """Replace node references by the outputs they name (the nodes must have succeeded)."""
        return self._resolver.resolve(binding)

    def resolved_inputs(self, node_id: str) -> dict[str, Binding]:
        return self._resolver.resolved_inputs(self.nodes[node_id])

    def resolve_outputs(self, outs: GraphOutputs) -> dict[str, Binding]:
        """A completed graph's outputs: its output bindings rebased and resolved in one pass."""
        return self._resolver.resolve_outputs(outs)

    def read_outputs(self, ids: list[str]) -> list[dict[str, Binding] | None]:
        """The outputs of nodes `ids`, those dropped from memory read back in one call."""
        return self._resolver.read(ids)

    def resolve_items(self, items: list[Binding]) -> list[Binding]:
        """`items` resolved, the outputs they read that were dropped from memory read back in
        one call (a slice of a gather's `Gather.items`)."""
        return self._resolver.resolve_all(items)

    @property
    def gathers(self) -> list[Gather]:
        """The large outputs waiting for the driver to gather them (see `sdk.model.gather`):
        it reports each with `Report.gathered`."""
        return list(self._gathers.pending.values())

    # ---- transitions (what the scopes drive) ------------------------------------------------

    def add(self, run: NodeRun) -> None:
        """Hold a new node, counted among the active ones if it is."""
        self.nodes[run.id] = run
        self.changed.add(run.id)
        if run.state in ACTIVE_STATES:
            self.active += 1
            if self._workflows.failing:
                self._workflows.count(run, 1)

    def set_state(self, run: NodeRun, state: NodeState) -> None:
        """Move a node to `state`, keeping the counts of active nodes."""
        delta = (state in ACTIVE_STATES) - (run.state in ACTIVE_STATES)
        self.active += delta
        self.queued += (state == NodeState.QUEUED) - (run.state == NodeState.QUEUED)
        run.state = state
        self.changed.add(run.id)
        if delta and self._workflows.failing:
            self._workflows.count(run, delta)
        if delta < 0 and run.counted:
            self._evictor.read_done(run)

    def release(self, run: NodeRun) -> None:
        """Queue a node whose upstream nodes are done, for its driver to run (or expand); a
        gate WAITING, for its driver to hold until its signal or its time comes; a
        sub-workflow opens at once. After a stop only failure handlers are released."""
        if self.stopped and not is_handler(run.id):
            return
        kind = run.spec.kind
        if kind in self._opened_when_released:
            self._opened_when_released[kind].open(run, None)
        else:
            self.set_state(run, NodeState.WAITING if kind == "gate" else NodeState.QUEUED)
            self._released.append(run.id)

    def insert(self, graph: GraphSpec, prefix: str, parent: str | None,
               scope: dict[str, Binding]) -> None:
        """Add `graph`'s nodes under `prefix`, with `parent` (`Window.insert`)."""
        self._window.insert(graph, prefix, parent, scope)

    def gather(self, run: NodeRun | None, sizes: Callable[[], dict[str, int]], items: ItemsOf,
               rest: Callable[[set[str]], dict[str, Binding]] | None = None) -> bool:
        """Whether the outputs of `run` (None: the execution's), which just completed, are
        left to the driver to gather (`sdk.model.gather`): `sizes()` gives the item counts
        of its list outputs, `items(name)` an output's items, `rest(names)` its other outputs
        resolved."""
        node = ROOT if run is None else run.id
        large = self._gathers.names(node, sizes)
        if not large:
            return False
        ready = rest(set(large)) if rest is not None else {}
        self._gathers.begin(Gather(node, 0 if run is None else run.attempt, large, ready,
                                   items))
        return True

    def gather_graph(self, run: NodeRun | None, outs: GraphOutputs) -> bool:
        """`gather` for a completed graph's outputs `outs`."""
        return self.gather(run, outs.list_sizes, outs.items,
                           lambda names: self.resolve_outputs(outs.without(names)))

    def succeed(self, run: NodeRun, outputs: dict[str, Binding]) -> None:
        """`run` succeeded with `outputs`: release what waited only for it, and tell the scope
        of its parent (a failure handler's end, or one under a parent that ended, can only end
        a failing execution)."""
        self.set_state(run, NodeState.SUCCEEDED)
        run.outputs = outputs
        run.error = None
        if not run.readers:
            self._evictor.settle(run)
        for dep_id in run.dependents:
            dep = self.nodes[dep_id]
            dep.waiting -= 1
            if dep.waiting == 0 and dep.state == NodeState.PENDING:
                self.release(dep)
        run.dependents = []
        if run.id.rpartition("/")[2] == FAILURE_HANDLER_ID:  # a handler: not one of the children
            self._root.maybe_end()
            return
        if run.parent is None:
            self._root.succeeded(run)
            return
        parent = self.nodes[run.parent]
        if parent.state != NodeState.RUNNING:
            self._root.maybe_end()
            return
        self._scopes[parent.spec.kind].succeeded(parent, run)

    def fail(self, run: NodeRun, failure: Failure, report: Report | None) -> None:
        """Record a failed attempt. While the execution may go on and the failure's kind has
        attempts left (`RetryPolicy.another_try`), the node is released again with attempt + 1;
        otherwise it fails. A failure no attempt reported (`report` None: the engine's own
        finding, such as a conditional's failing case) is never retried."""
        self.changed.add(run.id)
        run.error = failure.to_json()
        if report is not None:
            run.record(report, failure)
            if self.policy.another_try(run, failure.kind) \
                    and (not self.stopped or is_handler(run.id)):
                run.attempt += 1
                self._released.append(run.id)
                return
        self.node_failed(run, failure)

    def node_failed(self, run: NodeRun, failure: Failure) -> None:
        """A node failed for good: the failure goes up its parents (`propagate`)."""
        self.set_state(run, NodeState.FAILED)
        self.propagate(run, run.id, failure.kind.value)

    def propagate(self, child: NodeRun, leaf: str, kind: str) -> None:
        """`child` failed for good, carrying the failure of node `leaf`: the scope of its
        running parent hears of it (at the top, the execution's). What waited for `child` is
        skipped, after its parent knows of the failure."""
        parent = self.nodes.get(child.parent) if child.parent is not None else None
        scope = self._scopes[parent.spec.kind] \
            if parent is not None and parent.state == NodeState.RUNNING else None
        if self._window.grafts and (scope is None or scope.cuts_off):
            self._window.finish()  # what waits for `child` must be in, to be skipped
        if parent is None:
            self._root.failed(child, leaf, kind)
        elif scope is None:
            self.cut_off(child)
            self._root.maybe_end()
        else:
            scope.failed(parent, child, leaf, kind)

    def cut_off(self, run: NodeRun) -> None:
        """Skip every node that waits, directly or not, for `run` (it will never have
        outputs)."""
        stack = list(run.dependents)
        run.dependents = []
        while stack:
            dep = self.nodes[stack.pop()]
            if dep.state == NodeState.PENDING:
                self.set_state(dep, NodeState.SKIPPED)
                stack.extend(dep.dependents)
                dep.dependents = []
                self.child_ended(dep)

    def child_ended(self, run: NodeRun) -> None:
        """A node ended without outputs: the scope of its parent, if still running, hears of
        it (the top graph counts it as done)."""
        if run.parent is None:
            self._root.skipped(run)
            return
        parent = self.nodes[run.parent]
        if parent.state == NodeState.RUNNING:
            self._scopes[parent.spec.kind].skipped(parent, run)

    def stop(self, prefix: str = "") -> None:
        """FAIL_IMMEDIATELY: nothing new starts; what waits is skipped, what was released is
        given up, open sub-graphs are aborted. With `prefix`, only in that sub-workflow.
        Failure handlers below `prefix` and failing sub-workflows (which end themselves, after
        their handlers) are left to run."""
        self._window.finish()
        if not prefix:
            self.stopped = True
        failing = self._workflows.failing
        for run in list(self.nodes.values()):
            if prefix and not run.id.startswith(prefix):
                continue
            if FAILURE_HANDLER_ID in run.id[len(prefix):].split("/") or run.id in failing:
                continue
            self._halt(run, "a node failed and its workflow fails at once "
                            "(FAIL_IMMEDIATELY)")

    # ---- within ----------------------------------------------------------------------------

    def _complete(self, run: NodeRun, report: Report) -> None:
        outputs = report.outputs or {}
        expected = set(run.spec.outputs_types)
        if set(outputs) != expected:
            self.fail(run, data_failure(
                "OutputMismatch", f"task {run.spec.task.name} reported outputs "
                f"{sorted(outputs)} but declares {sorted(expected)}"), report)
            return
        run.record(report)
        run.cached = report.outcome == Outcome.CACHED
        self.succeed(run, outputs)

    def _gathered(self, report: Report) -> list[str] | None:
        """A gather's outputs (`Report.gathered`): its node succeeds with them, or the
        execution, for `ROOT`. None when no gather waits for that node and attempt."""
        taken = self._gathers.take(report)
        if taken is None:
            return None
        outputs, failure = taken
        if report.node == ROOT:
            if self.state == ExecutionState.RUNNING:
                self.state = ExecutionState.FAILED if failure else ExecutionState.SUCCEEDED
                self.outputs, self.error = (None, failure.to_json()) if failure \
                    else (outputs, None)
            return self._drain()
        run = self.nodes.get(report.node)
        if run is None or run.state != NodeState.RUNNING:
            return None
        if failure is not None:
            run.error = failure.to_json()
            self.node_failed(run, failure)
        else:
            self.succeed(run, outputs)
        return self._drain()

    def _halt(self, run: NodeRun, why: str) -> None:
        """Stop a node that has not ended: waiting, it is skipped; released, cancelled (its
        attempt is given up, a gate no longer waits); open (a sub-graph, a map), aborted, its
        scope told `why` and its gather given up."""
        if run.state == NodeState.PENDING:
            self.set_state(run, NodeState.SKIPPED)
        elif run.state in RELEASED_STATES:
            self.set_state(run, NodeState.CANCELLED)
        elif run.state == NodeState.RUNNING:
            self.set_state(run, NodeState.ABORTED)
            scope = self._scopes.get(run.spec.kind)
            if scope is not None:
                scope.halted(run, why)
            self._gathers.pending.pop(run.id, None)

    def _outputs_in(self, parent: str | None, outputs: GraphOutputs) -> None:
        """A graph is in whole: its output bindings are recorded on its parent (or the
        execution's, for the top graph)."""
        if parent is None:
            self._root.out = outputs
        else:
            self.nodes[parent].out_bindings = outputs

    def _drain(self) -> list[str]:
        """The nodes released since the last call that are still to run (a failure may have
        given some up since, such as those of a graph inserted whole at that failure)."""
        self._workflows.settle()
        released, self._released = self._released, []
        return [nid for nid in released if self.nodes[nid].state in RELEASED_STATES]

    def _waiting(self, node_id: str, attempt: int) -> NodeRun | None:
        run = self.nodes.get(node_id)
        if run is None or run.state not in RELEASED_STATES or run.attempt != attempt:
            return None
        return run
