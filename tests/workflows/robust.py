"""Workflows that push on graft's edges: odd floats, deep recursion, dying workers, values
JSON cannot hold (and `typing.Any` values nothing can encode), and a slow node to restart the
scheduler under."""

import datetime
import enum
import math
import os
import threading
import time
import typing

from sdk import dynamic, task, workflow


@task
def scale(x: float, by: float) -> float:
    return x * by


@workflow
def odd_floats(x: float) -> typing.List[float]:
    return [scale(x=x, by=math.nan), scale(x=x, by=math.inf), scale(x=x, by=-1.5)]


@task
def leaf(n: int) -> int:
    return n


@dynamic
def countdown(n: int) -> int:
    return leaf(n=n) if n == 0 else countdown(n=n - 1)


@workflow
def deep(n: int) -> int:
    return countdown(n=n)


@task(retries=1)
def die(x: int) -> int:
    os._exit(3)


@workflow
def dies(x: int) -> int:
    return die(x=x)


class When(enum.Enum):
    EPOCH = datetime.date(1970, 1, 1)


@task
def when() -> When:
    return When.EPOCH


@workflow
def unjsonable() -> When:
    return when()


def value_of(kind: str) -> typing.Any:
    if kind == "lock":
        return threading.Lock()
    if kind == "generator":
        return (i for i in range(3))
    if kind == "pickled":
        return (When.EPOCH, {1: "one"}, {2.5})
    return {"json": [1, 2.5, None, "x"]}


@task
def anything(kind: str) -> typing.Any:
    """A `typing.Any` output: JSON when JSON holds it exactly, pickled when it does not, and a
    TypeConversionError when pickle cannot hold it either (a lock, a generator)."""
    return value_of(kind)


@task
def echo_any(x: typing.Any) -> typing.Any:
    return x


@workflow
def any_out(kind: str) -> typing.Any:
    return echo_any(x=anything(kind=kind))


@task
def any_items(kind: str) -> typing.Dict[str, typing.List[typing.Any]]:
    return {"items": [1, value_of(kind)]}


@workflow
def any_in_containers(kind: str) -> typing.Dict[str, typing.List[typing.Any]]:
    return any_items(kind=kind)


@task
def slow_mark(path: str, seconds: float) -> int:
    """Append a line to `path` (one per run of this task), then wait."""
    with open(path, "a") as fh:
        fh.write("ran\n")
    time.sleep(seconds)
    with open(path) as fh:
        return len(fh.readlines())


@workflow
def slow_once(path: str, seconds: float) -> int:
    return slow_mark(path=path, seconds=seconds)
