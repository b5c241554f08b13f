"""Type descriptors: the JSON form of a Python annotation, and the checks made on them.

A descriptor is a small dict, e.g. `{"t": "list", "of": {"t": "float"}}`. Specs carry
descriptors, never Python classes, so a graph can be checked and moved without importing
user code. Types with no converter fall back to `{"t": "pickle"}`.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import os
import types
import typing
from typing import Any

from sdk.errors import GraftError
from sdk.types import Directory, File

TypeDesc = dict[str, Any]

_SIMPLE: dict[type, str] = {int: "int", float: "float", str: "str", bool: "bool", bytes: "bytes"}
_SIMPLE_NAMES = {v: k for k, v in _SIMPLE.items()}
_KEY_KINDS = {"str", "int", "float", "bool"}


def qualified_name(obj: Any) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def import_ref(ref: str) -> Any:
    """Import `module:qualname` and return the object; GraftError when it cannot."""
    module_name, _, qualname = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise GraftError(f"cannot import {ref!r}: {exc}") from exc
    return obj


def describe(tp: Any) -> TypeDesc:
    """The descriptor of an annotation. Unknown types fall back to pickle."""
    if tp is inspect.Parameter.empty or tp is typing.Any or tp is object:
        return {"t": "any"}
    if tp is None or tp is type(None):
        return {"t": "none"}
    if tp in _SIMPLE:
        return {"t": _SIMPLE[tp]}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, typing.List) or tp is list:  # noqa: UP006
        return {"t": "list", "of": describe(args[0]) if args else {"t": "any"}}
    if origin in (dict, typing.Dict) or tp is dict:  # noqa: UP006
        key = describe(args[0]) if args else {"t": "str"}
        if key["t"] not in _KEY_KINDS:
            return {"t": "pickle", "ref": _ref_or_none(tp)}
        return {"t": "dict", "key": key, "of": describe(args[1]) if args else {"t": "any"}}
    if origin in (tuple, typing.Tuple) and args and args[-1] is not Ellipsis:  # noqa: UP006
        return {"t": "tuple", "items": [describe(a) for a in args]}
    if origin in (typing.Union, getattr(types, "UnionType", typing.Union)):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return {"t": "optional", "of": describe(rest[0])}
        return {"t": "pickle", "ref": None}
    if isinstance(tp, type):
        if issubclass(tp, File):
            return {"t": "file", "format": tp.format, "ref": qualified_name(tp)}
        if issubclass(tp, Directory):
            return {"t": "dir"}
        if dataclasses.is_dataclass(tp):
            hints = typing.get_type_hints(tp)
            fields = {f.name: describe(hints.get(f.name, Any)) for f in dataclasses.fields(tp)}
            return {"t": "dataclass", "ref": qualified_name(tp), "fields": fields}
        if issubclass(tp, enum.Enum):
            values = [m.value for m in tp]
            if all(isinstance(v, (str, int, float, bool)) for v in values):
                return {"t": "enum", "ref": qualified_name(tp), "values": values}
            return {"t": "pickle", "ref": qualified_name(tp)}  # values JSON cannot hold
    return {"t": "pickle", "ref": _ref_or_none(tp)}


def _ref_or_none(tp: Any) -> str | None:
    return qualified_name(tp) if isinstance(tp, type) else None


def type_name(desc: TypeDesc) -> str:
    """A readable name for a descriptor, in typing's notation."""
    t = desc["t"]
    if t in _SIMPLE_NAMES or t in ("any", "none"):
        return {"any": "Any", "none": "None"}.get(t, t)
    if t == "list":
        return f"List[{type_name(desc['of'])}]"
    if t == "dict":
        return f"Dict[{type_name(desc['key'])}, {type_name(desc['of'])}]"
    if t == "optional":
        return f"Optional[{type_name(desc['of'])}]"
    if t == "tuple":
        return f"Tuple[{', '.join(type_name(d) for d in desc['items'])}]"
    if t == "dir":
        return "Directory"
    ref = desc.get("ref") or "object"
    return ref.rpartition(":")[2] + (" (pickled)" if t == "pickle" else "")


