"""Cached tasks and dynamics; call counters are files in a folder passed as input."""

from sdk import dynamic, task, workflow
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
