"""Iterators as outputs and inputs (`Iterator[T]`, `Iterator[JSON]`) and lists pickled in
batches (`Annotated[List[T], BatchSize(n)]`), as flytekit's examples use them."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Iterator, List

from sdk import BatchSize, map_task, task, workflow
from sdk.types.iterator import JSON


class Hero:
    """A class no handler converts: it is pickled."""

    def __init__(self, name: str, power: str):
        self.name = name
        self.power = power

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Hero) and (self.name, self.power) == (other.name, other.power)

    def __hash__(self) -> int:
        return hash(self.name)


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


@task
def heroes(names: List[str]) -> Annotated[List[Hero], BatchSize(3)]:
    return [Hero(n, n.upper()) for n in names]


@task
def greet(heroes: List[Hero]) -> Iterator[str]:
    for h in heroes:
        yield f"{h.name}:{h.power}"


@task
def first_power(hero: Hero) -> str:
    return hero.power


@task
def same_batch_shared(heroes: List[Hero]) -> bool:
    """Items of one batch that were one object when pickled are one object again."""
    return heroes[0].power is heroes[1].power


@task
def shared_heroes() -> Annotated[List[Hero], BatchSize(2)]:
    power = "shared power"
    return [Hero("a", power), Hero("b", power), Hero("c", power)]


@workflow
def shared_wf() -> bool:
    return same_batch_shared(heroes=shared_heroes())


@workflow
def heroes_wf(names: List[str]) -> typing.Tuple[List[Hero], Iterator[str], List[str], str]:
    hs = heroes(names=names)
    return hs, greet(heroes=hs), map_task(first_power)(hero=hs), first_power(hero=hs[3])


@task
def mixed() -> Annotated[List[Any], BatchSize(2)]:
    return [1, "a", {1, 2}, (3, 4), None, Hero("x", "y"), {"k": [1]}]


@task
def mixed_kinds(items: List[Any]) -> List[str]:
    return [type(i).__name__ for i in items]


@workflow
def mixed_wf() -> typing.Tuple[List[Any], List[str]]:
    items = mixed()
    return items, mixed_kinds(items=items)