def is_assignable(src: TypeDesc, dst: TypeDesc) -> bool:
    """Whether a value of type `src` may bind to an input of type `dst`."""
    s, d = src["t"], dst["t"]
    if d == "any" or s == "any":
        return True
    if d == "optional":
        return s == "none" or is_assignable(src["of"] if s == "optional" else src, dst["of"])
    if s == "optional":
        return False
    if s == d:
        if s == "list":
            return is_assignable(src["of"], dst["of"])
        if s == "dict":
            return src["key"] == dst["key"] and is_assignable(src["of"], dst["of"])
        if s == "tuple":
            return len(src["items"]) == len(dst["items"]) and all(
                is_assignable(a, b) for a, b in zip(src["items"], dst["items"])
            )
        if s == "file":
            return not dst["format"] or not src["format"] or src["format"] == dst["format"]
        if s in ("dataclass", "enum", "pickle"):
            return src.get("ref") == dst.get("ref") or dst.get("ref") is None
        return True
    return s == "int" and d == "float"


def check_value(value: Any, desc: TypeDesc) -> str | None:
    """None when `value` fits `desc`, else a short reason naming what was found."""
    t = desc["t"]
    if t in ("any", "pickle"):
        if t == "pickle" and desc.get("ref"):
            cls = _try_import(desc["ref"])
            if isinstance(cls, type) and not isinstance(value, cls):
                return f"expected {type_name(desc)}, got {type(value).__name__}"
        return None
    if t == "none":
        return None if value is None else f"expected None, got {type(value).__name__}"
    if t == "optional":
        return None if value is None else check_value(value, desc["of"])
    if t == "bool":
        ok = isinstance(value, bool)
    elif t == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif t == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif t == "str":
        ok = isinstance(value, str)
    elif t == "bytes":
        ok = isinstance(value, (bytes, bytearray))
    elif t in ("list", "tuple"):
        if not isinstance(value, (list, tuple)):
            return f"expected {type_name(desc)}, got {type(value).__name__}"
        items = [desc["of"]] * len(value) if t == "list" else desc["items"]
        if len(items) != len(value):
            return f"expected {len(items)} items for {type_name(desc)}, got {len(value)}"
        for i, (item, sub) in enumerate(zip(value, items)):
            reason = check_value(item, sub)
            if reason:
                return f"item {i}: {reason}"
        return None
    elif t == "dict":
        if not isinstance(value, dict):
            return f"expected {type_name(desc)}, got {type(value).__name__}"
        for k, v in value.items():
            reason = check_value(k, desc["key"]) or check_value(v, desc["of"])
            if reason:
                return f"key {k!r}: {reason}"
        return None
    elif t == "file":
        ok = isinstance(value, (str, File)) or (
            isinstance(value, os.PathLike) and not isinstance(value, Directory)
        )
    elif t == "dir":
        ok = isinstance(value, (str, Directory, os.PathLike))
    elif t in ("dataclass", "enum"):
        cls = _try_import(desc["ref"])
        ok = isinstance(value, cls) if isinstance(cls, type) else True
        if ok and t == "dataclass":
            # Fields are checked too: encoding trusts them, and a wrong one must fail here,
            # named, not later as a stray AttributeError or ValueError.
            for name, fdesc in desc["fields"].items():
                if not hasattr(value, name):
                    return f"expected {type_name(desc)}, got {type(value).__name__} " \
                           f"without field {name!r}"
                reason = check_value(getattr(value, name), fdesc)
                if reason:
                    return f"field {name!r}: {reason}"
    else:
        return f"unknown type descriptor {t!r}"
    return None if ok else f"expected {type_name(desc)}, got {type(value).__name__}"


def _try_import(ref: str) -> Any:
    try:
        return import_ref(ref)
    except GraftError:
        return None
