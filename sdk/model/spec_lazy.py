"""Large graph specs read as their nodes are needed.

A dynamic's sub-graph of 1,000,000 nodes is about 97 MB of version 2 JSON and 1.2 GB once
parsed into `NodeSpec`s: held while the scheduler grafts it a slice at a time, the parsed graph
was most of the scheduler's memory, and parsing it whole held the interpreter for seconds.
`scan` parses every part of such a document but the top graph's node and output lists, which
it only reads through (to count them and find where they end). `LazyNodes` then parses nodes
from the kept text when they are read: in order, as a graft reads them, a slice costs its own
nodes only; from anywhere else, reading starts again from the first node. `LazyOutputs` parses
the outputs each time they are read: a fan-out's output lists every node, and the engine reads
it when the graph completes. Both name the store object their text came from (`source`, set by
`mark_source`), which is how a snapshot of an engine refers to them (scheduler/snapshots.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, overload

from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.spec import GraphSpec, NodeSpec, OutputSpec

# Documents shorter than this are parsed whole: their nodes cost little, and a list is faster.
LAZY_CHARS = 4 << 20

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class LazyNodes(Sequence[NodeSpec]):
    """The nodes of a graph whose JSON list starts at `start` in `text`, parsed by `read`
    (`read(node_json, index)`) as they are read; the position after the last read is kept,
    so reading on from there costs only the nodes read."""

    source: str | None = None  # the store key the text was read from (`mark_source`)

    def __init__(self, text: str, start: int, count: int, read: Any):
        self._text = text
        self._start = start
        self._count = count
        self._read = read
        self._next = (0, start)  # the index of the next node, and where its JSON starts

    def __len__(self) -> int:
        return self._count

    @property
    def cursor(self) -> tuple[int, int]:
        """Where reading on in order starts: the next node's index, and its place in the
        text."""
        return self._next

    def resume(self, cursor: tuple[int, int]) -> None:
        """Read on from `cursor`, taken from a copy of these nodes over the same text (the
        one a snapshot was made of), instead of from the first node."""
        index, pos = cursor
        if not (0 <= index <= self._count and self._start <= pos <= len(self._text)):
            raise SpecError(f"no node starts at {cursor} of {self!r}")
        self._next = (index, pos)

    def __iter__(self) -> Iterator[NodeSpec]:
        for node, _ in self._parse(0, self._start):
            yield node

    @overload
    def __getitem__(self, key: int) -> NodeSpec: ...

    @overload
    def __getitem__(self, key: slice) -> list[NodeSpec]: ...

    def __getitem__(self, key: int | slice) -> NodeSpec | list[NodeSpec]:
        if isinstance(key, int):
            index = key + self._count if key < 0 else key
            if not 0 <= index < self._count:
                raise IndexError("node index out of range")
            return self[index:index + 1][0]
        first, stop, step = key.indices(self._count)
        if step != 1:
            return list(self)[key]
        if stop <= first:
            return []
        index, pos = self._next if self._next[0] <= first else (0, self._start)
        nodes = self._parse(index, pos)
        for _ in islice(nodes, first - index):
            pass
        out = []
        for node, after in islice(nodes, stop - first):
            out.append(node)
            pos = after
        self._next = (stop, pos)
        return out

    def _parse(self, index: int, pos: int) -> Iterator[tuple[NodeSpec, int]]:
        """Nodes from number `index` (whose JSON starts at `pos`) on, each with where the
        next one starts."""
        text = self._text
        while index < self._count:
            data, pos = _DECODER.raw_decode(text, pos)
            pos = _WS.match(text, pos).end()  # type: ignore[union-attr]
            if text[pos] == ",":
                pos = _WS.match(text, pos + 1).end()  # type: ignore[union-attr]
            yield self._read(data, index), pos
            index += 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyNodes({self._count} nodes)"


class LazyOutputs(Sequence[OutputSpec]):
    """A graph's outputs, the JSON list `text[start:end]` of `count` items, parsed each time
    they are read (their names, types and the item counts of list bindings once, when made).

    A fan-out's output binding lists every node: `list_sizes` says how many items each list
    binding has and `list_items` parses one's items one at a time, so that a driver gathering
    a large output never holds all of them (`sdk.model.gather`); `without` parses only the
    other outputs."""

    source: str | None = None  # the store key the text was read from (`mark_source`)

    def __init__(self, text: str, start: int, end: int, count: int, where: str):
        self._text, self._start, self._end, self._count = text, start, end, count
        self._where = where
        try:
            self._parts = _scan_outputs(text, start)
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            raise SpecError(f"{where}: malformed outputs: {exc!r}") from exc
        self._types = {p.name: p.type for p in self._parts}

    def types(self) -> dict[str, Any]:
        """The outputs' types by name, parsed once."""
        return dict(self._types)

    def list_sizes(self) -> dict[str, int]:
        """How many items each output whose binding is a list binding has, by name."""
        return {p.name: p.items[1] for p in self._parts if p.items is not None}

    def list_items(self, name: str) -> Iterator[Binding]:
        """The item bindings of output `name`'s list binding, parsed one at a time."""
        part = next((p for p in self._parts if p.name == name and p.items is not None), None)
        if part is None:
            raise SpecError(f"{self._where}: output {name!r} is not bound to a list")
        text = self._text
        pos, count = part.items
        for _ in range(count):
            item, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
            yield item

    def without(self, names: Container[str]) -> list[OutputSpec]:
        """The outputs but those named in `names`, parsed (each on its own)."""
        return [OutputSpec(p.name, p.type, json.loads(self._text[p.binding[0]:p.binding[1]]))
                for p in self._parts if p.name not in names]

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[OutputSpec]:
        return iter(self._parse())

    @overload
    def __getitem__(self, key: int) -> OutputSpec: ...

    @overload
    def __getitem__(self, key: slice) -> list[OutputSpec]: ...

    def __getitem__(self, key: int | slice) -> OutputSpec | list[OutputSpec]:
        return self._parse()[key]

    def _parse(self) -> list[OutputSpec]:
        return [OutputSpec(o["name"], o["type"], o["binding"])
                for o in json.loads(self._text[self._start:self._end])]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyOutputs({self._count} outputs)"


