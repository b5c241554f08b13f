"""Memory eviction: which nodes of an execution may leave memory, and reading their outputs
back (`Evictor`).

A node that succeeded and that no node held still reads is *settled*: its driver keeps its
outputs (the scheduler in its node rows), so `evict` may drop it, and `spill` reads its outputs
back when a graph's or a map's outputs are resolved. Each node counts the inserted, not yet
ended nodes whose inputs read it (`NodeRun.readers`); a node read by one held stays. Failed
nodes stay held (failure messages and handlers read them), and so do failure handlers
(whether one ran is read from memory).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable
from typing import TypeAlias

from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.runs import NodeRun, is_handler, reads
from sdk.model.states import NodeState

# Where the outputs of nodes dropped from memory are read back: {node id: outputs} for the
# ids asked for that it has.
Spill: TypeAlias = Callable[[list[str]], dict[str, dict[str, Binding]]]


class Evictor:
    """The settled nodes of `nodes` (an engine's, shared) and those dropped, read back through
    `spill`. Without `spill` nothing is dropped. Outputs read back for one pass of resolution
    are in `fetched`, which the pass clears when done."""

    def __init__(self, nodes: dict[str, NodeRun], spill: Spill | None) -> None:
        self.nodes = nodes
        self.spill = spill
        self.evicted = 0  # nodes dropped from memory
        self.settled: list[str] = []  # succeeded nodes no node reads any more
        self.fetched: dict[str, dict[str, Binding]] = {}  # outputs read back for one pass

    def count_reads(self, run: NodeRun) -> None:
        """`run` is in: count it among the readers of the nodes its inputs read (a source not
        held succeeded and was evicted)."""
        for src in reads(run):
            src_run = self.nodes.get(src)
            if src_run is not None:
                src_run.readers += 1
        run.counted = True

    def read_done(self, run: NodeRun) -> None:
        """`run` ended: it no longer reads its sources (which may be evictable now)."""
        run.counted = False
        for src in reads(run):
            src_run = self.nodes.get(src)
            if src_run is not None and src_run.readers:
                src_run.readers -= 1
                if not src_run.readers and src_run.state == NodeState.SUCCEEDED:
                    self.settled.append(src)

    def evict(self, hold: Container[str], changed: Container[str]) -> list[str]:
        """Drop from memory the settled nodes, except those in `hold` or `changed` (kept for
        a later call) and failure handlers; return their ids."""
        if self.spill is None or not self.settled:
            return []
        dropped, kept = [], []
        for nid in self.settled:
            run = self.nodes.get(nid)
            if run is None or run.state != NodeState.SUCCEEDED or run.readers \
                    or is_handler(nid):
                continue
            if nid in hold or nid in changed:
                kept.append(nid)
                continue
            del self.nodes[nid]
            dropped.append(nid)
        self.settled = kept
        self.evicted += len(dropped)
        return dropped

    def outputs_of(self, node_id: str) -> dict[str, Binding] | None:
        """A node's outputs, read back through `spill` if it was dropped from memory."""
        run = self.nodes.get(node_id)
        if run is not None:
            return run.outputs
        outputs = self.fetched.get(node_id)
        if outputs is None:
            outputs = self.fetch([node_id]).get(node_id)
        if outputs is None:
            raise SpecError(f"node {node_id!r} is read but is not in the execution")
        return outputs

    def fetch(self, ids: list[str]) -> dict[str, dict[str, Binding]]:
        """The outputs `spill` has of `ids` (none asked for while nothing was dropped)."""
        return self.spill(ids) if ids and self.spill is not None and self.evicted else {}

    def prefetch(self, ids: Iterable[str]) -> None:
        """Read back in one call the outputs of those of `ids` dropped from memory, for the
        pass about to resolve them (which clears `fetched` when done)."""
        if self.evicted:
            self.fetched = self.fetch([nid for nid in ids if nid not in self.nodes])

    def read(self, ids: list[str]) -> list[dict[str, Binding] | None]:
        """The outputs of the nodes `ids`, those dropped read back in one call."""
        self.prefetch(ids)
        try:
            return [self.outputs_of(nid) for nid in ids]
        finally:
            self.fetched = {}
