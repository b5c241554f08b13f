"""Handlers for Python's own types: scalars, containers, dataclasses, Enums, and the pickle
fallback for everything else (`typing.Any`: `sdk.values.any_type`)."""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import types
import typing
from collections.abc import Iterable, Iterator
from typing import Any

from sdk.model.errors import CompileError, GraftError, TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import (
    DictRule,
    ListRule,
    OptionalRule,
    PickleRule,
    ScalarRule,
    TupleRule,
    TypeDesc,
    UnionRule,
    type_name,
)
from sdk.values import handlers, pickled
from sdk.values.any_type import is_exact_json
from sdk.values.handlers import TypeHandler, register
from sdk.values.iterators import FlyteIterator, is_iterator_annotation
from sdk.values.type_engine import BatchSize

_KEY_KINDS = {"str", "int", "float", "bool"}


def _expected(desc: TypeDesc, value: Any) -> str:
    return f"expected {type_name(desc)}, got {type(value).__name__}"


def _json(raw: str, want: type, shape: str, desc: TypeDesc) -> Any:
    """JSON command-line text of the shape a container needs, decoded as `desc`."""
    from sdk.values.store import MemoryStore

    value = json.loads(raw)
    if not isinstance(value, want):
        kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
                 int: "a number", float: "a number", type(None): "null"}
        raise ValueError(f"expected {shape}, got {kinds.get(type(value), 'JSON')}")
    return handlers.decode(value, desc, MemoryStore(), "command-line value")


class NoneHandler(ScalarRule, TypeHandler):
    kind = "none"
    display = "None"

    def describe(self, tp: Any) -> TypeDesc | None:
        return {"t": "none"} if tp is None or tp is type(None) else None

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        return None if value is None else _expected(desc, value)

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        if raw.lower() in ("none", "null", ""):
            return None
        raise ValueError("expected none")


class ScalarHandler(ScalarRule, TypeHandler):
    """int, float, str and bool: JSON holds them as they are (an int may feed a float)."""

    def __init__(self, py: type, kind: str):
        super().__init__(kind)
        self.py = py

    def describe(self, tp: Any) -> TypeDesc | None:
        return {"t": self.kind} if tp is self.py else None

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        if isinstance(value, bool) and self.kind != "bool":
            return _expected(desc, value)
        ok = isinstance(value, (int, float)) if self.kind == "float" else isinstance(value,
                                                                                   self.py)
        return None if ok else _expected(desc, value)

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return float(value) if self.kind == "float" else value

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return float(lit) if self.kind == "float" else lit

    def normalise(self, lit: Any, desc: TypeDesc) -> Any:
        if self.kind == "float" and isinstance(lit, int) and not isinstance(lit, bool):
            return float(lit)
        return lit

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        if self.kind == "bool":
            if raw.lower() in ("true", "1", "yes", "y"):
                return True
            if raw.lower() in ("false", "0", "no", "n"):
                return False
            raise ValueError("expected true or false")
        return self.py(raw)


class BytesHandler(ScalarRule, TypeHandler):
    kind = "bytes"

    def describe(self, tp: Any) -> TypeDesc | None:
        return {"t": "bytes"} if tp is bytes else None

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        return None if isinstance(value, (bytes, bytearray)) else _expected(desc, value)

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return base64.b64encode(bytes(value)).decode()

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return base64.b64decode(lit)

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        return raw.encode()


class OptionalHandler(OptionalRule, TypeHandler):
    kind = "optional"

    def describe(self, tp: Any) -> TypeDesc | None:
        if typing.get_origin(tp) not in (typing.Union, getattr(types, "UnionType", None)):
            return None
        args = typing.get_args(tp)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            return {"t": "optional", "of": handlers.describe(rest[0])}
        return None  # a Union of several types: UnionHandler

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        return None if value is None else handlers.check_value(value, desc["of"])

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return None if value is None else handlers.encode_checked(value, desc["of"], store,
                                                                  where)

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return None if lit is None else handlers.decode(lit, desc["of"], store, where)

    def normalise(self, lit: Any, desc: TypeDesc) -> Any:
        return None if lit is None else handlers.normalise(lit, desc["of"])

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        return iter(()) if lit is None else handlers.store_keys(lit, desc["of"])

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        if raw.lower() in ("none", "null"):
            return None
        return handlers.parse_text(raw, desc["of"])


