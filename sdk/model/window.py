"""How graphs go into an execution: whole, or a slice at a time within a window (`Window`).

With `graft_slice`, a graph of more nodes than that (a large sub-graph, mostly) is inserted
`graft_slice` nodes at a time: the first slice when it opens, each next one when the driver
asks (`Engine.graft_more`), so no single call costs in proportion to the whole graph. Its
nodes not yet inserted cannot have run, so nothing but time tells the difference; whatever
must see every node (a failure going up, a stop) first inserts the rest (`finish`), and a
cancel drops it (`clear`). With `window` too, a next slice goes in only while fewer than
`window` nodes are active, or none is queued, so that what waits on the rest is never stuck.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.evict import Evictor
from sdk.model.runs import GraphOutputs, NodeRun, reads
from sdk.model.spec import GraphSpec, NodeSpec
from sdk.model.states import NodeState


@dataclass(eq=False, slots=True)
class Graft:
    """A graph being inserted a slice at a time: its nodes from `next` on are not in yet."""

    graph: GraphSpec
    prefix: str
    parent: str | None
    scope: dict[str, Binding]
    next: int = 0


class Window:
    """Inserts graphs into the engine's `nodes` through its `add`, wiring each node to those
    it waits for and handing those that wait for none to `release`. A graph's output bindings
    go to `outputs_in` (with its parent's id, None for the top graph) once it is in whole.
    `evictor` counts the new nodes' reads and knows the nodes dropped from memory."""

    def __init__(self, nodes: dict[str, NodeRun], evictor: Evictor,
                 add: Callable[[NodeRun], None], release: Callable[[NodeRun], None],
                 outputs_in: Callable[[str | None, GraphOutputs], None],
                 graft_slice: int | None, window: int | None) -> None:
        self.nodes = nodes
        self._evictor = evictor
        self._add = add
        self._release = release
        self._outputs_in = outputs_in
        self.graft_slice = graft_slice
        self.window = window
        self.grafts: list[Graft] = []  # graphs partly inserted, oldest first

    def can_graft(self, active: int, queued: int) -> bool:
        """Whether `more` would insert a slice now, with `active` nodes active and `queued`
        queued: a graph is partly inserted, and fewer than `window` nodes are active or none
        is queued (what is active then waits for nodes still to be inserted, or for graphs
        opened under them)."""
        return bool(self.grafts) and (self.window is None or active < self.window
                                      or not queued)

    @property
    def left(self) -> int:
        """How many nodes of graphs partly inserted are still to go in."""
        return sum(len(g.graph.nodes) - g.next for g in self.grafts)

    def insert(self, graph: GraphSpec, prefix: str, parent: str | None,
               scope: dict[str, Binding]) -> None:
        """Add `graph`'s nodes under `prefix` (a slice of them now, the rest later, when it
        has more than `graft_slice`), wire each to the nodes it waits for, and release those
        that wait for none."""
        graft = Graft(graph, prefix, parent, scope)
        if self.graft_slice is not None and len(graph.nodes) > self.graft_slice:
            self.grafts.append(graft)
            self._insert_slice(graft, self.graft_slice)
        else:
            self._insert_slice(graft, len(graph.nodes))

    def more(self) -> None:
        """Insert the next slice of the oldest partly inserted graph."""
        self._insert_slice(self.grafts[0], self.graft_slice or 0)

    def reach(self, node_id: str) -> bool:
        """Insert the next slices of the partly inserted graph `node_id` falls under until it
        is in (a replay: the run that took its report had inserted it by then); whether any
        slice went in."""
        reached = False
        while node_id not in self.nodes:
            under = [g for g in self.grafts if node_id.startswith(g.prefix)]
            if not under:
                break
            self._insert_slice(max(under, key=lambda g: len(g.prefix)), self.graft_slice or 0)
            reached = True
        return reached

    def finish(self) -> None:
        """Insert every node still waiting to be (before anything that must see them all)."""
        while self.grafts:
            graft = self.grafts[0]
            self._insert_slice(graft, len(graft.graph.nodes) - graft.next)

    def clear(self) -> None:
        """Give up the nodes not yet inserted: they never will be (a cancel)."""
        self.grafts.clear()

    def _insert_slice(self, graft: Graft, count: int) -> None:
        """Insert the next `count` nodes of `graft` (all that are left, if one of them waits
        for a node further on). With the last slice its output bindings are recorded on its
        parent (or the root) before its ready nodes are released: a released sub-workflow may
        finish at once and complete that parent before this call returns."""
        graph, prefix, scope = graft.graph, graft.prefix, graft.scope
        nodes = graph.nodes[graft.next:graft.next + max(1, count)]
        graft.next += len(nodes)
        new = [self._new_run(node, graft) for node in nodes]
        sources = [_sources(run, prefix) for run in new]
        if graft.next < len(graph.nodes) and self._waits_for_later(sources):
            rest = [self._new_run(node, graft) for node in graph.nodes[graft.next:]]
            graft.next = len(graph.nodes)
            new += rest
            sources += [_sources(run, prefix) for run in rest]
        for run, srcs in zip(new, sources):
            for src in srcs:
                src_run = self.nodes.get(src)
                if src_run is not None and src_run.state != NodeState.SUCCEEDED:
                    src_run.dependents.append(run.id)
                    run.waiting += 1
            self._evictor.count_reads(run)
        if graft.next >= len(graph.nodes):
            if graft in self.grafts:
                self.grafts.remove(graft)
            self._outputs_in(graft.parent, GraphOutputs(graph.outputs, prefix, scope))
        for run in new:
            if run.waiting == 0 and run.state == NodeState.PENDING:
                self._release(run)

    def _waits_for_later(self, sources: list[set[str]]) -> bool:
        """Whether a node of a slice waits for one not inserted yet: a source not held that
        `spill` does not know (it would know one that succeeded and was dropped)."""
        missing = {src for srcs in sources for src in srcs if src not in self.nodes}
        if not missing or not self._evictor.evicted:
            return bool(missing)
        return not missing.issubset(self._evictor.fetch(sorted(missing)))

    def _new_run(self, node: NodeSpec, graft: Graft) -> NodeRun:
        run = NodeRun(graft.prefix + node.id, node, graft.parent,
                      {k: bindings.rebase(b, graft.prefix, graft.scope)
                       for k, b in node.inputs.items()})
        self._add(run)
        return run


def _sources(run: NodeRun, prefix: str) -> set[str]:
    """The ids of the nodes `run` waits for: those its inputs read, and those it runs after."""
    sources = reads(run)
    sources.update(prefix + before for before in run.spec.after)
    return sources
