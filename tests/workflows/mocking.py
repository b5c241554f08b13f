"""Tasks and workflows that unit tests replace with `sdk.testing.task_mock` and `patch`
(tests/unit/test_testing.py). `query` stands for flytesnacks' SQLTask: it cannot run here and
must be mocked."""

from __future__ import annotations

import datetime
import typing

import pandas as pd

from sdk import Workflow, conditional, dynamic, map_task, task, workflow
from workflows.failing import bump


@task
def query(ds: datetime.datetime) -> pd.DataFrame:
    raise NotImplementedError("query needs a database: mock it")


@task
def t1() -> datetime.datetime:
    return datetime.datetime.now()


@workflow
def my_wf() -> pd.DataFrame:
    dt = t1()
    return query(ds=dt)


@task
def add(x: int, y: int = 5) -> int:
    return x + y


@task
def pair(x: int) -> typing.Tuple[int, str]:
    return x, str(x)


@task
def label(x: int) -> str:
    return str(x)


@task
def note(x: int) -> None:
    pass


@workflow
def add_wf(x: int) -> int:
    return add(x=x)


@workflow
def outer_wf(x: int) -> int:
    """add_wf as a sub-workflow, then add."""
    return add(x=add_wf(x=x), y=0)


@workflow
def note_wf(x: int) -> None:
    note(x=x)


@task
def square(x: int) -> int:
    return x * x


@workflow
def map_wf(xs: typing.List[int]) -> typing.List[int]:
    return map_task(square)(x=xs)


@dynamic
def fan(n: int) -> typing.List[int]:
    return [add(x=i) for i in range(n)]


@workflow
def fan_wf(n: int) -> typing.List[int]:
    return fan(n=n)


@dynamic
def fan_workflows(n: int) -> typing.List[int]:
    return [add_wf(x=i) for i in range(n)]


@workflow
def branch_wf(x: int) -> int:
    return conditional("sign").if_(x > 0).then(add_wf(x=x)).else_().then(add(x=x, y=0))


@task(cache=True, cache_version="1")
def cached_add(x: int, counter_dir: str) -> int:
    bump(counter_dir, "cached_add")
    return x + 1


@workflow
def cached_wf(x: int, counter_dir: str) -> int:
    return cached_add(x=x, counter_dir=counter_dir)


# flytekit's tests/flytekit/unit/core/test_imperative_with_patching.py
@task
def hello(a: str) -> str:
    return a + " world"


wb = Workflow(name="my.workflow")
wb.add_workflow_input("in1", str)
node = wb.add_entity(hello, a=wb.inputs["in1"])
wb.add_workflow_output("from_n0t1", node.outputs["o0"])


@workflow
def my_functional_wf(a: str) -> str:
    x = wb(in1=a)
    return x
