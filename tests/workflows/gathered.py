"""Workflows whose output lists are large enough for the scheduler to gather them into the
store (scheduler/gathering.py, `GRAFT_GATHER_ABOVE`), read on by what a user writes after a
fan-out: a task, a map, a nested dynamic, a Promise path and a conditional."""

from sdk import conditional, dynamic, map_task, task, workflow


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def describe(t: int) -> str:
    return f"total {t}"


@dynamic
def squares(n: int) -> list[int]:
    """n children, one square each: the output lists them all."""
    return [square(x=i) for i in range(n)]


@dynamic
def total_of(xs: list[int]) -> int:
    """A nested dynamic bound to another's output."""
    return total(xs=xs)


@workflow
def fan_and_read(n: int) -> (list[int], list[int], int, int, int, str):
    """The fan-out's list, a map over it (a list as long), the map's total, the total a
    nested dynamic takes of the fan-out's list, the square of its fourth item, and what a
    conditional makes of the total."""
    xs = squares(n=n)
    ys = map_task(square)(x=xs)
    t = total(xs=ys)
    said = (conditional("large")
            .if_(t > 1000).then(describe(t=t))
            .else_().then(describe(t=total(xs=xs))))
    return xs, ys, t, total_of(xs=xs), square(x=xs[3]), said


@workflow
def fan_and_total(n: int) -> (list[int], int):
    xs = squares(n=n)
    return xs, total(xs=xs)


@workflow
def mapped(n: int) -> list[int]:
    return map_task(square)(x=numbers(n=n))
