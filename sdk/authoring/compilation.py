"""`FlyteContextManager.current_context().compilation_state`: the workflow or dynamic body
being compiled, as flytekit's `CompilationState`. Its `nodes` are the calls made so far, in
order, each a `Node` that `>>` orders (a decorator wrapping a workflow body uses them to run a
setup node first and a teardown node last)."""

from __future__ import annotations

from typing import Any

from sdk.authoring.compiler import GraphBuilder, current_builder
from sdk.authoring.node import Node
from sdk.authoring.promise import Promise
from sdk.values.flyte_context import provide


class CompilationState:
    """A view of the body being compiled; `nodes` is read afresh on every access."""

    mode = 1  # flytekit's: compiling a workflow

    def __init__(self, builder: GraphBuilder):
        self._builder = builder

    @property
    def prefix(self) -> str:
        return self._builder.name

    @property
    def nodes(self) -> list[Node]:
        """The nodes the body has made so far, in the order of its calls."""
        builder = self._builder
        return [Node(spec.id, builder, {
            name: Promise({"ref": [spec.id, name]}, desc,
                          f"{spec.task.name}.{name} (node {spec.id!r})", builder, spec.id)
            for name, desc in spec.outputs_types.items()}) for spec in builder.nodes]

    def __repr__(self) -> str:
        return f"CompilationState({self.prefix!r}, {len(self._builder.nodes)} node(s))"


def current_state() -> Any:
    builder = current_builder()
    return CompilationState(builder) if builder is not None else None


provide("compilation_state", current_state)
