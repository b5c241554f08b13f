"""Workflows whose behaviour flytekit 1.16 fixes where a program can tell (issue 23, point
13): what a failure raises, what a call returns; run in-process and on the cluster."""

import datetime
import typing

from sdk import conditional, map_task, task, workflow
from sdk.core.task import Echo
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


# ---- f. what decoration accepts ---------------------------------------------------------------


@task
def kind_of(x: typing.Union[int, str]) -> str:
    return f"{type(x).__name__} {x}"


@task
def maybe(x: typing.Optional[int]) -> typing.Optional[int]:
    return x


@workflow
def kinds(n: int, s: str, o: typing.Optional[int] = 5) -> typing.List[str]:
    """An int, a str and an Optional[int] bind to a Union[int, str] input, as flytekit takes
    them (a None in the Optional would fail `kind_of` when it reads it)."""
    return [kind_of(x=n), kind_of(x=s), kind_of(x=maybe(x=o)), kind_of(x="literal")]


@task
def one(x: int) -> int:
    return x


@task
def two(x: int) -> typing.Tuple[int, str]:
    return -x, "two"


@workflow
def common_output(x: int) -> int:
    """The cases give (o0) and (o0, o1): the conditional gives o0, as in flytekit."""
    return conditional("c").if_(x > 0).then(one(x=x)).else_().then(two(x=x))


@task
def constant() -> int:
    return 7


@workflow
def map_of_nothing() -> typing.List[int]:
    """A map of a task without inputs has no items, as in flytekit."""
    return map_task(constant)()


echo_number = Echo(name="echo", inputs={"a": int})
echo_text = Echo(name="echo", inputs={"b": str})  # the same name, other inputs: as flytekit


@workflow
def echoes(a: int, b: str) -> typing.Tuple[int, str]:
    return echo_number(a=a), echo_text(b=b)
