"""Cached tasks and dynamics; call counters are files in a folder passed as input."""

import functools
import os
import time
import typing
from typing import Annotated

import pandas as pd

from sdk import Cache, HashMethod, dynamic, map_task, task, workflow
from workflows.failing import bump


@task(cache=True, cache_version="1.0")
def slow_square(x: int, counter_dir: str) -> int:
    bump(counter_dir, "slow_square")
    return x * x


@task(cache=True, cache_version="1.0")
def cached_total(xs: list[int], counter_dir: str) -> int:
    bump(counter_dir, "cached_total")
    return sum(xs)


@dynamic(cache=True, cache_version="1.0")
def cached_fan(n: int, counter_dir: str) -> list[int]:
    bump(counter_dir, "cached_fan")
    return [slow_square(x=i, counter_dir=counter_dir) for i in range(n)]


@workflow
def cached_wf(n: int, counter_dir: str) -> int:
    """Sum of squares below n through a cached dynamic of cached tasks."""
    return cached_total(xs=cached_fan(n=n, counter_dir=counter_dir), counter_dir=counter_dir)


@task(cache=True, cache_version="1.0")
def cached_range(n: int, counter_dir: str) -> list[int]:
    """Large enough (n >= 500) for its output to live in the store, not inline."""
    bump(counter_dir, "cached_range")
    return list(range(n))


@task(cache=True, cache_version="1.0")
def cached_cube(x: int, counter_dir: str) -> int:
    bump(counter_dir, "cached_cube")
    return x * x * x


@task
def uncached_sum(xs: list[int], counter_dir: str) -> int:
    """Not cached: runs every time (the counters see it)."""
    bump(counter_dir, "uncached_sum")
    return sum(xs)


@workflow
def cached_all(n: int, xs: list[int], counter_dir: str) -> typing.Tuple[int, int, int]:
    """A cached dynamic of cached tasks, a map of a cached task, a cached task after the
    dynamic, and one task that is not cached."""
    squares = cached_fan(n=n, counter_dir=counter_dir)
    cubes = map_task(functools.partial(cached_cube, counter_dir=counter_dir))(x=xs)
    return (cached_total(xs=squares, counter_dir=counter_dir),
            uncached_sum(xs=cubes, counter_dir=counter_dir),
            slow_square(x=n, counter_dir=counter_dir).with_overrides(cache_version="2.0"))


@workflow
def stored_range_wf(n: int, counter_dir: str) -> int:
    return uncached_sum(xs=cached_range(n=n, counter_dir=counter_dir), counter_dir=counter_dir)


def row_count(df: pd.DataFrame) -> str:
    """A deliberately coarse identity: frames of as many rows are the same to caches."""
    return f"rows={len(df)}"


@task
def make_frame(seed: int, counter_dir: str) -> Annotated[pd.DataFrame, HashMethod(row_count)]:
    bump(counter_dir, "make_frame")
    return pd.DataFrame({"a": [seed] * 3, "b": [str(seed)] * 3})


@task(cache=True, cache_version="1.0")
def frame_rows(df: pd.DataFrame, counter_dir: str) -> int:
    bump(counter_dir, "frame_rows")
    return len(df)


@workflow
def hashed_wf(seed: int, counter_dir: str) -> int:
    """frame_rows keys on make_frame's hash (its row count), not on the frame's content."""
    return frame_rows(df=make_frame(seed=seed, counter_dir=counter_dir), counter_dir=counter_dir)


@task(cache=Cache(version="1.0", serialize=True, ignored_inputs=("pid_dir",)))
def serialized_square(x: int, counter_dir: str, seconds: float, pid_dir: str) -> int:
    """Writes its pid into pid_dir (left out of the key), then takes `seconds`."""
    n = bump(counter_dir, "serialized_square")
    with open(os.path.join(pid_dir, f"run-{n}"), "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(seconds)
    return x * x


@workflow
def serialized_wf(x: int, counter_dir: str, seconds: float, pid_dir: str) -> int:
    return serialized_square(x=x, counter_dir=counter_dir, seconds=seconds, pid_dir=pid_dir)