class UnionHandler(UnionRule, TypeHandler):
    """`Union[A, B, ...]` of several types besides None. A value is stored as the first of
    its types that it fits stores it, and read back as the first of them that can read what
    is stored: so a value of another type that binds to the Union (an int for
    `Union[int, str]`) is read as it was stored, and types stored alike (a str and an Enum of
    str values) come back as the first of them."""

    kind = "union"

    def describe(self, tp: Any) -> TypeDesc | None:
        if typing.get_origin(tp) not in (typing.Union, getattr(types, "UnionType", None)):
            return None
        return {"t": "union", "of": [handlers.describe(a) for a in typing.get_args(tp)]}

    def _fitting(self, value: Any, desc: TypeDesc) -> TypeDesc | None:
        return next((v for v in desc["of"] if handlers.check_value(value, v) is None), None)

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        return None if self._fitting(value, desc) is not None else _expected(desc, value)

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        variant = self._fitting(value, desc)
        assert variant is not None  # checked
        return handlers.encode_checked(value, variant, store, where)

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        for variant in desc["of"]:
            try:
                value = handlers.decode(lit, variant, store, where)
            except TypeConversionError:
                continue
            if handlers.check_value(value, variant) is None:
                return value
        raise TypeConversionError(f"{where}: the stored value is none of {type_name(desc)}")

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        for variant in desc["of"]:
            try:
                keys = list(handlers.store_keys(lit, variant))
            except (TypeError, ValueError, KeyError, AttributeError, IndexError):
                continue
            if keys:
                return iter(keys)
        return iter(())

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        for variant in desc["of"]:
            try:
                return handlers.parse_text(raw, variant)
            except (ValueError, GraftError):
                continue
        raise ValueError(f"expected one of {type_name(desc)}")


class ListHandler(ListRule, TypeHandler):
    """Lists, and `Iterator[T]` (`"iter": True`: kept as the list of its items, given to a
    task as a `FlyteIterator`; `sdk.values.iterators`). `Annotated[List[T], BatchSize(n)]`
    of a T that graft pickles (`"batch": n`) pickles its items n to a store object
    (`sdk.values.pickled`); a downstream list of T reads them as any list."""

    kind = "list"

    def name(self, desc: TypeDesc) -> str:
        return f"Iterator[{type_name(desc['of'])}]" if desc.get("iter") else super().name(desc)

    def describe(self, tp: Any) -> TypeDesc | None:
        if typing.get_origin(tp) is list or tp is list:
            args = typing.get_args(tp)
            return {"t": "list", "of": handlers.describe(args[0]) if args else {"t": "any"}}
        if is_iterator_annotation(tp):
            args = typing.get_args(tp)
            return {"t": "list", "of": handlers.describe(args[0]) if args else {"t": "any"},
                    "iter": True}
        if typing.get_origin(tp) is typing.Annotated:
            return self._batched(tp)
        return None

    def _batched(self, tp: Any) -> TypeDesc | None:
        base, *extras = typing.get_args(tp)
        sizes = [e.val for e in extras if isinstance(e, BatchSize)]
        if not sizes:
            return None
        desc = handlers.describe(base)
        if desc["t"] != "list" or desc["of"]["t"] not in _PICKLED:
            return desc if desc["t"] == "list" else None  # BatchSize(n) does nothing there
        size = sizes[0]
        if type(size) is not int or size < 1:
            raise TypeConversionError(f"{tp}: BatchSize takes a positive int, got {size!r}")
        return {**desc, "batch": size}

    def _items(self, value: Any, desc: TypeDesc) -> list[TypeDesc]:
        return [desc["of"]] * len(value)

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        if desc.get("iter") and not isinstance(value, (list, tuple)):
            # an iterator not run yet: its items are checked when it is encoded
            return None if isinstance(value, Iterable) else _expected(desc, value)
        if not isinstance(value, (list, tuple)):
            return _expected(desc, value)
        items = self._items(value, desc)
        if len(items) != len(value):
            return f"expected {len(items)} items for {type_name(desc)}, got {len(value)}"
        for i, (item, sub) in enumerate(zip(value, items)):
            reason = handlers.check_value(item, sub)
            if reason:
                return f"item {i}: {reason}"
        return None

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        if desc.get("iter") and not isinstance(value, (list, tuple)):
            value = list(value)
            reason = self.check(value, desc)
            if reason:
                raise TypeConversionError(f"{where}: {reason}")
        if desc.get("batch"):
            return _encode_batched(value, desc, store, where)
        scalar = _scalar_list(desc)
        if scalar is not None:
            return scalar(value)  # checked: the literal is a list of the items
        out: list[Any] = []
        try:
            for v, d in zip(value, self._items(value, desc)):
                out.append(handlers.encode_checked(v, d, store, where))
        except TypeConversionError as exc:
            raise handlers.located(exc, where, f"item {len(out)}") from exc.__cause__
        return out

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        if not isinstance(lit, list):
            raise TypeError(f"a list literal is a JSON list, got {type(lit).__name__}")
        scalar = _scalar_list(desc)
        if scalar is not None:
            return scalar(lit)  # a new list, as the loop below makes, at C speed
        with pickled.batch_scope():
            items = [handlers.decode(v, d, store, where)
                     for v, d in zip(lit, self._items(lit, desc))]
        return FlyteIterator(items) if desc.get("iter") else items

    def normalise(self, lit: Any, desc: TypeDesc) -> Any:
        if not isinstance(lit, list):
            return lit
        return [handlers.normalise(v, d) for v, d in zip(lit, self._items(lit, desc))]

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        for v, d in zip(lit, self._items(lit, desc)):
            yield from handlers.store_keys(v, d)

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        return _json(raw, list, "a JSON list, e.g. [1, 2]", desc)


