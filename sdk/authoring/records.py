"""The nodes a body makes, kept compact: a dynamic that builds 1,000,000 nodes holds them all
on its worker until its sub-graph is written out.

A `NodeSpec` with its own binding dicts costs about 1.5 KB. Most nodes a body makes are plain
calls of a task: everything but their id and input bindings comes from the task, and is the
same for every call. `NodeRecords` keeps such a node as a record of three references: its id,
a prototype node shared by every call of the task (the template: kind, task reference,
interface, resources, cache settings...) and its input bindings as compact JSON bytes (bindings
are JSON by contract, so the text gives them back unchanged). Other nodes (sub-workflows,
maps, conditionals, gates, nodes with `after` or aliases) are kept as they are. Reading a node
builds its `NodeSpec` afresh; nodes are values, so callers see no difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, overload

from sdk.model.spec import NodeSpec, OutputSpec
from sdk.model.typesys import TypeDesc

_EMPTY: dict[str, Any] = {}


_encode = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps(.., separators=..)


def _node(fields: dict[str, Any]) -> NodeSpec:
    """The NodeSpec of `fields` (every field, valid: they come from a NodeSpec), built
    without `dataclasses.replace`, which took most of a large body's time."""
    node = object.__new__(NodeSpec)
    object.__setattr__(node, "__dict__", fields)
    return node


def _plain(node: NodeSpec) -> bool:
    return (node.subgraph is None and node.map is None and node.branch is None
            and node.gate is None and not node.after and not node.aliases)


class NodeRecords(Sequence[NodeSpec]):
    """A body's nodes in the order it made them, plain task calls kept as compact records:
    three parallel lists (ids; prototypes, None for a node kept whole; bindings' JSON, or
    the node kept whole), so that a record costs its three list slots, its id and its
    bindings' bytes."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._protos: list[NodeSpec | None] = []
        self._inputs: list[bytes | NodeSpec] = []
        self._shared: dict[tuple[str, Any], NodeSpec] = {}

    def append(self, node: NodeSpec) -> None:
        proto, inputs = self._record(node)
        self._ids.append(node.id)
        self._protos.append(proto)
        self._inputs.append(inputs)

    def _record(self, node: NodeSpec) -> tuple[NodeSpec | None, bytes | NodeSpec]:
        if not _plain(node):
            return None, node
        key = (node.kind, node.task)
        proto = self._shared.get(key)
        shape = {**node.__dict__, "id": "", "inputs": _EMPTY}
        if proto is None or proto.__dict__ != shape:
            proto = self._shared[key] = _node(shape)
        return proto, _encode(node.inputs).encode()

    def position(self, node_id: str) -> int:
        """The position of node `node_id`, searched from the last node made (a body changes
        the node it just made); ValueError when it is not there."""
        ids = self._ids
        for i in range(len(ids) - 1, -1, -1):
            if ids[i] == node_id:
                return i
        raise ValueError(node_id)

    def __setitem__(self, index: int, node: NodeSpec) -> None:
        self._ids[index] = node.id
        self._protos[index], self._inputs[index] = self._record(node)

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, key: int) -> NodeSpec: ...

    @overload
    def __getitem__(self, key: slice) -> list[NodeSpec]: ...

    def __getitem__(self, key: int | slice) -> NodeSpec | list[NodeSpec]:
        if isinstance(key, slice):
            return [self._spec(i) for i in range(*key.indices(len(self)))]
        return self._spec(range(len(self))[key])

    def __iter__(self) -> Iterator[NodeSpec]:
        for i in range(len(self._ids)):
            yield self._spec(i)

    def _spec(self, i: int) -> NodeSpec:
        proto, inputs = self._protos[i], self._inputs[i]
        if proto is None:
            assert isinstance(inputs, NodeSpec)
            return inputs
        assert isinstance(inputs, bytes)
        return _node({**proto.__dict__, "id": self._ids[i], "inputs": json.loads(inputs)})

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"NodeRecords({len(self)} nodes)"


class OutputRecords(Sequence[OutputSpec]):
    """A body's outputs with their bindings kept as JSON text: a fan-out's output lists
    every node it made, and a binding dict per node would cost more than the node."""

    def __init__(self) -> None:
        self._items: list[tuple[str, TypeDesc, list[str]]] = []

    def add(self, name: str, type_: TypeDesc, binding: list[str]) -> None:
        """Output `name` of type `type_`, bound by the binding whose JSON is the pieces
        `binding` joined."""
        self._items.append((name, type_, binding))

    def json_items(self) -> Iterator[tuple[str, TypeDesc, list[str]]]:
        """`(name, type, binding JSON in pieces)` of each output (`spec_json.write_graph`)."""
        return iter(self._items)

    def types(self) -> dict[str, TypeDesc]:
        return {name: type_ for name, type_, _ in self._items}

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, key: int) -> OutputSpec: ...

    @overload
    def __getitem__(self, key: slice) -> list[OutputSpec]: ...

    def __getitem__(self, key: int | slice) -> OutputSpec | list[OutputSpec]:
        if isinstance(key, slice):
            return [OutputSpec(n, t, json.loads("".join(b))) for n, t, b in self._items[key]]
        name, type_, binding = self._items[key]
        return OutputSpec(name, type_, json.loads("".join(binding)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"OutputRecords({', '.join(n for n, _, _ in self._items)})"
