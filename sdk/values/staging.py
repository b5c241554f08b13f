"""Where compiling puts the objects a spec refers to: memory, until a submission uploads them.

Compiling a workflow, a map task or a launch plan does no I/O on a store. The large literals of
a body (over `INLINE_LIMIT_BYTES`) and the files and directories it names are encoded into
`staged()`, an in-memory store of this process; their keys are derived from their content, so
they are the keys the real store will hold. `publish(spec, store)` copies into `store` the
staged objects a spec refers to: `Client.submit` and launch plan activation do it (through
`sdk.remote.specs.upload_spec`), so does the local runner, and so does a worker for the
sub-graph a dynamic returns (sub-workflows and map tasks called in its body compile into
staging too). A compiled spec no longer depends on `GRAFT_STORE`.

Staged objects stay in memory for the life of the process, as the compiled specs that refer to
them do (a workflow compiles once). Reading a local file a body names still happens when it
compiles: its key is the hash of its content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from sdk.model.spec import GraphSpec, NodeSpec
from sdk.model.store import Store
from sdk.values.compact import is_compact
from sdk.values.store import MemoryStore, keep


class _Staging(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.url = "staged://"

    def empty(self) -> bool:
        return not self._data


_STAGED = _Staging()

# A string of JSON text, its escapes undecoded: group 1 holds what is between the quotes.
_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def staged() -> Store:
    """The in-memory store compiling encodes into."""
    return _STAGED


def publish(spec: GraphSpec, store: Store) -> int:
    """Copy into `store` the staged objects `spec` refers to, and those they refer to (a large
    literal holding files); return how many were copied. StoreError when `store` fails.

    The nodes are read one at a time and the outputs as the JSON text they keep, if they do:
    a dynamic's body of 1,000,000 nodes is kept as compact records, and never exists whole
    as `NodeSpec`s or binding dicts, here neither (anything ever staged in this process, such
    as a map task an earlier body compiled, makes a worker look through every node)."""
    if _STAGED.empty():  # a worker that compiled nothing: no need to look through the nodes
        return 0
    copied, seen = 0, set()
    pending = list(set(_graph_keys(spec)))
    while pending:
        key = pending.pop()
        if key in seen:
            continue
        seen.add(key)
        data = _STAGED.get(key)
        if key.startswith("values/") and not is_compact(data):  # a buffer names nothing
            pending.extend(_staged_keys(json.loads(data)))
        if not store.exists(key):
            store.put(key, data)
            copied += 1
        else:
            keep(store, key, data)  # used again: its write time made now, for gc
    return copied


def _graph_keys(g: GraphSpec) -> Iterator[str]:
    """The staged keys that the bindings and conditions of `g` and the graphs inside it
    name (a key as often as it is named)."""
    items = getattr(g.outputs, "json_items", None)
    if items is not None:  # a body's outputs: their bindings as JSON text in pieces
        for _, _, pieces in items():
            yield from _text_keys("".join(pieces))
    else:
        for output in g.outputs:
            yield from _staged_keys(output.binding)
    for node in g.nodes:
        yield from _node_keys(node)
    if g.on_failure is not None:
        yield from _node_keys(g.on_failure)


def _node_keys(node: NodeSpec) -> Iterator[str]:
    yield from _staged_keys(node.inputs)
    if node.subgraph is not None:
        yield from _graph_keys(node.subgraph)
    if node.map is not None:
        yield from _node_keys(node.map.template)
    for case in node.branch.cases if node.branch is not None else ():
        yield from _staged_keys(case.when)
        if case.graph is not None:
            yield from _graph_keys(case.graph)


def _text_keys(text: str) -> Iterator[str]:
    """The staged keys among the strings of JSON text `text`, found without parsing it
    whole (a fan-out's output binding names every node of the body)."""
    for match in _JSON_STRING.finditer(text):
        value = match.group(1)
        if "\\" in value:
            value = json.loads(match.group(0))
        if _STAGED.exists(value):
            yield value


def _staged_keys(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        if _STAGED.exists(obj):
            yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _staged_keys(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _staged_keys(value)
