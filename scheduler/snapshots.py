"""Snapshots of an execution's engine, so that a rebuild replays only the events after one.

A rebuild (scheduler/executions.py) replays every event of the execution through a fresh
engine: at 1,000,000 nodes, hundreds of thousands of events, a minute or more in one batch
after a scheduler died. So every `every` events, at the end of a batch and in its
transaction, the scheduler pickles the engine of a large execution into the store
(`snapshots/<sha256>`, content-addressed) and records the key and the last event's number
in the execution's row. A rebuild then unpickles that engine and replays only the events
after it.

What a snapshot leaves out, by reference:
- the large graph specs the engine reads lazily (`sdk.model.spec_lazy`), the top graph's and
  the dynamics' sub-graphs: each names the store object it was loaded from (`source`), and
  is loaded from there again;
- the top graph spec (the execution's row names it) and the driver's parts (`spill`, the
  retry policy), which the rebuild gives the engine back (`Engine.reattach`).

A snapshot is only used as it was written: the store object must match the digest in its
key (which the row holds, not the store), it must have been made by the same code of the
engine (a digest of `sdk/model`'s sources) with the same slicing settings, and unpickling
may build only the engine's own classes and bind only their methods. Anything else, and any
failure while reading it, and the rebuild replays every event as before: a snapshot saves
time, it is never needed.
"""

from __future__ import annotations

import copyreg
import functools
import hashlib
import io
import json
import pickle
import types
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import sdk.model
from sdk.model.config import Settings
from sdk.model.engine import Engine
from sdk.model.errors import GraftError
from sdk.model.spec import GraphSpec
from sdk.model.spec_lazy import LazyNodes, LazyOutputs, mark_source
from sdk.model.store import Store
from sdk.values.store import get_verified

MAGIC = b"graft-engine-snapshot/1\n"
FOLDER = "snapshots"  # `snapshots/<sha256>` in the store
MAX_BYTES = 1 << 30  # a snapshot unpickled: a 20,000-node window's is some 6 MB
# Events since the last snapshot past which a batch takes another (`GRAFT_SNAPSHOT_EVENTS`,
# `Settings.snapshot_events`): a rebuild replays at most about this many, some 4 to 8 s on
# this project's machines, and pickling a 20,000-node window takes about 0.3 s, once in this
# many events.
SNAPSHOT_EVENTS = Settings.snapshot_events

_ENGINE = "sdk.model."
_BUILTINS = frozenset({"set", "frozenset", "slice", "dict", "list", "tuple",
                       "bytearray", "complex", "object"})
_COPYREG = frozenset({"_reconstructor", "__newobj__", "__newobj_ex__"})


class SnapshotError(GraftError):
    """A snapshot that cannot be used: made by other code or settings, or not an engine."""


@dataclass(frozen=True)
class Restored:
    """An engine as a snapshot held it, after event `seq`, with the cache keys its
    dynamics had reported by then."""

    engine: Engine
    seq: int
    cache_keys: dict[str, str]


def stored_graph(store: Store, key: str) -> GraphSpec:
    """The graph spec stored under `key`, verified against its digest, its lazily read
    parts naming `key` (so that a snapshot refers to them by it)."""
    return mark_source(GraphSpec.loads(get_verified(store, key)), key)


@functools.cache
def code_digest() -> str | None:
    """A digest of the engine's code (`sdk/model`'s sources) and graft's version: a snapshot
    is read only by the code that wrote it. None when the sources are not installed (then
    no snapshot is taken or read)."""
    sources = sorted(Path(sdk.model.__file__).parent.glob("*.py"))
    if not sources:
        return None
    digest = hashlib.sha256(_version().encode() + b"\0")
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _version() -> str:
    try:
        return metadata.version("graft")
    except metadata.PackageNotFoundError:
        return "unknown"


def _part(source: str, part: str, *cursor: Any) -> Any:
    """Stands, in a pickle, for the nodes (with where they are read on) or the outputs of
    the lazily read spec at `source`; only `load`'s unpickler resolves it
    (`_Unpickler.find_class`)."""
    raise SnapshotError(f"a snapshot's reference to {part} of {source} read outside a load")


def _top(*cursor: Any) -> Any:
    """Stands, in a pickle, for the execution's top graph spec, with where its nodes are read
    on when it is read lazily (see `_part`)."""
    raise SnapshotError("a snapshot's reference to the top graph read outside a load")


def _lazy(obj: LazyNodes | LazyOutputs) -> tuple[Any, tuple[Any, ...]]:
    if obj.source is None:
        raise pickle.PicklingError("a large graph spec that names no store object")
    if isinstance(obj, LazyNodes):  # with where a graft in slices reads on
        return _part, (obj.source, "nodes", obj.cursor)
    return _part, (obj.source, "outputs")


def dump(engine: Engine, execution: str, seq: int, cache_keys: dict[str, str],
         settings: dict[str, Any]) -> bytes:
    """The snapshot of `execution`'s `engine` after event `seq`, with the cache keys its
    dynamics reported, made with the slicing `settings`.
    Raises pickle.PicklingError (or TypeError) when the engine holds what cannot be kept,
    such as a gather under way."""
    if engine.gathers:
        raise pickle.PicklingError("a gather is under way")
    top = engine.spec
    table = copyreg.dispatch_table.copy()
    table[LazyNodes] = _lazy
    table[LazyOutputs] = _lazy
    table[GraphSpec] = lambda g: g.__reduce_ex__(5) if g is not top else \
        (_top, (top.nodes.cursor,) if isinstance(top.nodes, LazyNodes) else ())
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.dispatch_table = table
    pickler.dump((engine, cache_keys))
    code = code_digest()
    if code is None:
        raise pickle.PicklingError("the engine's sources are not installed: no snapshot "
                                   "could tell which code made it")
    header = {"execution": execution, "seq": seq, "code": code,
              "settings": settings}
    return MAGIC + json.dumps(header).encode() + b"\n" + zlib.compress(buffer.getvalue(), 1)


