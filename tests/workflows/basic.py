"""Static workflows: a chain, tuple and NamedTuple outputs, containers, dataclasses, enums,
optional values, a sub-workflow."""

import math
import typing
from typing import NamedTuple, Optional

from sdk import Resources, task, workflow
from workflows.values import Color, Opaque, Point, Segment


class Stats(NamedTuple):
    total: int
    mean: float
    label: str


# ---- a chain ------------------------------------------------------------------------------

@task
def make_numbers(n: int) -> list[int]:
    return list(range(1, n + 1))


@task(limits=Resources(mem="200Mi"))
def square_all(xs: list[int]) -> list[int]:
    return [x * x for x in xs]


@task
def summarize(xs: list[int], label: str = "squares") -> Stats:
    return Stats(total=sum(xs), mean=sum(xs) / len(xs), label=label)


@task
def describe(total: int, label: str) -> str:
    return f"{label}={total}"


@workflow
def chain(n: int = 4) -> str:
    """1..n, squared, summed: n=4 gives 'squares=30'."""
    xs = make_numbers(n=n)
    sq = square_all(xs=xs)
    st = summarize(xs=sq)
    return describe(total=st.total, label=st.label)


@workflow
def stats_wf(n: int = 4) -> Stats:
    """Returns a NamedTuple: n=4 gives Stats(total=30, mean=7.5, label='squares')."""
    return summarize(xs=square_all(xs=make_numbers(n=n)))


# ---- tuple outputs ------------------------------------------------------------------------

@task
def div_mod(a: int, b: int) -> (int, str):
    q, r = divmod(a, b)
    return q, f"r{r}"


@task
def min_max(xs: list[float]) -> typing.Tuple[float, float]:
    return min(xs), max(xs)


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def add_floats(a: float, b: float) -> float:
    return a + b


@workflow
def tuples(a: int = 17, b: int = 5) -> typing.Tuple[int, str, float]:
    """(a // b + 1, 'r<a % b>', min + max of [a, b, 0.5]): 17, 5 gives (4, 'r2', 17.5)."""
    q, r = div_mod(a=a, b=b)
    lo, hi = min_max(xs=[0.5, 2.0, 17.0])
    return add(a=q, b=1), r, add_floats(a=lo, b=hi)


@task
def float_kind(x: float) -> str:
    return type(x).__name__


@workflow
def int_to_float(n: int = 2) -> (str, float):
    """An int output bound to a float input arrives as a float: ('float', 3.0)."""
    k = add(a=n, b=1)
    return float_kind(x=k), add_floats(a=k, b=0)


# ---- containers and optional values -------------------------------------------------------

@task
def greet(name: Optional[str] = None) -> str:
    return f"hello {name}" if name is not None else "hello nobody"


@task
def maybe_half(x: int) -> float | None:
    return x / 2 if x % 2 == 0 else None


@task
def scale(d: dict[str, float], k: float) -> dict[str, float]:
    return {key: v * k for key, v in d.items()}


@task
def invert(d: dict[str, int]) -> dict[int, str]:
    return {v: key for key, v in d.items()}


@task
def matrix(rows: int, cols: int) -> list[list[float]]:
    return [[float(r * cols + c) for c in range(cols)] for r in range(rows)]


@task
def transpose(m: list[list[float]]) -> list[list[float]]:
    return [list(col) for col in zip(*m)]


@task
def row_sums(m: list[list[float]]) -> list[float]:
    return [sum(row) for row in m]


@task
def join_all(parts: list[str], sep: str = ",") -> str:
    return sep.join(parts)


@task
def pick(d: dict[str, str], key: str) -> str:
    return d[key]


@workflow
def containers(name: Optional[str] = None) -> (str, str, float | None, float | None,
                                                dict[str, float], dict[int, str], list[float]):
    """Optional, Dict[str, ...], Dict[int, ...], List[List[float]], list and dict bindings."""
    g1 = greet(name=name)
    g2 = greet(name="ada")
    both = join_all(parts=[g1, g2, "end"], sep="|")
    chosen = pick(d={"first": g1, "second": g2}, key="second")
    t = transpose(m=matrix(rows=2, cols=3))
    return (both, chosen, maybe_half(x=4), maybe_half(x=3), scale(d={"a": 1.5, "b": 2}, k=2.0),
            invert(d={"one": 1, "two": 2}), row_sums(m=t))


# ---- dataclasses, enums, pickled values ---------------------------------------------------

@task
def make_segment(name: str, x1: float, y1: float, x2: float, y2: float) -> Segment:
    return Segment(name=name, a=Point(x1, y1), b=Point(x2, y2), tags=["made"])


@task
def seg_length(s: Segment) -> float:
    return math.hypot(s.b.x - s.a.x, s.b.y - s.a.y)


@task
def retag(s: Segment, tag: str) -> Segment:
    return Segment(name=s.name, a=s.a, b=s.b, tags=[*s.tags, tag])


@task
def next_color(c: Color) -> Color:
    order = list(Color)
    return order[(order.index(c) + 1) % len(order)]


@task
def wrap(payload: dict[str, int], weight: float) -> Opaque:
    return Opaque(dict(payload), weight)


@task
def weigh(o: Opaque) -> float:
    return o.weight * sum(o.payload.values())


@workflow
def dataclasses_wf(c: Color = Color.RED) -> (Segment, float, Color, float):
    """A 3-4-5 segment retagged, its length, the next color, a pickled value's weight."""
    s = make_segment(name="hyp", x1=0.0, y1=0.0, x2=3.0, y2=4.0)
    return (retag(s=s, tag="checked"), seg_length(s=s), next_color(c=c),
            weigh(o=wrap(payload={"a": 1, "b": 2}, weight=0.5)))


# ---- a sub-workflow -----------------------------------------------------------------------

@task
def total(xs: list[int]) -> int:
    return sum(xs)


@workflow
def square_sum(n: int) -> int:
    """1² + ... + n²."""
    return total(xs=square_all(xs=make_numbers(n=n)))


@workflow
def echo(x: int) -> int:
    """A sub-workflow with no nodes: its output is its input."""
    return x


@workflow
def with_subworkflow(n: int = 3) -> (int, int, int):
    """Calls square_sum twice and echo once: n=3 gives (14, 14 + 30, 3)."""
    a = square_sum(n=n)
    b = square_sum(n=add(a=n, b=1))
    return a, add(a=a, b=b), echo(x=n)


@workflow
def only_echo(x: int = 7) -> int:
    """A workflow whose only node is a sub-workflow that finishes at once."""
    return echo(x=echo(x=x))


# ---- a large literal in the body (offloaded to the store at compile time) -----------------

BIG = list(range(2000))


@workflow
def big_literal() -> int:
    return total(xs=BIG)
