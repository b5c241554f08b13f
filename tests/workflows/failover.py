"""Workflows for the Redis failover test: a wide fan-out, a map and a chain inside a dynamic,
each node a short nap so that a failover lands while some have finished and others wait."""

import functools
import time
import typing

from sdk import dynamic, map_task, task, workflow


@task
def nap_add(x: int, delay: float) -> int:
    time.sleep(delay)
    return x + 1


@task
def total(xs: typing.List[int]) -> int:
    return sum(xs)


@dynamic
def spread(n: int, delay: float) -> typing.List[int]:
    return [nap_add(x=i, delay=delay) for i in range(n)]


@workflow
def fan_out(n: int, delay: float) -> int:
    """`n` parallel children of one dynamic, each i + 1: the total is n (n + 1) / 2."""
    return total(xs=spread(n=n, delay=delay))


@workflow
def mapped(xs: typing.List[int], delay: float) -> typing.List[int]:
    """Each item + 1, by a map task."""
    return map_task(functools.partial(nap_add, delay=delay))(x=xs)


@dynamic
def steps(x: int, n: int, delay: float) -> int:
    for _ in range(n):
        x = nap_add(x=x, delay=delay)
    return x


@workflow
def chained(x: int, n: int, delay: float) -> int:
    """`n` nodes one after another inside a dynamic: x + n."""
    return steps(x=x, n=n, delay=delay)