@dataclass(frozen=True, slots=True)
class _Output:
    """Where one output of a `LazyOutputs` is: its name and type (parsed), its binding's
    text span, and for a list binding where its first item starts and how many it has."""

    name: str
    type: Any
    binding: tuple[int, int]
    items: tuple[int, int] | None


def _scan_outputs(text: str, pos: int) -> list[_Output]:
    """The outputs of the JSON list at `pos`, each object parsed but for a list binding's
    items, which are read through (parsed and dropped)."""
    parts = []
    pos = _skip(text, pos + 1)
    while text[pos] != "]":
        if text[pos] != "{":
            raise ValueError(f"an output is an object, got {text[pos:pos + 20]!r}")
        fields: dict[str, Any] = {}
        span, items = (0, 0), None
        pos = _skip(text, pos + 1)
        while text[pos] != "}":
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text[pos] != ":":
                raise ValueError("malformed output object")
            pos = _skip(text, pos + 1)
            if key == "binding":
                start = pos
                items, pos = _list_binding(text, pos)
                span = (start, pos)
                fields[key] = True
            else:
                fields[key], pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
        if "binding" not in fields:
            raise KeyError("binding")
        parts.append(_Output(str(fields["name"]), fields["type"], span, items))
        pos = _skip(text, pos + 1)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
    return parts


