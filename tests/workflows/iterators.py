"""Iterators as outputs and inputs (`Iterator[T]`, `Iterator[JSON]`), as flytekit's examples
use them."""

from __future__ import annotations

import typing
from typing import Iterator, List

from sdk import task, workflow
from sdk.types.iterator import JSON


@task
def squares(n: int) -> Iterator[int]:
    for i in range(n):
        yield i * i


@task
def total(xs: List[int]) -> int:
    return sum(xs)


@task
def described(xs: Iterator[int]) -> str:
    """What a task gets for an Iterator input: its kind, its length, and two passes."""
    return f"{type(xs).__name__} len={len(xs)} {list(xs)} {list(xs)}"


@task
def listed() -> List[int]:
    return [4, 5]


@workflow
def iterator_wf(n: int = 4) -> typing.Tuple[Iterator[int], int, str, str]:
    it = squares(n=n)
    return it, total(xs=it), described(xs=it), described(xs=listed())


@workflow
def iterator_as_list_wf(n: int = 3) -> List[int]:
    return squares(n=n)


@task
def wrong_items() -> Iterator[int]:
    yield 1
    yield "two"


@task
def not_iterable() -> Iterator[int]:
    return 5  # type: ignore[return-value]


@task
def broken_generator() -> Iterator[int]:
    yield 1
    raise RuntimeError("the generator broke after one item")


@task
def records(n: int) -> Iterator[JSON]:
    for i in range(n):
        yield {"i": i, "tags": ["a"] * i}
    yield [1, "x", None]
    yield 2.5


@task
def count_records(rows: Iterator[JSON]) -> str:
    items = list(rows)
    return f"{type(rows).__name__} {len(items)} {items[0]} {items[-1]} again={list(rows)}"


@workflow
def json_wf(n: int = 2) -> typing.Tuple[Iterator[JSON], str]:
    rows = records(n=n)
    return rows, count_records(rows=rows)


@task
def no_records() -> Iterator[JSON]:
    return iter([])
