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


def staged() -> Store:
    """The in-memory store compiling encodes into."""
    return _STAGED


def publish(spec: GraphSpec, store: Store) -> int:
    """Copy into `store` the staged objects `spec` refers to, and those they refer to (a large
    literal holding files); return how many were copied. StoreError when `store` fails."""
    if _STAGED.empty():  # a worker that compiled nothing: no need to look through the nodes
        return 0
    copied, seen = 0, set()
    pending = list(_staged_keys(list(_bindings(spec))))
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


def _bindings(g: GraphSpec) -> Iterator[Any]:
    """Every binding and condition of `g` and the graphs inside it."""
    yield [o.binding for o in g.outputs]
    for node in [*g.nodes, *([g.on_failure] if g.on_failure is not None else [])]:
        yield from _node_bindings(node)


def _node_bindings(node: NodeSpec) -> Iterator[Any]:
    yield node.inputs
    if node.subgraph is not None:
        yield from _bindings(node.subgraph)
    if node.map is not None:
        yield from _node_bindings(node.map.template)
    for case in node.branch.cases if node.branch is not None else ():
        yield case.when
        if case.graph is not None:
            yield from _bindings(case.graph)


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
