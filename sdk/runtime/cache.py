"""The local run cache: `cache=True, cache_version=...` results kept on disk.

Entries live under `<user cache dir>/graft/local-cache/` (or `$GRAFT_CACHE_DIR`). The key
hashes the task, its cache_version, its interface and the *content* of its inputs, so the
same data reached by another path still hits. `GRAFT_LOCAL_CACHE=0` turns the cache off; an
entry whose store objects are gone counts as a miss.
"""

from __future__ import annotations

import json
import os
import tempfile

from sdk.model.bindings import Binding
from sdk.model.config import Settings, cache_dir
from sdk.model.errors import StoreError
from sdk.model.spec import NodeSpec
from sdk.model.store import Store
from sdk.values.handlers import normalise
from sdk.values.literals import dumps, materialize, ref_keys
from sdk.values.store import sha256


def enabled() -> bool:
    return Settings.from_env().local_cache


def key_for(spec: NodeSpec, inputs: dict[str, Binding], store: Store) -> str | None:
    if not enabled():
        return None
    literals = {name: normalise(materialize(b, store), spec.inputs_types[name])
                for name, b in inputs.items()}
    return sha256(dumps({
        "task": spec.task.ref, "version": spec.cache_version,
        "inputs_types": spec.inputs_types, "outputs_types": spec.outputs_types,
        "inputs": literals,
    }))


def _path(key: str) -> str:
    return str(cache_dir() / "local-cache" / f"{key}.json")


def lookup(key: str, spec: NodeSpec, store: Store) -> dict[str, Binding] | None:
    """The outputs kept under `key`, if every store object they need is still there."""
    try:
        with open(_path(key), "rb") as fh:
            outputs = json.load(fh)["outputs"]
    except (OSError, ValueError, KeyError):
        return None
    if not isinstance(outputs, dict) or set(outputs) != set(spec.outputs_types):
        return None
    try:
        for name, binding in outputs.items():
            if not all(store.exists(k) for k in ref_keys(binding, spec.outputs_types[name],
                                                          store)):
                return None
    except (StoreError, ValueError):
        return None
    return outputs


def save(key: str, outputs: dict[str, Binding]) -> None:
    path = _path(key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(dumps({"outputs": outputs}))
    os.replace(tmp, path)

