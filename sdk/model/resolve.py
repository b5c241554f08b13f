"""Binding resolution: node references replaced by the outputs they name (`Resolver`), read
from the nodes held or, for those dropped from memory, back through the evictor's `spill`, in
one call per pass (the inputs of a node, a graph's outputs, a map's items).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.evict import Evictor
from sdk.model.runs import GraphOutputs, NodeRun, reads


class Resolver:
    """Resolves bindings against the outputs of `nodes` (an engine's, shared) and of the nodes
    `evictor` dropped."""

    def __init__(self, nodes: dict[str, NodeRun], evictor: Evictor) -> None:
        self.nodes = nodes
        self._evictor = evictor
        self._fetched: dict[str, dict[str, Binding]] = {}  # outputs read back for one pass

    def resolve(self, binding: Binding) -> Binding:
        """Replace node references by the outputs they name (the nodes must have succeeded)."""
        return bindings.transform(binding, self._leaf)

    def resolved_inputs(self, run: NodeRun) -> dict[str, Binding]:
        """`run`'s inputs, resolved."""
        if self._evictor.evicted:
            self._prefetch(reads(run))
        try:
            return {name: self.resolve(b) for name, b in run.bindings.items()}
        finally:
            self._fetched = {}

    def resolve_outputs(self, outs: GraphOutputs) -> dict[str, Binding]:
        """A completed graph's outputs: its output bindings rebased and resolved in one pass."""
        prefix, scope = outs.prefix, outs.scope

        def leaf(kind: str, body: Any) -> Binding:
            if kind == "ref":
                return self._leaf("ref", (prefix + body[0], body[1]))
            if kind == "input":
                return self.resolve(scope[body])
            return {kind: body}

        bound = outs.bindings
        self._prefetch(prefix + src for b in bound.values() for src, _ in bindings.refs(b))
        try:
            return {k: bindings.transform(b, leaf) for k, b in bound.items()}
        finally:
            self._fetched = {}

    def resolve_all(self, items: list[Binding]) -> list[Binding]:
        """`items` resolved, those dropped read back in one call."""
        self._prefetch(src for b in items for src, _ in bindings.refs(b))
        try:
            return [self.resolve(b) for b in items]
        finally:
            self._fetched = {}

    def read(self, ids: list[str]) -> list[dict[str, Binding] | None]:
        """The outputs of the nodes `ids`, those dropped read back in one call."""
        self._prefetch(ids)
        try:
            return [self._outputs_of(nid) for nid in ids]
        finally:
            self._fetched = {}

    def _leaf(self, kind: str, body: Any) -> Binding:
        if kind != "ref":
            return {kind: body}
        src, out = body
        outputs = self._outputs_of(src)
        if outputs is None:
            raise SpecError(f"output {out!r} of node {src!r} is read before it exists")
        return outputs[out]

    def _outputs_of(self, node_id: str) -> dict[str, Binding] | None:
        """A node's outputs, read back through `spill` if it was dropped from memory."""
        run = self.nodes.get(node_id)
        if run is not None:
            return run.outputs
        outputs = self._fetched.get(node_id)
        if outputs is None:
            outputs = self._evictor.fetch([node_id]).get(node_id)
        if outputs is None:
            raise SpecError(f"node {node_id!r} is read but is not in the execution")
        return outputs

    def _prefetch(self, ids: Iterable[str]) -> None:
        """Read back in one call the outputs of those of `ids` dropped from memory, for the
        pass about to resolve them (which clears `_fetched` when done)."""
        if self._evictor.evicted:
            self._fetched = self._evictor.fetch([nid for nid in ids if nid not in self.nodes])
