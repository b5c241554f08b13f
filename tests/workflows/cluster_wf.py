"""Workflows for the integration suite: memory tiers, a slow fan-out for scheduler kills, and
typed inputs for the command line.

Tasks report where they ran (`ran_on`): on a cluster worker, its Celery node name, which graft
makes `mem-<tier>-<pid>@<host>`; in-process, "local".
"""

import os
import time

from sdk import Resources, dynamic, task, workflow
from workflows.basic import add, total


def ran_on() -> str:
    """The name of the worker running the current task (`GRAFT_WORKER`), or "local"."""
    return os.environ.get("GRAFT_WORKER") or "local"


# ---- memory tiers (default tiers 256Mi, 1Gi, 4Gi, 16Gi) -----------------------------------

@task(limits=Resources(mem="600Mi"))
def limit_600mi(x: int) -> str:
    """Limit 600Mi: the smallest tier that fits is 1Gi."""
    return f"{x + 1}@{ran_on()}"


@task(requests=Resources(mem="300Mi"))
def request_300mi(x: int) -> str:
    """Request only, 300Mi: routed by its request, to 1Gi."""
    return f"{x + 2}@{ran_on()}"


@task(requests=Resources(mem="100Mi"), limits=Resources(mem="2Gi"))
def request_100mi_limit_2gi(x: int) -> str:
    """Both: the limit decides, 2Gi goes to 4Gi."""
    return f"{x + 3}@{ran_on()}"


@task
def no_resources(x: int) -> str:
    """Neither: the smallest tier, 256Mi."""
    return f"{x + 4}@{ran_on()}"


@task(limits=Resources(mem="3Gi"))
def limit_3gi(x: int) -> str:
    return f"{x * 10}@{ran_on()}"


@task(limits=Resources(mem="20Gi"))
def limit_20gi(x: int) -> str:
    return f"{x}@{ran_on()}"


@workflow
def tiers_wf(x: int = 1) -> (str, str, str):
    """Three nodes for tiers that the standard test cluster serves (1Gi, 1Gi, 256Mi)."""
    return limit_600mi(x=x), request_300mi(x=x), no_resources(x=x)


@workflow
def big_wf(x: int = 4) -> str:
    """One node for the 4Gi tier."""
    return limit_3gi(x=x)


@workflow
def mixed_big_wf(x: int = 5) -> (str, str):
    """A request below a 2Gi limit: routed by the limit, to 4Gi."""
    return request_100mi_limit_2gi(x=x), no_resources(x=x)


@workflow
def huge_wf(x: int = 1) -> (str, str):
    """A node larger than the largest tier, next to a harmless one: refused at submit."""
    return no_resources(x=x), limit_20gi(x=x)


@dynamic
def huge_inside(x: int) -> str:
    return limit_20gi(x=x)


@workflow
def huge_dynamic_wf(x: int = 1) -> str:
    """The oversized node only appears when the dynamic runs: the graft is refused."""
    return huge_inside(x=x)


# ---- a slow fan-out, to kill the scheduler in the middle of -------------------------------

@task
def nap(i: int, delay: float) -> int:
    time.sleep(delay)
    return i * i


@dynamic
def nap_fan(n: int, delay: float) -> list[int]:
    return [nap(i=i, delay=delay) for i in range(n)]


@workflow
def nap_wf(n: int = 30, delay: float = 0.2) -> int:
    """Sum of the squares below n, each squared by a task that sleeps `delay` seconds."""
    return total(xs=nap_fan(n=n, delay=delay))


def nap_expected(n: int) -> int:
    return sum(i * i for i in range(n))


@workflow
def quick_then_slow(x: int = 2, delay: float = 2.0) -> int:
    """(x + 1)², the square taken by a task that sleeps `delay` seconds."""
    return nap(i=add(a=x, b=1), delay=delay)


# ---- typed inputs for `graft run` ----------------------------------------------------------

@task
def typed(n: int, x: float, flag: bool, xs: list[int], opts: dict[str, float], name: str
          ) -> (int, float, bool, list[int], dict[str, float], str):
    return n * 2, x * 2, not flag, list(reversed(xs)), {k: v * 2 for k, v in opts.items()}, \
        name.upper()


@workflow
def typed_wf(n: int, x: float, flag: bool, xs: list[int], opts: dict[str, float],
             name: str = "graft") -> (int, float, bool, list[int], dict[str, float], str):
    """Doubles n, x and the values of opts, negates flag, reverses xs, upper-cases name."""
    return typed(n=n, x=x, flag=flag, xs=xs, opts=opts, name=name)
