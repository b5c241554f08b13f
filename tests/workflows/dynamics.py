"""Dynamic workflows: a fan-out, three nested levels, recursion, sub-workflows inside."""

from sdk import dynamic, task, workflow
from workflows.basic import add, square_sum, total


@task
def square(x: int) -> int:
    return x * x


@task
def identity(x: int) -> int:
    return x


@dynamic
def fan_out(n: int) -> list[int]:
    """[0², 1², ..., (n-1)²], one task per item."""
    return [square(x=i) for i in range(n)]


@workflow
def fan_out_wf(n: int = 5) -> int:
    """Sum of the squares below n: n=5 gives 30."""
    return total(xs=fan_out(n=n))


# ---- three levels ------------------------------------------------------------------------

@dynamic
def level3(base: int, width: int) -> int:
    return total(xs=[square(x=base + i) for i in range(width)])


@dynamic
def level2(base: int, width: int) -> int:
    return total(xs=[level3(base=base + 10 * i, width=width) for i in range(width)])


@dynamic
def level1(width: int) -> int:
    return total(xs=[level2(base=100 * i, width=width) for i in range(width)])


def nested_expected(width: int) -> int:
    return sum((100 * i + 10 * j + k) ** 2
               for i in range(width) for j in range(width) for k in range(width))


@workflow
def nested_wf(width: int = 2) -> int:
    """Dynamics three levels deep; see `nested_expected`."""
    return level1(width=width)


# ---- recursion ---------------------------------------------------------------------------

@dynamic
def fib(n: int) -> int:
    """Fibonacci by recursive dynamics; fib(0) = 0 and fib(1) = 1 are literal outputs."""
    if n < 2:
        return n
    return add(a=fib(n=n - 1), b=fib(n=n - 2))


@dynamic
def countdown(n: int, seen: list[int]) -> list[int]:
    """[n, n-1, ..., 1] by recursion, passing the list down; `seen` rides on unchanged at 0."""
    if n == 0:
        return seen
    return countdown(n=n - 1, seen=[*seen, n])


@workflow
def recursive_wf(n: int = 6) -> (int, list[int]):
    """fib(6) = 8, and the countdown from 4."""
    return fib(n=n), countdown(n=4, seen=[])


# ---- sub-workflows inside a dynamic ------------------------------------------------------

@dynamic
def sums_of_squares(ns: list[int]) -> list[int]:
    return [square_sum(n=n) for n in ns]


@dynamic
def passthrough(xs: list[int], k: int) -> list[int]:
    """Passes its input list on unchanged (bound as a value: same content, same store key)."""
    return [identity(x=k), total(xs=xs)]


@dynamic
def append_99(xs: list[int]) -> list[int]:
    """Changes its input in place before passing it on: the task sees the changed list."""
    xs.append(99)
    return identity_list(xs=xs)


@task
def identity_list(xs: list[int]) -> list[int]:
    return xs


@workflow
def mutated_input_wf(xs: list[int] = [1, 2]) -> list[int]:  # noqa: B006
    """xs + [99], appended in place by a dynamic."""
    return append_99(xs=xs)


@workflow
def dynamic_subworkflow_wf(ns: list[int] = [1, 2, 3]) -> (list[int], list[int]):  # noqa: B006
    """[1, 5, 14], and [k, sum(ns)]."""
    return sums_of_squares(ns=ns), passthrough(xs=ns, k=9)
