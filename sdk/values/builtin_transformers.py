"""graft's transformers for the types a user transformer converts its parts with, in
flytekit's literal shapes: `int`, `float`, `str`, `bool`, datetimes and durations as
primitives, `None` as void, `List[T]` as a collection, `Dict[str, T]` as a map, `File` and
`Directory` as blobs (their local path as the uri), Enums as strings.

Any other type gets `GraftValueTransformer`: its literal is a generic scalar holding graft's
own literal of the value (files and pickles in graft's store), which it turns back into the
value. graft's conversion of task inputs and outputs never goes through these; they are what
`TypeEngine.to_literal` and `to_python_value` give user code.
"""

from __future__ import annotations

import contextvars
import datetime
import enum
import os
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sdk.model.store import Store
from sdk.values import handlers
from sdk.values.files import Directory, File
from sdk.values.flyte_literals import (
    Blob,
    BlobMetadata,
    Literal,
    LiteralCollection,
    LiteralMap,
    Primitive,
    Scalar,
    Void,
)
from sdk.values.flyte_types import BlobType, EnumType, LiteralType, SimpleType
from sdk.values.type_engine import (
    SimpleTransformer,
    TypeEngine,
    TypeTransformer,
    TypeTransformerFailedError,
)

_store: contextvars.ContextVar[Store | None] = contextvars.ContextVar("graft_transformer_store",
                                                                      default=None)


@contextmanager
def using_store(store: Store) -> Iterator[None]:
    """Convert with `store` (the store of the value being converted) inside this block."""
    token = _store.set(store)
    try:
        yield
    finally:
        _store.reset(token)


def current_store() -> Store:
    store = _store.get()
    if store is None:
        from sdk.values.store import default_store

        store = default_store()
    return store


def _builtin(transformer: TypeTransformer) -> TypeTransformer:
    transformer._graft_builtin = True  # type: ignore[attr-defined]
    return transformer


def _primitive(name: str, t: type, simple: int, field: str) -> TypeTransformer:
    return _builtin(SimpleTransformer(
        name, t, LiteralType(simple=simple),
        lambda v: Literal(scalar=Scalar(primitive=Primitive(**{field: v}))),
        lambda lv: getattr(lv.scalar.primitive, field)))


def _date_from(lv: Literal) -> datetime.date:
    return lv.scalar.primitive.datetime.date()


def _void_to(v: None) -> Literal:
    return Literal(scalar=Scalar(none_type=Void()))


class NoneTransformer(TypeTransformer[None]):
    def __init__(self) -> None:
        super().__init__("none", type(None))

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType(simple=SimpleType.NONE)

    def to_literal(self, ctx: Any, python_val: Any, python_type: Any,
                   expected: LiteralType) -> Literal:
        return _void_to(None)

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: Any) -> None:
        return None


class ListTransformer(TypeTransformer[list]):
    """`List[T]`: a collection of the items' literals."""

    def __init__(self) -> None:
        super().__init__("Typed List", list)

    @staticmethod
    def get_sub_type(t: Any) -> Any:
        args = typing.get_args(t)
        return args[0] if args else Any

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType(collection_type=TypeEngine.to_literal_type(self.get_sub_type(t)))

    def to_literal(self, ctx: Any, python_val: Any, python_type: Any,
                   expected: LiteralType) -> Literal:
        if not isinstance(python_val, list):
            raise TypeTransformerFailedError(f"Expected a list, got {type(python_val)}")
        sub = self.get_sub_type(python_type)
        sub_lt = expected.collection_type if expected is not None else None
        return Literal(collection=LiteralCollection(
            [TypeEngine.to_literal(ctx, v, sub, sub_lt) for v in python_val]))

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: Any) -> list:
        sub = self.get_sub_type(expected_python_type)
        return [TypeEngine.to_python_value(ctx, x, sub) for x in lv.collection.literals]

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        if literal_type.collection_type is not None:
            return list[TypeEngine.guess_python_type(literal_type.collection_type)]  # type: ignore[misc]
        raise ValueError(f"{self} cannot reverse {literal_type}")


class DictTransformer(TypeTransformer[dict]):
    """`Dict[str, T]`: a map of the values' literals; other dicts as graft's values."""

    def __init__(self) -> None:
        super().__init__("Typed Dict", dict)

    @staticmethod
    def extract_types(t: Any) -> tuple[Any, Any]:
        args = typing.get_args(t)
        return (args[0], args[1]) if len(args) == 2 else (None, None)

    def _typed(self, t: Any) -> bool:
        return self.extract_types(t)[0] is str

    def get_literal_type(self, t: Any) -> LiteralType:
        if self._typed(t):
            return LiteralType(map_value_type=TypeEngine.to_literal_type(
                self.extract_types(t)[1]))
        return GRAFT_VALUE.get_literal_type(t)

    def to_literal(self, ctx: Any, python_val: Any, python_type: Any,
                   expected: LiteralType) -> Literal:
        if not isinstance(python_val, dict):
            raise TypeTransformerFailedError(f"Expected a dict, got {type(python_val)}")
        if not self._typed(python_type):
            return GRAFT_VALUE.to_literal(ctx, python_val, python_type, expected)
        sub = self.extract_types(python_type)[1]
        sub_lt = expected.map_value_type if expected is not None else None
        return Literal(map=LiteralMap({k: TypeEngine.to_literal(ctx, v, sub, sub_lt)
                                       for k, v in python_val.items()}))

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: Any) -> dict:
        if lv.map is None:
            return GRAFT_VALUE.to_python_value(ctx, lv, expected_python_type)
        sub = self.extract_types(expected_python_type)[1] or Any
        return {k: TypeEngine.to_python_value(ctx, x, sub) for k, x in lv.map.literals.items()}

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        if literal_type.map_value_type is not None:
            return dict[str, TypeEngine.guess_python_type(literal_type.map_value_type)]  # type: ignore[misc]
        raise ValueError(f"{self} cannot reverse {literal_type}")


