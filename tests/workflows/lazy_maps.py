"""Maps whose items are created as their turn comes (tests/integration/
test_lazy_map_cluster.py, tests/unit/test_lazy_map.py): concurrency-limited maps, one whose
items note each run in a file, a slow one to cancel and one whose items often fail."""

from __future__ import annotations

import functools
import os
import time
import typing
from typing import Optional

from sdk import map_task, task, workflow


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def windowed_map(xs: typing.List[int]) -> typing.List[int]:
    """At most 50 items at once."""
    return map_task(inc, concurrency=50)(x=xs)


@task
def marked_inc(x: int, folder: str) -> int:
    """x + 1, noting that item x ran: a line in a file of this process's own in `folder`."""
    with open(os.path.join(folder, f"{os.getpid()}.txt"), "a") as f:
        f.write(f"{x}\n")
    time.sleep(0.002)
    return x + 1


@workflow
def marked_map(xs: typing.List[int], folder: str) -> typing.List[int]:
    return map_task(functools.partial(marked_inc, folder=folder), concurrency=20)(x=xs)


@task
def slow_inc(x: int) -> int:
    time.sleep(0.05)
    return x + 1


@workflow
def slow_map(xs: typing.List[int]) -> typing.List[int]:
    return map_task(slow_inc, concurrency=4)(x=xs)


@task
def fifth_fails(x: int) -> int:
    if x % 5 == 0:
        raise ValueError(f"{x} is a multiple of 5")
    return x


@workflow
def strict_enough(xs: typing.List[int]) -> typing.List[Optional[int]]:
    """A fifth of the items fail, a tenth may: it fails before creating them all."""
    return map_task(fifth_fails, concurrency=4, min_success_ratio=0.9)(x=xs)


@workflow
def tolerant_enough(xs: typing.List[int]) -> typing.List[Optional[int]]:
    """A fifth of the items fail, a quarter may: it succeeds, None for those."""
    return map_task(fifth_fails, concurrency=4, min_success_ratio=0.75)(x=xs)
