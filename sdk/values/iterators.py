"""Iterators as values, as flytekit 1.16 has them.

`Iterator[T]` is a list of T (`{"t": "list", "of": T, "iter": True}`): a task may return any
iterable (a generator, most often), kept as the list of its items, so a downstream `List[T]`
gets a list and a downstream `Iterator[T]` a `FlyteIterator` over the same items (which can be
iterated again and has a length, as flytekit's). `Iterator[JSON]` (`sdk.types.iterator.JSON`)
is something else, as in flytekit: its items are written as JSON lines to one object in the
store (`{"jsonl": key}`), and a task receives a `JSONIterator` that reads them once. It binds
only to `Iterator[JSON]` (and `Any`), not to lists.

A task's iterator outputs are run to their end as part of the task's code (`drain_outputs`), so
an exception raised in a generator's body is the task's error, retried as one, and a task's
timeout covers it.
"""

from __future__ import annotations

import collections.abc
import json
import typing
from collections.abc import Iterable
from typing import Any, Union

from sdk.model.errors import TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import ScalarRule, TypeDesc
from sdk.values.handlers import TypeHandler, register

JSONCollection = Union[dict[str, Any], list[Any]]  # noqa: UP007  (flytekit's spelling)
JSONScalar = Union[bool, float, int, str]  # noqa: UP007
JSON = Union[JSONCollection, JSONScalar]  # noqa: UP007


def is_iterator_annotation(tp: Any) -> bool:
    """Whether `tp` is `typing.Iterator[...]` or `collections.abc.Iterator[...]` (or bare)."""
    return tp is typing.Iterator or tp is collections.abc.Iterator or \
        typing.get_origin(tp) is collections.abc.Iterator


def is_iterator_desc(desc: TypeDesc) -> bool:
    t = desc.get("t")
    return t == "json_iterator" or (t == "list" and bool(desc.get("iter")))


class FlyteIterator(collections.abc.Iterator):
    """What an `Iterator[T]` input or result is: the items, one at a time. Iterating it again
    starts over, and `len()` gives the number of items, as flytekit's `FlyteIterator`."""

    def __init__(self, items: list[Any]):
        self._items = items
        self._index = 0

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> FlyteIterator:
        self._index = 0
        return self

    def __next__(self) -> Any:
        if self._index >= len(self._items):
            raise StopIteration
        self._index += 1
        return self._items[self._index - 1]

    def __repr__(self) -> str:
        return f"FlyteIterator({len(self._items)} items)"


class JSONIterator(collections.abc.Iterator):
    """What an `Iterator[JSON]` input or result is: its JSON values, read once, in order."""

    def __init__(self, lines: list[bytes]):
        self._lines = iter(lines)

    def __iter__(self) -> JSONIterator:
        return self

    def __next__(self) -> Any:
        return json.loads(next(self._lines))


def drained(value: Any) -> Any:
    """`value` as a list when it is an iterator that has not run yet (a generator)."""
    if isinstance(value, collections.abc.Iterator):
        return list(value)
    return value


def drain_outputs(outputs: dict[str, TypeDesc], result: Any) -> Any:
    """What a task returned, with every output it declares as an iterator run to its end.
    Called where the task's code runs, so that the generator's body runs there too; what does
    not have the declared shape is left for the outputs' conversion to refuse."""
    marks = [is_iterator_desc(d) for d in outputs.values()]
    if not any(marks):
        return result
    if len(marks) == 1:
        return drained(result)
    if not isinstance(result, (tuple, list)) or len(result) != len(marks):
        return result
    items = [drained(v) if m else v for v, m in zip(result, marks)]
    if hasattr(result, "_make"):  # a NamedTuple
        return result._make(items)
    return type(result)(items) if type(result) in (tuple, list) else tuple(items)


class JsonIteratorHandler(ScalarRule, TypeHandler):
    """`Iterator[JSON]`: the items as JSON lines in one store object, `{"jsonl": key}`."""

    kind = "json_iterator"
    display = "Iterator[JSON]"

    def describe(self, tp: Any) -> TypeDesc | None:
        if typing.get_origin(tp) is collections.abc.Iterator and typing.get_args(tp) == (JSON,):
            return {"t": "json_iterator"}
        return None

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        if isinstance(value, Iterable):
            return None
        return f"expected Iterator[JSON], got {type(value).__name__}"

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        from sdk.values.store import put_blob

        lines = []
        for i, item in enumerate(value):
            try:
                lines.append(json.dumps(item, allow_nan=False, separators=(",", ":")))
            except (TypeError, ValueError) as exc:
                raise TypeConversionError(f"{where}, item {i}: a {type(item).__name__} is not "
                                          f"JSON ({exc})") from exc
        if not lines:
            raise TypeConversionError(f"{where}: the iterator is empty (an Iterator[JSON] "
                                      f"needs at least one item, as in flytekit)")
        return {"jsonl": put_blob(store, ("\n".join(lines) + "\n").encode())}

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        from sdk.values.store import get_verified

        return JSONIterator(get_verified(store, lit["jsonl"]).splitlines())

    def store_keys(self, lit: Any, desc: TypeDesc) -> collections.abc.Iterator[str]:
        yield lit["jsonl"]


register(JsonIteratorHandler(), first=True)
