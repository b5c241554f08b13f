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
from collections.abc import Iterator
from typing import Any

from sdk.config import Settings, cache_dir
from sdk.execute import materialize
from sdk.literals import dumps
from sdk.spec import Binding, NodeSpec
from sdk.store import Store, sha256

_KEY_FIELDS = ("u", "key", "pickle")


def enabled() -> bool:
    return Settings.from_env().local_cache


def key_for(spec: NodeSpec, inputs: dict[str, Binding], store: Store) -> str | None:
    if not enabled():
        return None
    literals = {name: materialize(b, store) for name, b in inputs.items()}
    return sha256(dumps({
        "task": spec.task.ref, "version": spec.cache_version,
        "inputs_types": spec.inputs_types, "outputs_types": spec.outputs_types,
        "inputs": literals,
    }))


def _path(key: str) -> str:
    return str(cache_dir() / "local-cache" / f"{key}.json")


def lookup(key: str, store: Store) -> dict[str, Binding] | None:
    try:
        with open(_path(key), "rb") as fh:
            outputs = json.load(fh)["outputs"]
    except (OSError, ValueError, KeyError):
        return None
    if not all(store.exists(k) for k in _store_keys(outputs)):
        return None
    return outputs


def save(key: str, outputs: dict[str, Binding]) -> None:
    path = _path(key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(dumps({"outputs": outputs}))
    os.replace(tmp, path)


def _store_keys(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in _KEY_FIELDS and isinstance(v, str) and v.startswith(("blobs/", "values/")):
                yield v
            else:
                yield from _store_keys(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _store_keys(v)
