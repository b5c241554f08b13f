"""Workflows whose behaviour flytekit 1.16 fixes where a program can tell (issue 23, point
13): what a failure raises, what a call returns; run in-process and on the cluster."""

import datetime
import typing

from sdk import conditional, map_task, task, workflow
from sdk.exceptions.user import FlyteRecoverableException
from workflows.failing import bump

# ---- a. failures ----------------------------------------------------------------------------

RAISED: list[BaseException] = []  # what `lookup` raised, in this process


@task(retries=3)
def lookup(key: str, counter_dir: str) -> int:
    """Raises KeyError for every key but "known"; counts its calls."""
    bump(counter_dir, "lookup")
    if key != "known":
        exc = KeyError(key)
        RAISED.append(exc)
        raise exc
    return 1


@workflow
def looks_up(key: str, counter_dir: str) -> int:
    return lookup(key=key, counter_dir=counter_dir)


@task(retries=2)
def recovers(counter_dir: str, fail_times: int) -> int:
    """Asks for another attempt (FlyteRecoverableException) on its first `fail_times` calls."""
    n = bump(counter_dir, "recovers")
    if n <= fail_times:
        raise FlyteRecoverableException(f"attempt {n} needs another")
    return n


@task
def halve(x: int) -> int:
    return x // 2


@workflow
def halves(x: int) -> int:
    return conditional("sign").if_(x >= 0).then(halve(x=x)).else_().fail(
        "x must not be negative")


@task
def odd_fails(x: int) -> int:
    if x % 2:
        raise ValueError(f"{x} is odd")
    return x


@workflow
def mostly_even(xs: typing.List[int]) -> typing.List[typing.Optional[int]]:
    return map_task(odd_fails, min_success_ratio=0.5)(x=xs)


@task
def says_int() -> int:
    return "not an int"  # type: ignore[return-value]


@workflow
def bad_output() -> int:
    return says_int()


# ---- d. what a call returns ------------------------------------------------------------------


class Stats(typing.NamedTuple):
    total: int
    mean: float


@task
def split(x: int) -> typing.Tuple[int, str]:
    return x, str(x)


@task
def stats(xs: typing.List[int]) -> Stats:
    return Stats(sum(xs), sum(xs) / len(xs))


@workflow
def pair(x: int) -> typing.Tuple[int, str]:
    """Several unnamed outputs, the call overridden: flytekit returns them as a named tuple
    DefaultNamedTupleOutput(o0=..., o1=...)."""
    return split(x=x).with_overrides(retries=1)


@workflow
def summary(xs: typing.List[int]) -> Stats:
    return stats(xs=xs)


# ---- e. schedules ---------------------------------------------------------------------------


@task
def echo_time(when: datetime.datetime) -> str:
    return when.isoformat()


@workflow
def stamped(kickoff_time: datetime.datetime) -> str:
    return echo_time(when=kickoff_time)
