"""Workflows whose values live in the store (lists over the inline limit), for the gc tests:
a cached producer, a slow step that makes a new value, a cached total. Call counters are
files in a folder passed as input."""

import time

from sdk import task, workflow
from workflows.failing import bump


@task(cache=True, cache_version="1.0")
def gc_produce(n: int, counter_dir: str) -> list[int]:
    bump(counter_dir, "gc_produce")
    return list(range(n))


@task
def gc_shift(xs: list[int], delay_s: float) -> list[int]:
    time.sleep(delay_s)
    return [x + 1 for x in xs]


@task(cache=True, cache_version="1.0")
def gc_total(xs: list[int], counter_dir: str) -> int:
    bump(counter_dir, "gc_total")
    return sum(xs)


@workflow
def gc_wf(n: int, delay_s: float, counter_dir: str) -> int:
    """The sum of 1..n, through two stored lists."""
    xs = gc_produce(n=n, counter_dir=counter_dir)
    return gc_total(xs=gc_shift(xs=xs, delay_s=delay_s), counter_dir=counter_dir)


@task
def gc_pair_total(ys: list[int], zs: list[int]) -> int:
    return sum(ys) + sum(zs)


@workflow
def gc_run_wf(n: int, delay_s: float, counter_dir: str) -> int:
    """sum(1..n) + sum(2..n+1). The second list is read by the last node only after the slow
    step: a gc that ran meanwhile and deleted it fails the execution."""
    xs = gc_produce(n=n, counter_dir=counter_dir)
    ys = gc_shift(xs=xs, delay_s=0.0)
    zs = gc_shift(xs=ys, delay_s=delay_s)
    return gc_pair_total(ys=ys, zs=zs)