def _list_binding(text: str, pos: int) -> tuple[tuple[int, int] | None, int]:
    """The binding at `pos`: for `{"list": [...]}`, where its first item starts and how many
    items it has; None for any other (parsed and dropped). And where the binding ends."""
    if text[pos] == "{":
        inner = _skip(text, pos + 1)
        if text[inner] == '"':
            key, after = _DECODER.raw_decode(text, inner)
            after = _skip(text, after)
            if key == "list" and text[after] == ":":
                after = _skip(text, after + 1)
                if text[after] == "[":
                    first, count, end = _count_list(text, after)
                    end = _skip(text, end)
                    if text[end] == "}":
                        return (first, count), end + 1
    _, end = _DECODER.raw_decode(text, pos)
    return None, end


# Where a list read through by `scan` is: its start, its end and how many items it has.
Span = tuple[int, int, int]


def scan(text: str) -> tuple[dict[str, Any], Span, Span] | None:
    """The top-level fields of a JSON object but its "nodes" and "outputs" lists, and where
    those are (for the nodes, from the first node's start); None when the text is not such
    an object."""
    try:
        return _scan(text)
    except (ValueError, IndexError):
        return None


def _scan(text: str) -> tuple[dict[str, Any], Span, Span] | None:
    pos = _skip(text, 0)
    if text[pos] != "{":
        return None
    fields: dict[str, Any] = {}
    lists: dict[str, Span] = {}
    pos = _skip(text, pos + 1)
    while text[pos] != "}":
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if not isinstance(key, str) or text[pos] != ":":
            return None
        pos = _skip(text, pos + 1)
        if key == "nodes" and text[pos] == "[":
            start, count, end = _count_list(text, pos)
            lists[key] = (start, end, count)
            pos = end
        elif key == "outputs" and text[pos] == "[":
            count, end = _count_outputs(text, pos)
            lists[key] = (pos, end, count)
            pos = end
        else:
            fields[key], pos = _DECODER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif text[pos] != "}":
            return None
    if len(lists) < 2 or _skip(text, pos + 1) != len(text):
        return None
    return fields, lists["nodes"], lists["outputs"]


def _count_list(text: str, pos: int) -> tuple[int, int, int]:
    """The list starting at `pos`: where its first item starts, how many items it has, and
    where it ends. Each item is parsed, and dropped."""
    start = pos = _skip(text, pos + 1)
    count = 0
    while text[pos] != "]":
        _, pos = _DECODER.raw_decode(text, pos)
        count += 1
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif text[pos] != "]":
            raise ValueError("malformed list")
    return start, count, pos + 1


def _count_outputs(text: str, pos: int) -> tuple[int, int]:
    """The outputs list starting at `pos`: how many outputs it has and where it ends. Read
    through as `_count_list` reads a list, but the items of a list binding one at a time: a
    fan-out's output lists every node, and that list parsed whole cost some 400 bytes a node
    (at 1,000,000 nodes, the scheduler's peak while it loaded the sub-graph)."""
    pos = _skip(text, pos + 1)
    count = 0
    while text[pos] != "]":
        if text[pos] == "{":
            pos = _skip(text, pos + 1)
            while text[pos] != "}":
                _, pos = _DECODER.raw_decode(text, pos)
                pos = _skip(text, pos)
                if text[pos] != ":":
                    raise ValueError("malformed output object")
                _, pos = _list_binding(text, _skip(text, pos + 1))
                pos = _skip(text, pos)
                if text[pos] == ",":
                    pos = _skip(text, pos + 1)
                elif text[pos] != "}":
                    raise ValueError("malformed output object")
            pos += 1
        else:
            _, pos = _DECODER.raw_decode(text, pos)
        count += 1
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
        elif text[pos] != "]":
            raise ValueError("malformed list")
    return count, pos + 1


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


def mark_source(graph: GraphSpec, key: str) -> GraphSpec:
    """Note on a lazily read `graph` the store key its text was read from; return it."""
    for part in (graph.nodes, graph.outputs):
        if isinstance(part, (LazyNodes, LazyOutputs)):
            part.source = key
    return graph


def is_lazy(graph: GraphSpec) -> bool:
    """Whether `graph`'s nodes are parsed as they are read."""
    return isinstance(graph.nodes, LazyNodes)
