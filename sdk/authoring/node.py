"""`create_node`: call a task in a workflow and get the node itself, to order it with `>>` or
read its outputs by name."""

from __future__ import annotations

from typing import Any

from sdk.authoring.compiler import current_builder
from sdk.authoring.promise import Orderable, Promise, Void
from sdk.model.errors import CompileError


class Node(Orderable):
    """A node of the workflow being compiled: `.outputs` maps output names to Promises (also
    read as attributes, `node.o0`), and `a >> b` orders it."""

    __slots__ = ("_node", "_owner", "id", "outputs")

    def __init__(self, node_id: str, owner: Any, outputs: dict[str, Promise]):
        self.id = node_id
        self._node = node_id
        self._owner = owner
        self.outputs = outputs

    def __repr__(self) -> str:
        return f"Node({self.id!r})"

    def __getattr__(self, name: str) -> Promise:
        """An output by name, as flytekit's `node.o0`."""
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.outputs[name]
        except KeyError:
            raise AttributeError(f"node {self.id!r} has no output {name!r} (outputs: "
                                 f"{', '.join(self.outputs) or 'none'})") from None


def node_of(result: Any, what: str) -> Node:
    """The Node behind what a call in a body returned."""
    if isinstance(result, Void):
        return Node(result._node or "", result._owner, {})
    promises = [result] if isinstance(result, Promise) else list(result) \
        if isinstance(result, tuple) else []
    if not promises or not all(isinstance(p, Promise) and p._node for p in promises):
        raise CompileError(f"{what} did not make a node")
    first = promises[0]
    names = list(result._fields) if hasattr(result, "_fields") else \
        [str(p._binding["ref"][1]) for p in promises]
    return Node(first._node or "", first._owner, dict(zip(names, promises)))


def create_node(entity: Any, *args: Any, **kwargs: Any) -> Node:
    """Call `entity` (a task, workflow, launch plan or map task) in the workflow being
    compiled; return its Node."""
    if current_builder() is None:
        raise CompileError(f"create_node({getattr(entity, 'name', entity)!r}) is used inside a "
                           f"@workflow or @dynamic body")
    return node_of(entity(*args, **kwargs), f"create_node({getattr(entity, 'name', entity)})")
