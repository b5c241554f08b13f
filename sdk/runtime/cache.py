"""Cached results: `cache=True` (or `cache=Cache(...)`) outputs kept under a key.

The key hashes the task, its cache version, its interface and the *content* of its inputs
(less those the cache ignores), so the same data reached by another path still hits. A value
produced under `Annotated[T, HashMethod(fn)]` counts by the hash `fn` gave it instead.

Entries are JSON objects in a store, one per key, under a folder: `local-cache/` in the user
cache dir (`$GRAFT_CACHE_DIR`) for in-process runs, as flytekit keeps its local cache apart,
and `cache/` in the cluster's store for the workers and the scheduler, which every execution,
client and scheduler of that store shares. An entry whose store objects are gone is a miss.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.config import Settings, cache_dir
from sdk.model.errors import StoreError, TypeConversionError
from sdk.model.spec import NodeSpec
from sdk.model.store import Store
from sdk.values.handlers import normalise
from sdk.values.literals import apply_steps, dumps, from_ref, materialize, ref_keys
from sdk.values.store import open_store, sha256

CLUSTER_FOLDER = "cache"
LOCAL_FOLDER = "local-cache"


def key_for(spec: NodeSpec, inputs: dict[str, Binding], store: Store) -> str:
    """The cache key of `spec` run on resolved `inputs` (reads stored input values)."""
    ignored = set(spec.cache_ignored)
    identity = {name: _identity(b, spec.inputs_types[name], store)
                for name, b in inputs.items() if name not in ignored}
    return sha256(dumps({
        "task": spec.task.ref, "version": spec.cache_version,
        "inputs_types": spec.inputs_types, "outputs_types": spec.outputs_types,
        "inputs": identity, "ignored": sorted(ignored),
    }))


def _identity(binding: Binding, desc: Any, store: Store) -> Any:
    """What an input counts as in a key: its normalised literal; a value with a HashMethod
    hash counts as that hash (wherever it sits in a list or dict built from bindings)."""
    if not _has_hash(binding):
        return normalise(materialize(binding, store), desc)

    def leaf(kind: str, body: Any) -> Any:
        if "h" in body:
            return {"hash": body["h"]}
        return from_ref(body, store)

    return bindings.fold(binding, leaf, apply_steps)


def _has_hash(binding: Binding) -> bool:
    kind, body = bindings.split(binding)
    if kind == "val":
        return "h" in body
    if kind == "list":
        return any(_has_hash(b) for b in body)
    if kind == "dict":
        return any(_has_hash(b) for b in body.values())
    return False


@dataclass(frozen=True)
class Entry:
    """One kept result: its key, the task and version that made it, its outputs, when and
    where (execution and node) it was made."""

    key: str
    task: str
    version: str
    outputs: dict[str, Binding]
    saved_at: float
    execution: str = ""
    node: str = ""


class CacheIndex:
    """Entries kept in `store` under `folder`, for values kept in `values` (by default the
    same store)."""

    def __init__(self, store: Store, folder: str, values: Store | None = None):
        self.store = store
        self.folder = folder
        self.values = values if values is not None else store

    def _key(self, key: str) -> str:
        return f"{self.folder}/{key}.json"

    def lookup(self, key: str, spec: NodeSpec) -> dict[str, Binding] | None:
        """The outputs kept under `key`, if they fit `spec` and every store object they need
        is still there; None is a miss."""
        entry = self.read(self._key(key))
        if entry is None:
            return None
        outputs = entry.outputs
        if set(outputs) != set(spec.outputs_types):
            return None
        try:
            for name, binding in outputs.items():
                if not all(self.values.exists(k)
                           for k in ref_keys(binding, spec.outputs_types[name], self.values)):
                    return None
        except (StoreError, ValueError, TypeConversionError):
            return None
        return outputs

    def save(self, key: str, spec: NodeSpec, outputs: dict[str, Binding], *,
             execution: str = "", node: str = "") -> None:
        self.store.put(self._key(key), dumps({
            "task": spec.task.name, "ref": spec.task.ref, "version": spec.cache_version,
            "outputs": outputs, "saved_at": time.time(), "execution": execution,
            "node": node}))

    def read(self, store_key: str) -> Entry | None:
        """The entry kept under store key `store_key`; None when it is gone or unreadable."""
        try:
            data = json.loads(self.store.get(store_key))
            outputs = data["outputs"]
        except (StoreError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(outputs, dict):
            return None
        key = store_key.rsplit("/", 1)[-1].removesuffix(".json")
        return Entry(key, str(data.get("task") or "?"), str(data.get("version") or ""),
                     outputs, float(data.get("saved_at") or 0.0),
                     str(data.get("execution") or ""), str(data.get("node") or ""))

    def entries(self) -> list[Entry]:
        """Every readable entry, oldest first."""
        try:
            keys = [k for k in self.store.keys(self.folder) if k.endswith(".json")]
        except StoreError:
            return []
        found = [e for e in (self.read(k) for k in keys) if e is not None]
        return sorted(found, key=lambda e: e.saved_at)

    def clear(self, task: str | None = None) -> int:
        """Delete the entries (of task `task` only, when given); the number deleted."""
        gone = 0
        for entry in self.entries():
            if task is None or entry.task == task or entry.task.endswith(f".{task}"):
                self.store.delete(self._key(entry.key))
                gone += 1
        return gone


def local_index(values: Store) -> CacheIndex | None:
    """The in-process cache for values kept in `values` (None when `GRAFT_LOCAL_CACHE=0`
    turns it off)."""
    if not Settings.from_env().local_cache:
        return None
    return CacheIndex(open_store(str(cache_dir())), LOCAL_FOLDER, values)


def cluster_index(store: Store) -> CacheIndex:
    """The cache the workers and schedulers of `store` share."""
    return CacheIndex(store, CLUSTER_FOLDER)
