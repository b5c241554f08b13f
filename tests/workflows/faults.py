"""Workflows for the fault tests: tasks that say which process ran them, so a test can kill
exactly that worker, and side effects a forged message must never cause."""

import os
import time
import typing

from sdk import dynamic, task, workflow


@task
def mark_and_nap(path: str, seconds: float) -> int:
    """Append `<pid> <parent pid>` to `path` (one line per run), wait, and return how many
    runs `path` records."""
    with open(path, "a") as fh:
        fh.write(f"{os.getpid()} {os.getppid()}\n")
    time.sleep(seconds)
    with open(path) as fh:
        return len(fh.readlines())


@workflow
def marked(path: str, seconds: float) -> int:
    return mark_and_nap(path=path, seconds=seconds)


@task
def bump(x: int, delay: float) -> int:
    time.sleep(delay)
    return x + 1


@dynamic
def bumps(n: int, delay: float) -> typing.List[int]:
    return [bump(x=i, delay=delay) for i in range(n)]


@task
def add_all(xs: typing.List[int]) -> int:
    return sum(xs)


@workflow
def fan_out(n: int, delay: float) -> int:
    """n parallel nodes, each returning i + 1: the sum is n (n + 1) / 2."""
    return add_all(xs=bumps(n=n, delay=delay))


@workflow
def chain3(x: int, delay: float) -> int:
    return bump(x=bump(x=bump(x=x, delay=delay), delay=delay), delay=delay)
