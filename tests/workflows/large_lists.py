"""Lists of a million items in and out of tasks of the 256Mi tier (the default tier): made by
a task, and collected by a dynamic from constants and one node's output (a list binding of an
item each, which a fan-out's collected outputs resolve to)."""

from typing import List, Tuple

from sdk import Resources, dynamic, map_task, task, workflow


@task
def make_ints(n: int) -> List[int]:
    return [i * 7 - 3 for i in range(n)]


@task
def make_strs(n: int) -> List[str]:
    return [f"item-{i}" for i in range(n)]


@task
def make_floats(n: int) -> List[float]:
    return [i / 4 for i in range(n)]


@task
def make_bools(n: int) -> List[bool]:
    return [i % 3 == 0 for i in range(n)]


@task
def total(xs: List[int]) -> int:
    return sum(xs)


@task
def total_len(xs: List[str]) -> int:
    return sum(len(s) for s in xs)


@task
def float_total(xs: List[float]) -> float:
    return sum(xs)


@task
def count_true(xs: List[bool]) -> int:
    return sum(1 for x in xs if x is True)


@task
def one(x: int) -> int:
    return x


@task
def word(i: int) -> str:
    return f"w{i}"


@task
def square(x: int) -> int:
    return x * x


@workflow
def made_wf(n: int) -> Tuple[int, int, float, int]:
    """Lists made by tasks, read by others."""
    return (total(xs=make_ints(n=n)), total_len(xs=make_strs(n=n)),
            float_total(xs=make_floats(n=n)), count_true(xs=make_bools(n=n)))


@dynamic(limits=Resources(mem="1Gi"))
def collect_ints(n: int) -> List[int]:
    return [*range(n - 1), one(x=n)]


@dynamic(limits=Resources(mem="1Gi"))
def collect_strs(n: int) -> List[str]:
    return [*(f"item-{i}" for i in range(n - 1)), word(i=n)]


@workflow
def collected_wf(n: int) -> Tuple[int, int]:
    """Lists of one binding an item (a dynamic's collected outputs), read by 256Mi tasks."""
    return total(xs=collect_ints(n=n)), total_len(xs=collect_strs(n=n))


@workflow
def mapped_wf(xs: List[int]) -> int:
    """A map's collected outputs, read by a task."""
    return total(xs=map_task(square)(x=xs))
