"""Cached results: `cache=True` (or `cache=Cache(...)`) outputs kept under a key.

The key hashes the task, its cache version, its interface and the *content* of its inputs
(less those the cache ignores), so the same data reached by another path still hits. A value
produced under `Annotated[T, HashMethod(fn)]` counts by the hash `fn` gave it instead.

Entries are JSON objects in a store, one per key, under a folder: `local-cache/` in the user
cache dir (`$GRAFT_CACHE_DIR`) for in-process runs, as flytekit keeps its local cache apart,
and `cache/` in the cluster's store for the workers and the scheduler, which every execution,
client and scheduler of that store shares. An entry whose store objects are gone is a miss.
flytekit's switches hold for the in-process cache: `FLYTE_LOCAL_CACHE_ENABLED=false` turns it
off (as `GRAFT_LOCAL_CACHE=0` does), `FLYTE_LOCAL_CACHE_OVERWRITE=true` runs cached tasks again
and replaces their entries; `LocalTaskCache.clear()` empties it.

With `GRAFT_SECRET` set, each entry carries an HMAC-SHA256 over its key and content, made with
a key derived from the secret (`entry_key`), and an entry without a valid one is refused as a
miss, with one log line naming it: an entry names the stored outputs a downstream task will
decode, and some decode by unpickling, so whoever can write to the store must not be able to
write one. The derived key is what a task's runner holds, never the secret itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
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
SIG_FIELD = "sig"
_ENTRY_KEY_CONTEXT = b"graft cache entries v1"

log = logging.getLogger("graft.cache")


def entry_key(secret: bytes | None) -> bytes | None:
    """The key cache entries are signed with, derived from `secret` (GRAFT_SECRET); None
    without one. Knowing it lets one sign cache entries and nothing else."""
    if not secret:
        return None
    return hmac.new(secret, _ENTRY_KEY_CONTEXT, hashlib.sha256).digest()


def _entry_mac(signing_key: bytes, key: str, body: dict[str, Any]) -> str:
    """The MAC of the entry `body` kept under cache key `key` (so an entry cannot be moved to
    another key, whose inputs it was not made from)."""
    return hmac.new(signing_key, dumps({"key": key, "entry": body}), hashlib.sha256).hexdigest()


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
    refused: str = ""  # why a lookup would refuse it ("" for an entry it may use)


class CacheIndex:
    """Entries kept in `store` under `folder`, for values kept in `values` (by default the
    same store). With `signing_key` (`entry_key(GRAFT_SECRET)`), entries are signed when
    saved, and a lookup refuses one whose signature is missing or wrong."""

    def __init__(self, store: Store, folder: str, values: Store | None = None, *,
                 signing_key: bytes | None = None, overwrite: bool = False):
        """`overwrite`: every lookup misses, so results are made and saved again."""
        self.store = store
        self.folder = folder
        self.values = values if values is not None else store
        self.signing_key = signing_key
        self.overwrite = overwrite
        self.refusals: list[str] = []  # what lookups refused, one line each

    def _key(self, key: str) -> str:
        return f"{self.folder}/{key}.json"

    def lookup(self, key: str, spec: NodeSpec) -> dict[str, Binding] | None:
        """The outputs kept under `key`, if they fit `spec` and every store object they need
        is still there; None is a miss."""
        if self.overwrite:
            return None
        entry = self.read(self._key(key))
        if entry is None:
            return None
        if entry.refused:
            line = f"cache entry {self._key(key)} refused, treated as a miss: {entry.refused}"
            log.warning("%s", line)
            self.refusals.append(line)
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
        body = {"task": spec.task.name, "ref": spec.task.ref, "version": spec.cache_version,
                "outputs": outputs, "saved_at": time.time(), "execution": execution,
                "node": node}
        if self.signing_key:
            body[SIG_FIELD] = _entry_mac(self.signing_key, key, body)
        self.store.put(self._key(key), dumps(body))

    def read(self, store_key: str) -> Entry | None:
        """The entry kept under store key `store_key`; None when it is gone or unreadable.
        Its `refused` says why a lookup may not use it (unsigned, or signed wrongly)."""
        try:
            data = json.loads(self.store.get(store_key))
            outputs = data["outputs"]
        except (StoreError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(outputs, dict):
            return None
        key = store_key.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            return Entry(key, str(data.get("task") or "?"), str(data.get("version") or ""),
                         outputs, float(data.get("saved_at") or 0.0),
                         str(data.get("execution") or ""), str(data.get("node") or ""),
                         self._refusal(key, data))
        except (TypeError, ValueError):
            return None

    def _refusal(self, key: str, data: dict[str, Any]) -> str:
        """Why an entry read under `key` may not be used; "" when it may."""
        if not self.signing_key:
            return ""
        sig = data.get(SIG_FIELD)
        if not isinstance(sig, str):
            return "it is not signed, and GRAFT_SECRET is set"
        body = {k: v for k, v in data.items() if k != SIG_FIELD}
        if not hmac.compare_digest(sig, _entry_mac(self.signing_key, key, body)):
            return ("its signature is wrong (altered in the store, written by hand, or "
                    "signed with another GRAFT_SECRET)")
        return ""

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


def _flyte_switch(name: str, default: bool) -> bool:
    """A flytekit boolean setting from the environment, read as flytekit reads it: unset is
    `default`; "", "false", "0", "off" and "no" (any case) are False, anything else True."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return bool(raw) and raw.lower() not in ("false", "0", "off", "no")


def local_index(values: Store) -> CacheIndex | None:
    """The in-process cache for values kept in `values` (None when `GRAFT_LOCAL_CACHE=0` or
    `FLYTE_LOCAL_CACHE_ENABLED=false` turns it off; saving but never hitting with
    `FLYTE_LOCAL_CACHE_OVERWRITE=true`), signed when GRAFT_SECRET is set."""
    settings = Settings.from_env()
    if not settings.local_cache or not _flyte_switch("FLYTE_LOCAL_CACHE_ENABLED", True):
        return None
    return CacheIndex(open_store(str(cache_dir())), LOCAL_FOLDER, values,
                      signing_key=entry_key(settings.secret),
                      overwrite=_flyte_switch("FLYTE_LOCAL_CACHE_OVERWRITE", False))


class LocalTaskCache:
    """flytekit's local cache of task results (`flytekit.core.local_cache`): graft's
    in-process cache, the one `graft cache ls --local` lists."""

    _initialized: bool = False

    @staticmethod
    def initialize() -> None:
        LocalTaskCache._initialized = True

    @staticmethod
    def clear() -> None:
        """Delete every entry, so cached tasks run again in the next in-process run."""
        LocalTaskCache.initialize()
        CacheIndex(open_store(str(cache_dir())), LOCAL_FOLDER).clear()


def cluster_index(store: Store, signing_key: bytes | None) -> CacheIndex:
    """The cache the workers and schedulers of `store` share, its entries signed with
    `signing_key` (`entry_key(GRAFT_SECRET)`; None: unsigned, as without a secret)."""
    return CacheIndex(store, CLUSTER_FOLDER, signing_key=signing_key)
