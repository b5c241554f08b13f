"""How values of type `typing.Any` (and of unannotated inputs and outputs) travel.

A value JSON holds exactly -- None, bool, int, float, str, and lists and str-keyed dicts of
those, each of exactly those types -- travels as its JSON literal, as it always has: readable
on the board, inline when small, hashed by content for cache keys. Any other value (a tuple, a
set, a datetime, an object of the user's class, a dict with int keys, an Enum member) is
pickled into the store, as flytekit pickles every `typing.Any` value (its FlytePickle), so
the task downstream gets back a value of the same type, not what JSON made of it.

A pickled value's literal is `{"pickle": key}`, the literal of the pickle fallback (or, for an
item of a list pickled in batches, `{"pickle": key, "at": i}`: `sdk.values.pickled`). A dict
value of either shape is pickled too, so a literal of that shape is always a pickle.
A value that cannot be pickled either (a lock, a generator, an open file) is a
TypeConversionError naming where it was met (the output and the task, the input).
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

from sdk.model.errors import TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import ScalarRule, TypeDesc
from sdk.values import pickled
from sdk.values.handlers import TypeHandler, register

_SCALARS = (type(None), bool, int, float, str)
_MAX_DEPTH = 200  # deeper nesting is pickled (json.dumps would recurse as deep)


def is_exact_json(value: Any) -> bool:
    """Whether `value` comes back from JSON equal and of the same types, and cannot be taken
    for a pickled value's literal."""
    return _exact(value, 0, set())


def _exact(value: Any, depth: int, path: set[int]) -> bool:
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth >= _MAX_DEPTH or id(value) in path:  # too deep, or a cycle
        return False
    if kind is list:
        items: Any = value
    elif kind is dict:
        if _is_pickled(value) or any(type(k) is not str for k in value):
            return False
        items = value.values()
    else:
        return False
    path.add(id(value))
    try:
        return all(_exact(v, depth + 1, path) for v in items)
    finally:
        path.discard(id(value))


def _type_label(value: Any) -> str:
    kind = type(value)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return f"{module}{kind.__qualname__}"


_is_pickled = pickled.is_pickled


class AnyHandler(ScalarRule, TypeHandler):
    kind = "any"
    display = "Any"

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        if is_exact_json(value):
            return value
        from sdk.values.store import put_blob

        try:
            data = pickle.dumps(value, protocol=4)
        except Exception as exc:
            raise TypeConversionError(
                f"{where}: cannot encode a {_type_label(value)} value as Any: JSON cannot hold "
                f"it and pickling it failed ({type(exc).__name__}: {exc}); use a value that "
                f"can be pickled, or declare a type graft converts") from exc
        return {"pickle": put_blob(store, data)}

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return pickled.load(lit, store) if _is_pickled(lit) else lit

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        if _is_pickled(lit):
            yield lit["pickle"]

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        return raw


register(AnyHandler())
