"""Workflows the graph page is tested with (tests/integration/test_ui.py): a dynamic whose
nodes sleep, so that the page sees it run, and a small map."""

import time
import typing

from sdk import current_context, dynamic, map_task, task, workflow


@task
def nap(i: int, seconds: float) -> int:
    """Sleeps, saying so on stdout and in a log record; returns i * 10."""
    print(f"nap {i} starts")
    current_context().logging.info(f"nap {i} sleeps {seconds} s")
    time.sleep(seconds)
    return i * 10


@dynamic
def naps(n: int, seconds: float) -> typing.List[int]:
    return [nap(i=i, seconds=seconds) for i in range(n)]


@task
def numbers(n: int) -> typing.List[int]:
    return list(range(n))


@task
def double(x: int) -> int:
    return 2 * x


@task
def add_up(xs: typing.List[int], ys: typing.List[int]) -> int:
    return sum(xs) + sum(ys)


@workflow
def napping_wf(n: int = 4, seconds: float = 2.0) -> int:
    """sum(10 * i) + sum(2 * i) for i < n: 72 for n = 4."""
    return add_up(xs=naps(n=n, seconds=seconds), ys=map_task(double)(x=numbers(n=n)))
