"""Workflows with gate nodes (sleep, wait_for_input, approve), for the unit and cluster
tests (tests/unit/test_gates.py, tests/integration/test_gates_cluster.py)."""

from __future__ import annotations

import time
import typing
from datetime import timedelta

from sdk import (
    Resources,
    WorkflowFailurePolicy,
    approve,
    conditional,
    dynamic,
    sleep,
    task,
    wait_for_input,
    workflow,
)


@task
def double(x: int) -> int:
    return 2 * x


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def label(report: dict, title: str) -> dict:
    return {"title": title, **report}


@task
def summary(xs: typing.List[float]) -> dict:
    return {"n": len(xs), "total": sum(xs)}


@task
def nap(x: int, seconds: float) -> int:
    time.sleep(seconds)
    return x


@task
def invalid() -> dict:
    return {"invalid": True}


@workflow
def gated(x: int) -> int:
    """A value, an approval of a task's output and a sleep before the sum."""
    doubled = double(x=x)
    n = wait_for_input("n", timeout=timedelta(hours=1), expected_type=int)
    approved = approve(doubled, "check", timeout=timedelta(hours=1))
    pause = sleep(timedelta(seconds=1))
    total = add(a=approved, b=n)
    pause >> total
    return total


@workflow
def titled(xs: typing.List[float]) -> dict:
    """flytesnacks' reporting workflow: a title given from outside, then approval."""
    report = summary(xs=xs)
    title = wait_for_input("title", timeout=timedelta(hours=1), expected_type=str)
    return approve(label(report=report, title=title), "publish", timeout=timedelta(hours=1))


@workflow
def reviewed(xs: typing.List[float]) -> dict:
    """A boolean signal choosing a conditional's case."""
    report = summary(xs=xs)
    passed = wait_for_input("review", timeout=timedelta(hours=1), expected_type=bool)
    report >> passed
    return (conditional("verdict")
            .if_(passed.is_true()).then(label(report=report, title="passed"))
            .else_().then(invalid()))


@workflow
def impatient(x: int) -> int:
    """A signal gate that times out in 2 s; the other branch still runs under
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE."""
    n = wait_for_input("never", timeout=timedelta(seconds=2), expected_type=int)
    double(x=x)
    return add(a=n, b=x)


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def impatient_tolerant(x: int) -> int:
    n = wait_for_input("never", timeout=timedelta(seconds=2), expected_type=int)
    d = double(x=x)
    add(a=n, b=x)
    return d


@workflow
def slept(x: int) -> int:
    """A 3 s sleep before the task."""
    pause = sleep(timedelta(seconds=3))
    doubled = double(x=x)
    pause >> doubled
    return doubled


@task(requests=Resources(mem="2Gi"))
def nap_4gi(x: int, seconds: float) -> int:
    """`nap` on the 4Gi tier (its queue, mem-4Gi)."""
    time.sleep(seconds)
    return x


@workflow
def beside(x: int, seconds: float) -> int:
    """Three gates waiting while two tasks run one after the other on the 4Gi tier."""
    n = wait_for_input("go", timeout=timedelta(hours=1), expected_type=int)
    wait_for_input("also", timeout=timedelta(hours=1), expected_type=int)
    pause = sleep(timedelta(hours=1))
    first = nap_4gi(x=x, seconds=seconds)
    second = nap_4gi(x=first, seconds=seconds)
    total = add(a=second, b=n)
    pause >> total
    return total


@dynamic
def asks(count: int) -> typing.List[int]:
    return [wait_for_input(f"v{i}", timeout=timedelta(hours=1), expected_type=int)
            for i in range(count)]


@workflow
def asking(count: int) -> typing.List[int]:
    """Gates made by a dynamic at run time."""
    return asks(count=count)


@workflow
def twice_inner(x: int) -> int:
    n = wait_for_input("shared", timeout=timedelta(hours=1), expected_type=int)
    return add(a=n, b=x)


@workflow
def twice(x: int) -> int:
    """One signal name in two sub-workflows: a signal of that name answers both."""
    return add(a=twice_inner(x=x), b=twice_inner(x=x))