_PICKLED = ("pickle", "any")  # item kinds whose items BatchSize batches


def _floats(items: Any) -> list[float]:
    return list(map(float, items))


# Lists of scalars: what ScalarHandler does to each item, done to the whole list at once
# (a list of a million items is encoded and decoded in milliseconds, not a second).
_SCALAR_LISTS: dict[str, Any] = {"int": list, "str": list, "bool": list, "float": _floats}


def _scalar_list(desc: TypeDesc) -> Any:
    """What makes the literal or value of a plain list of scalars at once, or None (tuples,
    iterators and lists of other items go item by item)."""
    if desc.get("t") != "list" or desc.get("iter"):
        return None
    return _SCALAR_LISTS.get(desc["of"].get("t", ""))


def _encode_batched(value: Any, desc: TypeDesc, store: Store, where: str) -> list[Any]:
    """The items of a checked list, those graft pickles `desc["batch"]` to a store object (an
    `Any` item JSON holds stays as its JSON)."""
    as_json = desc["of"]["t"] == "any"
    out: list[Any] = list(value)
    to_pickle = [i for i, v in enumerate(value) if not (as_json and is_exact_json(v))]
    lits = pickled.put_batches([value[i] for i in to_pickle], desc["batch"], store, where,
                               to_pickle)
    for i, lit in zip(to_pickle, lits):
        out[i] = lit
    return out


class TupleHandler(TupleRule, ListHandler):
    kind = "tuple"

    def describe(self, tp: Any) -> TypeDesc | None:
        args = typing.get_args(tp)
        if tp is tuple or (typing.get_origin(tp) is tuple and not args):
            raise CompileError("a bare tuple annotation says nothing of its items, and "
                               "flytekit refuses it: write Tuple[int, str] (or List[int])")
        if typing.get_origin(tp) is tuple and args and args[-1] is not Ellipsis:
            return {"t": "tuple", "items": [handlers.describe(a) for a in args]}
        return None

    def _items(self, value: Any, desc: TypeDesc) -> list[TypeDesc]:
        return list(desc["items"])

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return tuple(super().decode(lit, desc, store, where))

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        return _json(raw, list, 'a JSON list, e.g. [1, "a"]', desc)


class DictHandler(DictRule, TypeHandler):
    """Dicts with str, int, float or bool keys; other keys are JSON-encoded strings."""

    kind = "dict"

    def describe(self, tp: Any) -> TypeDesc | None:
        if typing.get_origin(tp) is not dict and tp is not dict:
            return None
        args = typing.get_args(tp)
        key = handlers.describe(args[0]) if args else {"t": "str"}
        if key["t"] not in _KEY_KINDS:
            return {"t": "pickle", "ref": handlers.class_ref(tp) if isinstance(tp, type) else None}
        return {"t": "dict", "key": key, "of": handlers.describe(args[1]) if args else
                {"t": "any"}}

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        if not isinstance(value, dict):
            return _expected(desc, value)
        for k, v in value.items():
            reason = handlers.check_value(k, desc["key"]) or handlers.check_value(v, desc["of"])
            if reason:
                return f"key {k!r}: {reason}"
        return None

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        keyed = desc["key"]["t"] != "str"
        out: dict[str, Any] = {}
        for k, v in value.items():
            try:
                out[json.dumps(k) if keyed else k] = handlers.encode_checked(v, desc["of"], store,
                                                                             where)
            except TypeConversionError as exc:
                raise handlers.located(exc, where, f"key {k!r}") from exc.__cause__
        return out

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        if not isinstance(lit, dict):
            raise TypeError(f"a dict literal is a JSON object, got {type(lit).__name__}")
        keyed = desc["key"]["t"] != "str"
        return {(json.loads(k) if keyed else k): handlers.decode(v, desc["of"], store, where)
                for k, v in lit.items()}

    def normalise(self, lit: Any, desc: TypeDesc) -> Any:
        if not isinstance(lit, dict):
            return lit
        float_keys = desc["key"]["t"] == "float"
        return {(json.dumps(float(json.loads(k))) if float_keys else k):
                handlers.normalise(v, desc["of"]) for k, v in lit.items()}

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        for v in lit.values():
            yield from handlers.store_keys(v, desc["of"])

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        return _json(raw, dict, 'a JSON object, e.g. {"a": 1}', desc)


