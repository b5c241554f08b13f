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
from sdk.errors import StoreError
from sdk.execute import materialize
from sdk.literals import dumps
from sdk.spec import Binding, NodeSpec
from sdk.store import Store, sha256
from sdk.typesys import TypeDesc

_KEY_FIELDS = ("u", "key", "pickle")


def enabled() -> bool:
    return Settings.from_env().local_cache


def key_for(spec: NodeSpec, inputs: dict[str, Binding], store: Store) -> str | None:
    if not enabled():
        return None
    literals = {name: _normalised(materialize(b, store), spec.inputs_types[name])
                for name, b in inputs.items()}
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
    try:
        if not all(store.exists(k) for k in _store_keys(outputs, store)):
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


def _store_keys(obj: Any, store: Store) -> Iterator[str]:
    """The store keys a cached output needs, also those inside literals kept in the store
    (`{"u": key}`, read only when present) and a Directory's files."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in _KEY_FIELDS and _is_key(v):
                yield v
                if k == "u" and store.exists(v):
                    yield from _store_keys(json.loads(store.get(v)), store)
            elif k == "files" and isinstance(v, dict):  # a Directory: {relative path: key}
                yield from (f for f in v.values() if _is_key(f))
                yield from _store_keys([f for f in v.values() if not _is_key(f)], store)
            else:
                yield from _store_keys(v, store)
    elif isinstance(obj, list):
        for v in obj:
            yield from _store_keys(v, store)


def _is_key(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("blobs/", "values/"))


def _normalised(lit: Any, desc: TypeDesc) -> Any:
    """`lit` with ints made floats where `desc` declares a float (an int output may feed a
    float input), so that both spellings of one value give one cache key."""
    t = desc["t"]
    if t == "float" and isinstance(lit, int) and not isinstance(lit, bool):
        return float(lit)
    if t == "optional" and lit is not None:
        return _normalised(lit, desc["of"])
    if t == "list" and isinstance(lit, list):
        return [_normalised(v, desc["of"]) for v in lit]
    if t == "tuple" and isinstance(lit, list):
        return [_normalised(v, d) for v, d in zip(lit, desc["items"])]
    if t == "dict" and isinstance(lit, dict):
        float_keys = desc["key"]["t"] == "float"
        return {(json.dumps(float(json.loads(k))) if float_keys else k): _normalised(v, desc["of"])
                for k, v in lit.items()}
    if t == "dataclass" and isinstance(lit, dict):
        return {k: _normalised(v, desc["fields"][k]) if k in desc["fields"] else v
                for k, v in lit.items()}
    return lit