def header(data: bytes) -> dict[str, Any]:
    """A snapshot's header: the event it follows (`seq`), the code and settings it was made
    with. Raises SnapshotError when `data` is not a snapshot."""
    if not data.startswith(MAGIC):
        raise SnapshotError("not an engine snapshot")
    end = data.find(b"\n", len(MAGIC))
    try:
        found = json.loads(data[len(MAGIC):end])
    except ValueError as exc:
        raise SnapshotError(f"a snapshot's header is not JSON: {exc}") from exc
    if not isinstance(found, dict) or not isinstance(found.get("seq"), int):
        raise SnapshotError("a snapshot's header names no event")
    return found


def load(data: bytes, execution: str, settings: dict[str, Any], top: GraphSpec,
         graph_at: Callable[[str], GraphSpec]) -> Restored:
    """The engine `data` holds, its top graph `top` and its large sub-graphs loaded by
    `graph_at(store key)`. The caller gives it its driver's parts back (`Engine.reattach`).
    Raises SnapshotError when the snapshot is of another execution, or was made by other
    code or `settings`."""
    found = header(data)
    if found.get("execution") != execution:
        raise SnapshotError(f"a snapshot of execution {found.get('execution')!r}")
    code = code_digest()
    if code is None or found.get("code") != code:
        raise SnapshotError("made by another version of the engine")
    if found.get("settings") != settings:
        raise SnapshotError(f"made with other settings ({found.get('settings')}, "
                            f"not {settings})")
    inflate = zlib.decompressobj()
    body = inflate.decompress(data[data.find(b"\n", len(MAGIC)) + 1:], MAX_BYTES)
    if inflate.unconsumed_tail:
        raise SnapshotError(f"a snapshot of more than {MAX_BYTES >> 20} MiB")
    engine, cache_keys = _Unpickler(io.BytesIO(body), top, graph_at).load()
    if not isinstance(engine, Engine) or not isinstance(cache_keys, dict):
        raise SnapshotError("a snapshot that holds no engine")
    return Restored(engine, found["seq"], cache_keys)


def _method(obj: Any, name: str) -> Any:
    """What a pickle's `getattr` may give: a method the engine's modules define, of an
    object of their classes, bound to it (how a pickle keeps the engine's callbacks), and
    nothing else."""
    method = getattr(obj, name, None) if "__" not in name \
        and type(obj).__module__.startswith(_ENGINE) else None
    if not isinstance(method, types.MethodType) or method.__self__ is not obj \
            or not getattr(method.__func__, "__module__", "").startswith(_ENGINE):
        raise SnapshotError(f"a snapshot asks for {name!r} of a {type(obj).__name__}, which "
                            "is not a method of the engine's")
    return method


class _Unpickler(pickle.Unpickler):
    """Builds only the engine's classes, and resolves the references `dump` left."""

    def __init__(self, file: io.BytesIO, top: GraphSpec, graph_at: Callable[[str], GraphSpec]):
        super().__init__(file)
        self._top = top
        self._graph_at = graph_at
        self._graphs: dict[str, GraphSpec] = {}  # lazily read graphs loaded, by store key
        self._reading: set[str] = set()  # those whose nodes a graft reads on already
        source = getattr(top.nodes, "source", None)
        if source is not None:
            self._graphs[source] = top

    def _top_at(self, *cursor: Any) -> GraphSpec:
        if cursor and isinstance(self._top.nodes, LazyNodes) and self._top.nodes.source:
            self._top.nodes.resume(tuple(cursor[0]))
            self._reading.add(self._top.nodes.source)
        return self._top

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_part":
            return self._part
        if module == __name__ and name == "_top":
            return self._top_at
        if module == "builtins" and name == "getattr":
            return _method
        if (module == "builtins" and name in _BUILTINS) \
                or (module == "copyreg" and name in _COPYREG):
            return super().find_class(module, name)
        if module.startswith(_ENGINE) and "__" not in name and "." not in name:
            found = super().find_class(module, name)
            # a class or function of the engine's modules, not one they imported
            if isinstance(found, (type, types.FunctionType)) \
                    and found.__module__.startswith(_ENGINE):
                return found
        raise SnapshotError(f"a snapshot names {module}.{name}, which is not the engine's")

    def _part(self, source: str, part: str, cursor: tuple[int, int] | None = None) -> Any:
        graph = self._graphs.get(source)
        if graph is None or (part == "nodes" and source in self._reading):
            # a graph not loaded yet, or another graph of the same text read on elsewhere
            graph = self._graph_at(source)
            self._graphs.setdefault(source, graph)
        if part == "outputs":
            return graph.outputs
        if not isinstance(graph.nodes, LazyNodes) or cursor is None:
            raise SnapshotError(f"the nodes of {source} are not read lazily any more")
        graph.nodes.resume(tuple(cursor))  # else the next slice parses every node before it
        self._reading.add(source)
        return graph.nodes
