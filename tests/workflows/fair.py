"""Workflows for the fair dispatch tests: a large fan-out of short naps, and a one-node
workflow that must not wait behind it."""

import time
import typing

from sdk import dynamic, task, workflow


@task
def nap(i: int, ms: int) -> int:
    time.sleep(ms / 1000)
    return i


@dynamic
def naps(n: int, ms: int) -> typing.List[int]:
    return [nap(i=i, ms=ms) for i in range(n)]


@workflow
def many_naps(n: int, ms: int) -> typing.List[int]:
    return naps(n=n, ms=ms)


@task
def twice(x: int) -> int:
    return 2 * x


@workflow
def one_node(x: int) -> int:
    return twice(x=x)