class PathTransformer(TypeTransformer[Any]):
    """`File` (a single blob) and `Directory` (a multipart blob) at their local path."""

    def __init__(self, t: type, dimensionality: int):
        super().__init__("FlyteFilePath" if t is File else "FlyteDirectory", t)
        self._dimensionality = dimensionality

    def get_literal_type(self, t: Any) -> LiteralType:
        fmt = getattr(t, "format", "") if isinstance(t, type) else ""
        return LiteralType(blob=BlobType(fmt or "", self._dimensionality))

    def assert_type(self, t: Any, v: Any) -> None:
        if not isinstance(v, (str, os.PathLike)):
            raise TypeTransformerFailedError(f"Expected a path or {t}, got {type(v)}")

    def to_literal(self, ctx: Any, python_val: Any, python_type: Any,
                   expected: LiteralType) -> Literal:
        meta = BlobMetadata(self.get_literal_type(python_type).blob)
        return Literal(scalar=Scalar(blob=Blob(meta, uri=os.fspath(python_val))))

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: Any) -> Any:
        cls = expected_python_type if isinstance(expected_python_type, type) else \
            self.python_type
        return cls(lv.scalar.blob.uri)

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        blob = literal_type.blob
        if blob is not None and blob.dimensionality == self._dimensionality:
            return self.python_type
        raise ValueError(f"{self} cannot reverse {literal_type}")


class EnumTransformer(TypeTransformer[enum.Enum]):
    """An Enum as the string of its value."""

    def __init__(self) -> None:
        super().__init__("Enum", enum.Enum)

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType(enum_type=EnumType([str(m.value) for m in t]))

    def to_literal(self, ctx: Any, python_val: Any, python_type: Any,
                   expected: LiteralType) -> Literal:
        return Literal(scalar=Scalar(primitive=Primitive(string_value=str(python_val.value))))

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: Any) -> Any:
        text = lv.scalar.primitive.string_value
        for member in expected_python_type:
            if str(member.value) == text:
                return member
        raise TypeTransformerFailedError(f"{text!r} is no value of {expected_python_type}")


class GraftValueTransformer(TypeTransformer[Any]):
    """Any other type: a generic scalar `{"graft": literal, "type": descriptor}` holding
    graft's own literal of the value."""

    def __init__(self) -> None:
        super().__init__("graft value", object)

    def assert_type(self, t: Any, v: Any) -> None:
        reason = handlers.check_value(v, handlers.describe(t))
        if reason:
            raise TypeTransformerFailedError(reason)

    def get_literal_type(self, t: Any) -> LiteralType:
        return LiteralType(simple=SimpleType.STRUCT, metadata={"graft": handlers.describe(t)})

    def to_literal(self, ctx: Any, python_val: Any, python_type: Any,
                   expected: LiteralType) -> Literal:
        desc = handlers.describe(python_type)
        lit = handlers.encode(python_val, desc, current_store(), "TypeEngine.to_literal")
        return Literal(scalar=Scalar(generic={"graft": lit, "type": desc}))

    def to_python_value(self, ctx: Any, lv: Literal, expected_python_type: Any) -> Any:
        generic = lv.scalar.generic if lv.scalar is not None else None
        if not isinstance(generic, dict) or "graft" not in generic:
            raise TypeTransformerFailedError(f"Cannot convert literal {lv} to "
                                             f"{expected_python_type}")
        return handlers.decode(generic["graft"], handlers.describe(expected_python_type),
                               current_store(), "TypeEngine.to_python_value")

    def guess_python_type(self, literal_type: LiteralType) -> Any:
        raise ValueError(f"{self} cannot reverse {literal_type}")


GRAFT_VALUE = _builtin(GraftValueTransformer())


def _install() -> None:
    S = SimpleType
    for transformer in (
            _primitive("int", int, S.INTEGER, "integer"),
            _primitive("float", float, S.FLOAT, "float_value"),
            _primitive("str", str, S.STRING, "string_value"),
            _primitive("bool", bool, S.BOOLEAN, "boolean"),
            _primitive("datetime", datetime.datetime, S.DATETIME, "datetime"),
            _primitive("timedelta", datetime.timedelta, S.DURATION, "duration"),
            _builtin(SimpleTransformer(
                "date", datetime.date, LiteralType(simple=S.DATETIME),
                lambda v: Literal(scalar=Scalar(primitive=Primitive(
                    datetime=datetime.datetime.combine(v, datetime.time())))), _date_from)),
            _builtin(NoneTransformer()), _builtin(ListTransformer()),
            _builtin(DictTransformer()),
            _builtin(PathTransformer(File, BlobType.BlobDimensionality.SINGLE)),
            _builtin(PathTransformer(Directory, BlobType.BlobDimensionality.MULTIPART))):
        TypeEngine.register(transformer)
    TypeEngine._ENUM = _builtin(EnumTransformer())
    TypeEngine._FALLBACK = GRAFT_VALUE


_install()
