"""Values <-> JSON literals, and literals <-> value references.

A *literal* is the JSON form of a value of a known type (files become store keys). A *value
reference* (`{"v": literal}` or `{"u": store key}`) is how literals travel: small ones inline,
larger ones in the store under a content-derived key. The local runner and the workers use
these same functions, so local and remote runs see the same values.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import json
import os
import pickle
import tempfile
from typing import Any

from sdk.config import cache_dir
from sdk.errors import StoreError, TypeConversionError
from sdk.store import Store, put_blob, sha256
from sdk.types import Directory, File
from sdk.typesys import TypeDesc, check_value, import_ref, type_name

INLINE_LIMIT_BYTES = 2048

ValueRef = dict[str, Any]


def dumps(obj: Any) -> bytes:
    """Canonical JSON: the same value always gives the same bytes (and the same key)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def to_ref(literal: Any, store: Store, limit: int = INLINE_LIMIT_BYTES) -> ValueRef:
    data = dumps(literal)
    if len(data) <= limit:
        return {"v": literal}
    return {"u": put_blob(store, data, prefix="values")}


def from_ref(ref: ValueRef, store: Store) -> Any:
    if "v" in ref:
        return ref["v"]
    try:
        return json.loads(store.get(ref["u"]))
    except (KeyError, TypeError) as exc:
        raise StoreError(f"malformed value reference {ref!r}") from exc


def encode(value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
    """The literal of `value` as type `desc`; TypeConversionError names `where` on mismatch."""
    reason = check_value(value, desc)
    if reason:
        raise TypeConversionError(f"{where}: {reason}")
    return _encode(value, desc, store, where)


def _encode(value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
    t = desc["t"]
    if t in ("int", "str", "bool", "none"):
        return value
    if t == "float":
        return float(value)
    if t == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if t == "optional":
        return None if value is None else _encode(value, desc["of"], store, where)
    if t == "list":
        return [_encode(v, desc["of"], store, where) for v in value]
    if t == "tuple":
        return [_encode(v, d, store, where) for v, d in zip(value, desc["items"])]
    if t == "dict":
        return {
            json.dumps(k) if desc["key"]["t"] != "str" else k: _encode(v, desc["of"], store, where)
            for k, v in value.items()
        }
    if t == "dataclass":
        return {
            name: _encode(getattr(value, name), fdesc, store, f"{where}, field {name!r}")
            for name, fdesc in desc["fields"].items()
        }
    if t == "enum":
        return value.value
    if t == "file":
        return _encode_file(value, store, where)
    if t == "dir":
        return _encode_dir(value, store, where)
    try:
        data = pickle.dumps(value, protocol=4)
    except Exception as exc:
        raise TypeConversionError(f"{where}: cannot pickle {type(value).__name__}: {exc}") from exc
    return {"pickle": put_blob(store, data)}


def _encode_file(value: Any, store: Store, where: str) -> dict:
    path = os.fspath(value)
    if isinstance(value, File) and value._literal and store.exists(value._literal["key"]):
        return value._literal
    data = _read(path, where, f"file {path!r}", f"working directory {os.getcwd()}")
    return {"key": put_blob(store, data), "name": os.path.basename(path.rstrip("/")) or "file"}


def _read(path: str, where: str, what: str, note: str = "") -> bytes:
    """The bytes of `path`; TypeConversionError naming `what` and the cause when unreadable."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        details = [exc.strerror or type(exc).__name__]
        details += [note] if note else []
        details += ["a broken symlink?"] if os.path.islink(path) else []
        raise TypeConversionError(f"{where}: {what} cannot be read ({'; '.join(details)})"
                                  ) from exc


def _encode_dir(value: Any, store: Store, where: str) -> dict:
    path = os.fspath(value)
    if isinstance(value, Directory) and value._literal:
        return value._literal
    if not os.path.isdir(path):
        raise TypeConversionError(f"{where}: {path!r} is not a directory")
    files: dict[str, str] = {}
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            data = _read(full, where, f"file {full!r} in directory {path!r}")
            files[os.path.relpath(full, path).replace(os.sep, "/")] = put_blob(store, data)
    return {"name": os.path.basename(path.rstrip("/")) or "dir", "files": files}


def decode(literal: Any, desc: TypeDesc, store: Store, where: str) -> Any:
    """The Python value of a literal of type `desc`."""
    try:
        return _decode(literal, desc, store, where)
    except (TypeConversionError, StoreError):
        raise
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise TypeConversionError(
            f"{where}: stored value does not match {type_name(desc)} ({exc})"
        ) from exc


def _decode(lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
    t = desc["t"]
    if t in ("int", "str", "bool", "none"):
        return lit
    if t == "float":
        # An int output may bind to a float input (and travels as an int literal).
        return float(lit)
    if t == "bytes":
        return base64.b64decode(lit)
    if t == "optional":
        return None if lit is None else _decode(lit, desc["of"], store, where)
    if t == "list":
        return [_decode(v, desc["of"], store, where) for v in lit]
    if t == "tuple":
        return tuple(_decode(v, d, store, where) for v, d in zip(lit, desc["items"]))
    if t == "dict":
        keyed = desc["key"]["t"] != "str"
        return {
            (json.loads(k) if keyed else k): _decode(v, desc["of"], store, where)
            for k, v in lit.items()
        }
    if t == "dataclass":
        cls = import_ref(desc["ref"])
        kwargs = {
            name: _decode(lit[name], fdesc, store, f"{where}, field {name!r}")
            for name, fdesc in desc["fields"].items()
        }
        return cls(**kwargs)
    if t == "enum":
        cls = import_ref(desc["ref"])
        if not issubclass(cls, enum.Enum):
            raise TypeConversionError(f"{where}: {desc['ref']} is not an Enum")
        return cls(lit)
    if t == "file":
        return _decode_file(lit, desc, store)
    if t == "dir":
        return _decode_dir(lit, store)
    return pickle.loads(store.get(lit["pickle"]))


def _materialize(key: str, name: str, store: Store) -> str:
    """A local copy of blob `key` named `name`, kept under the cache folder and reused."""
    folder = cache_dir() / "files" / key.rpartition("/")[2]
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(store.get(key))
        os.replace(tmp, path)
    return str(path)


def _decode_file(lit: dict, desc: TypeDesc, store: Store) -> File:
    cls: type[File] = File
    ref = desc.get("ref")
    if ref:
        try:
            found = import_ref(ref)
            cls = found if isinstance(found, type) and issubclass(found, File) else File
        except Exception:
            cls = File
    obj = cls(_materialize(lit["key"], lit["name"], store))
    obj._literal = lit
    return obj


def _decode_dir(lit: dict, store: Store) -> Directory:
    digest = sha256(dumps(lit["files"]))
    root = cache_dir() / "dirs" / digest / lit["name"]
    for rel, key in lit["files"].items():
        target = root / rel
        if not target.exists():
            data = store.get(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Written aside and renamed, so a reader never sees a half-written file.
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
    root.mkdir(parents=True, exist_ok=True)
    obj = Directory(str(root))
    obj._literal = lit
    return obj
