"""Dynamics whose bodies build many nodes, or nodes of every kind (tests of the worker's
memory per generated node: tests/unit/test_dynamic_memory.py, and on a cluster
tests/integration/test_dynamic_memory_cluster.py)."""

import functools
import typing

from sdk import Resources, conditional, dynamic, map_task, task, workflow
from workflows.basic import total
from workflows.dynamics import fan_out, level2, square


@task
def noop(x: int) -> int:
    return x + 1


@task
def scale(x: int, by: int) -> int:
    return x * by


@dynamic
def wide(n: int) -> typing.List[int]:
    """n independent noop nodes: [1, ..., n]."""
    return [noop(x=i) for i in range(n)]


@workflow
def wide_small_wf(n: int) -> int:
    """The sum of `wide(n)`, its body on a 96Mi tier (the cluster's GRAFT_TIERS must have
    one), its children on the smallest."""
    return total(xs=wide(n=n).with_overrides(limits=Resources(mem="96Mi")))


@workflow
def sub_wf(x: int) -> int:
    return noop(x=square(x=x))


@dynamic
def every_kind(n: int, flag: bool) -> typing.List[int]:
    """Plain calls with literals and Promises, overrides, ordering, a map with a fixed input,
    a conditional, a nested dynamic, a sub-workflow, a dynamic fan-out and a dict input."""
    first = noop(x=n)
    firsts = [noop(x=i).with_overrides(retries=2) if i % 3 == 0 else noop(x=i)
              for i in range(n)]
    firsts[1].with_overrides(limits=Resources(mem="512Mi"), cache=True, cache_version="2")
    first >> firsts[2]
    mapped = map_task(functools.partial(scale, by=3))(x=list(range(n)))
    picked = (conditional("pick")
              .if_(first > 2).then(noop(x=first))
              .else_().then(scale(x=first, by=-1)))
    return [total(xs=mapped), picked, level2(base=n, width=2), sub_wf(x=firsts[0]),
            total(xs=fan_out(n=n)), *firsts, noop(x=3 if flag else 4)]


@workflow
def every_kind_wf(n: int = 4, flag: bool = True) -> int:
    return total(xs=every_kind(n=n, flag=flag))
