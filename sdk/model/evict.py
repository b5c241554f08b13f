"""Memory eviction: which nodes of an execution may leave memory, and where their outputs
are read back from (`Evictor`).

A node that succeeded and that no node held still reads is *settled*: its driver keeps its
outputs (the scheduler in its node rows), so `evict` may drop it, and `spill` reads its
outputs back when a graph's or a map's outputs are resolved (`sdk.model.resolve`). Each node
counts the inserted, not yet ended nodes whose inputs read it (`NodeRun.readers`); a node read
by one held stays. Failed nodes stay held (failure messages and handlers read them), and so
do failure handlers (whether one ran is read from memory).
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any, TypeAlias

from sdk.model.bindings import Binding
from sdk.model.runs import NodeRun, is_handler, reads
from sdk.model.states import NodeState

# Where the outputs of nodes dropped from memory are read back: {node id: outputs} for the
# ids asked for that it has.
Spill: TypeAlias = Callable[[list[str]], dict[str, dict[str, Binding]]]


class Evictor:
    """The settled nodes of `nodes` (an engine's, shared) and those dropped, whose outputs
    `spill` reads back (`fetch`). Without `spill` nothing is dropped."""

    def __init__(self, nodes: dict[str, NodeRun], spill: Spill | None) -> None:
        self.nodes = nodes
        self.spill = spill
        self.evicted = 0  # nodes dropped from memory
        self.settled: list[str] = []  # succeeded nodes no node reads any more

    def __getstate__(self) -> dict[str, Any]:
        """A copy (an engine's snapshot) leaves `spill`, the driver's, out: the driver gives
        it back (`Engine.reattach`)."""
        return {**self.__dict__, "spill": None}

    def count_reads(self, run: NodeRun) -> None:
        """`run` is in: count it among the readers of the nodes its inputs read (a source not
        held succeeded and was evicted)."""
        for src in reads(run):
            src_run = self.nodes.get(src)
            if src_run is not None:
                src_run.readers += 1
        run.counted = True

    def settle(self, run: NodeRun) -> None:
        """`run` succeeded and no node reads it: it may leave memory at the next `evict`."""
        self.settled.append(run.id)

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

    def fetch(self, ids: list[str]) -> dict[str, dict[str, Binding]]:
        """The outputs `spill` has of `ids` (none asked for while nothing was dropped)."""
        return self.spill(ids) if ids and self.spill is not None and self.evicted else {}