def _is_dataclass(cls: type) -> bool:
    return dataclasses.is_dataclass(cls)


class DataclassHandler(TypeHandler):
    kind = "dataclass"

    def describe(self, tp: Any) -> TypeDesc | None:
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            return None
        hints = typing.get_type_hints(tp, include_extras=True)
        fields = {f.name: handlers.describe(hints.get(f.name, Any))
                  for f in dataclasses.fields(tp)}
        return {"t": "dataclass", "ref": handlers.class_ref(tp), "fields": fields}

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        cls = handlers.try_class(desc.get("ref"))
        if cls is not None and not isinstance(value, cls):
            return _expected(desc, value)
        # Fields are checked too: encoding trusts them, and a wrong one must fail here,
        # named, not later as a stray AttributeError or ValueError.
        for name, fdesc in desc["fields"].items():
            if not hasattr(value, name):
                return f"{_expected(desc, value)} without field {name!r}"
            reason = handlers.check_value(getattr(value, name), fdesc)
            if reason:
                return f"field {name!r}: {reason}"
        return None

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return {name: handlers.encode_checked(getattr(value, name), fdesc, store,
                                              f"{where}, field {name!r}")
                for name, fdesc in desc["fields"].items()}

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        cls = handlers.resolve_class(desc["ref"], _is_dataclass, "a dataclass", where)
        kwargs = {name: handlers.decode(lit[name], fdesc, store, f"{where}, field {name!r}")
                  for name, fdesc in desc["fields"].items()}
        return cls(**kwargs)

    def normalise(self, lit: Any, desc: TypeDesc) -> Any:
        if not isinstance(lit, dict):
            return lit
        return {k: handlers.normalise(v, desc["fields"][k]) if k in desc["fields"] else v
                for k, v in lit.items()}

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        for name, fdesc in desc["fields"].items():
            if name in lit:
                yield from handlers.store_keys(lit[name], fdesc)

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        return _json(raw, dict, "a JSON object of its fields", desc)


def _is_enum(cls: type) -> bool:
    return issubclass(cls, enum.Enum)


class EnumHandler(TypeHandler):
    """Enums whose values JSON holds travel as their value; others are pickled."""

    kind = "enum"

    def describe(self, tp: Any) -> TypeDesc | None:
        if not (isinstance(tp, type) and issubclass(tp, enum.Enum)):
            return None
        values = [m.value for m in tp]
        if all(isinstance(v, (str, int, float, bool)) for v in values):
            return {"t": "enum", "ref": handlers.class_ref(tp), "values": values}
        return {"t": "pickle", "ref": handlers.class_ref(tp)}

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        cls = handlers.try_class(desc.get("ref"))
        return None if cls is None or isinstance(value, cls) else _expected(desc, value)

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return value.value

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        cls = handlers.resolve_class(desc["ref"], _is_enum, "an Enum", where)
        return cls(lit)

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        """The member whose value reads as `raw`, else the member named `raw`, else `raw` as
        the JSON of a value (`'"red"'`)."""
        cls = handlers.resolve_class(desc["ref"], _is_enum, "an Enum", "command-line value")
        for member in cls:
            if str(member.value) == raw:
                return member
        if raw in cls.__members__:
            return cls[raw]
        try:
            return cls(json.loads(raw))
        except (ValueError, TypeError):
            pass
        raise ValueError(f"expected one of {', '.join(str(m.value) for m in cls)} (or a member "
                         f"name: {', '.join(cls.__members__)})")


class PickleHandler(PickleRule, TypeHandler):
    """Values of types no other handler takes: pickled into the store, content-addressed.
    Unpickling runs code, so only bytes that match the hash in their key are unpickled."""

    kind = "pickle"

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        cls = handlers.try_class(desc.get("ref"))
        return None if cls is None or isinstance(value, cls) else _expected(desc, value)

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return pickled.put_pickle(value, store, where)

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return pickled.load(lit, store)

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        if isinstance(lit, dict) and isinstance(lit.get("pickle"), str):
            yield lit["pickle"]


register(NoneHandler())
for _py, _kind in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str")):
    register(ScalarHandler(_py, _kind))
register(BytesHandler())
register(OptionalHandler())
register(UnionHandler())
register(ListHandler())
register(TupleHandler())
register(DictHandler())
register(DataclassHandler())
register(EnumHandler())
register(PickleHandler())
