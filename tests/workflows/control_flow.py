"""Workflows for Flyte's control flow: maps, conditionals, failure policies, launch plans,
imperative workflows, Promise paths, ordering, the task context and tables."""

import dataclasses
import functools
import os
import time
import typing
from pathlib import Path
from typing import NamedTuple, Optional

import pandas as pd

from sdk import (
    LaunchPlan,
    Resources,
    Workflow,
    WorkflowFailurePolicy,
    conditional,
    create_node,
    current_context,
    dynamic,
    map_task,
    task,
    workflow,
)
from sdk.types import FlyteError
from sdk.types.structured import StructuredDataset, kwtypes

# ---- maps ---------------------------------------------------------------------------------


@task
def square(x: int) -> int:
    return x * x


@task
def scale(x: int, by: int) -> int:
    return x * by


@task
def odd_fails(x: int) -> int:
    if x % 2:
        raise ValueError(f"{x} is odd")
    return x


@task
def pair(a: int, b: str) -> str:
    return f"{b}{a}"


@workflow
def squares_scaled(xs: typing.List[int], by: int) -> typing.List[int]:
    """A map over a map, the second with `by` fixed by a partial bound to a workflow input."""
    return map_task(functools.partial(scale, by=by))(x=map_task(square)(x=xs))


@workflow
def zipped(a: typing.List[int], b: typing.List[str]) -> typing.List[str]:
    return map_task(pair, concurrency=2)(a=a, b=b)


@workflow
def tolerant(xs: typing.List[int]) -> typing.List[Optional[int]]:
    return map_task(odd_fails, min_success_ratio=0.5)(x=xs)


@workflow
def strict(xs: typing.List[int]) -> typing.List[int]:
    return map_task(odd_fails)(x=xs)


@task
def ints(n: int) -> typing.List[int]:
    return list(range(n))


@task
def total(xs: typing.List[int]) -> int:
    return sum(xs)


@workflow
def square_sum(x: int) -> int:
    return total(xs=[square(x=x), x])


@dynamic
def map_in_dynamic(n: int) -> int:
    return total(xs=map_task(square)(x=list(range(n))))


@workflow
def mapped_dynamic(n: int) -> int:
    return map_in_dynamic(n=n)


@workflow
def map_of_workflow(xs: typing.List[int]) -> typing.List[int]:
    return map_task(square_sum)(x=xs)


@workflow
def map_many(n: int) -> int:
    return total(xs=map_task(square)(x=ints(n=n)))


@task(retries=1)
def flaky(x: int) -> int:
    """Fails its first attempt: each map item retries on its own."""
    if current_context().attempt == 1:
        raise RuntimeError(f"first try of {x}")
    return x + 100


@workflow
def flaky_map(xs: typing.List[int]) -> typing.List[int]:
    return map_task(flaky)(x=xs)


@task
def slow_square(x: int) -> int:
    time.sleep(0.3)
    return x * x


@workflow
def one_at_a_time(xs: typing.List[int]) -> typing.List[int]:
    return map_task(slow_square, concurrency=1)(x=xs)


CUBED: typing.List[int] = []  # what cached_cube really computed, in this process


@task(cache=True, cache_version="1")
def cached_cube(x: int) -> int:
    CUBED.append(x)
    return x ** 3


@workflow
def cached_map(xs: typing.List[int]) -> typing.List[int]:
    return map_task(cached_cube)(x=xs)


@task(requests=Resources(mem="1Gi"))
def roomy_square(x: int) -> int:
    return x * x


@workflow
def roomy_map(xs: typing.List[int]) -> typing.List[int]:
    return map_task(roomy_square)(x=xs)


# ---- conditionals -------------------------------------------------------------------------


@task
def double(x: float) -> float:
    return 2.0 * x


@task
def negate(x: float) -> float:
    return -x


@task
def label(x: float) -> str:
    return f"x={x:g}"


@workflow
def sign(x: float) -> float:
    return (conditional("sign")
            .if_(x > 0.0).then(double(x=x))
            .elif_((x < -10.0) | (x == -5.0)).then(negate(x=negate(x=x)))
            .else_().then(negate(x=x)))


@workflow
def positive_only(x: float) -> float:
    return conditional("positive").if_(x > 0.0).then(double(x=x)).else_().fail(
        "x must be positive")


@workflow
def nested(x: float, flag: bool) -> str:
    return (conditional("outer")
            .if_((x >= 0.0) & (x < 100.0))
            .then(conditional("inner")
                  .if_(flag.is_true()).then(label(x=double(x=x)))
                  .else_().then(label(x=x)))
            .else_().then(label(x=negate(x=x))))


@dynamic
def cond_in_dynamic(x: float) -> float:
    doubled = double(x=x)
    return (conditional("in-dynamic")
            .if_(x > 1.0).then(negate(x=doubled))  # x is a plain value here
            .elif_(doubled < 1.0).then(double(x=doubled))
            .else_().then(negate(x=x)))


@workflow
def dynamic_cond(x: float) -> float:
    return cond_in_dynamic(x=x)


# ---- failure policies and handlers --------------------------------------------------------


@task
def fail_on(x: int) -> int:
    if x < 0:
        raise RuntimeError(f"negative: {x}")
    return x


@task
def record(path: str, x: int) -> int:
    with open(path, "a") as fh:
        fh.write(f"{x}\n")
    return x


@task
def append(path: str, text: str) -> None:
    with open(path, "a") as fh:
        fh.write(text + "\n")


@task
def on_fail(path: str, x: int, err: Optional[FlyteError] = None) -> None:
    with open(path, "a") as fh:
        fh.write(f"handler {x} {err.failed_node_id if err else '-'}: "
                 f"{err.message if err else '-'}\n")


@task
def pause(x: int) -> int:
    """Still running when its sibling fails, on the cluster, even when the sibling waits seconds
    for a worker slot (a shared cluster's slot may still be busy with another test's node)."""
    time.sleep(4)
    return x


@workflow(on_failure=on_fail)
def fails_at_once(path: str, x: int) -> typing.Tuple[int, int]:
    return fail_on(x=x), record(path=path, x=record(path=path, x=pause(x=1)))


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
          on_failure=on_fail)
def fails_after_the_rest(path: str, x: int) -> typing.Tuple[int, int]:
    return fail_on(x=x), record(path=path, x=record(path=path, x=pause(x=1)))


@task
def sleeper(path: str) -> int:
    """Writes its pid, then sleeps far longer than any test waits."""
    with open(path, "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(600)
    return 0


@task
def fail_soon(path: str) -> int:
    while not os.path.exists(path):  # the sleeper is running
        time.sleep(0.05)
    raise RuntimeError("failing while the sleeper runs")


@workflow
def cancels_running(path: str) -> typing.Tuple[int, int]:
    return sleeper(path=path), fail_soon(path=path)


@workflow(on_failure=on_fail)
def failing_sub(path: str, x: int) -> int:
    return fail_on(x=x)


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
          on_failure=on_fail)
def outer_with_sub(path: str, x: int) -> typing.Tuple[int, int]:
    """Both handlers run: the sub-workflow's, then (after record) the outer one's."""
    return failing_sub(path=path, x=x), record(path=path, x=pause(x=1))


@task
def first_cleanup(path: str, err: Optional[FlyteError]) -> None:
    with open(path, "a") as fh:
        fh.write(f"cleanup-1 {err.failed_node_id if err else '-'}\n")


@workflow
def two_step_cleanup(path: str, x: int, err: Optional[FlyteError] = None) -> None:
    first = first_cleanup(path=path, err=err)
    second = append(path=path, text="cleanup-2")
    first >> second


@workflow(on_failure=two_step_cleanup)
def cleans_up_in_two_steps(path: str, x: int) -> int:
    return fail_on(x=x)


@workflow
def odd_fails_wf(x: int) -> int:
    return odd_fails(x=x)


@workflow
def tolerant_of_workflows(xs: typing.List[int]) -> typing.List[Optional[int]]:
    """Items that are sub-workflows fail like task items: the map tolerates them."""
    return map_task(odd_fails_wf, min_success_ratio=0.5, concurrency=1)(x=xs)


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def strict_map_of_workflows(xs: typing.List[int]) -> typing.List[int]:
    return map_task(odd_fails_wf, concurrency=1)(x=xs)


@workflow
def cleanup_each(path: str, x: int, err: Optional[FlyteError] = None) -> None:
    map_task(functools.partial(append, path=path))(text=["cleanup a", "cleanup b"])


@workflow(on_failure=cleanup_each)
def cleans_up_with_a_map(path: str, x: int) -> int:
    return fail_on(x=x)


@workflow(on_failure=on_fail)
def inner_sub(path: str, x: int) -> int:
    return fail_on(x=x)


@workflow
def middle_sub(path: str, x: int) -> int:
    return inner_sub(path=path, x=x)


@workflow
def nested_subs(path: str, x: int) -> int:
    """The inner sub-workflow's handler runs though the middle one stops on its failure."""
    return middle_sub(path=path, x=x)


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
def patient_cleanup(path: str, x: int, err: Optional[FlyteError] = None) -> None:
    fail_on(x=x)
    append(path=path, text="cleanup beside the failed step")


@workflow(on_failure=patient_cleanup)
def cleanup_that_fails(path: str, x: int) -> int:
    """The handler's own step fails; its FAIL_AFTER policy still runs its other step."""
    return fail_on(x=x)


@workflow(failure_policy=WorkflowFailurePolicy.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
          on_failure=on_fail)
def patient_sub(path: str, x: int) -> typing.Tuple[int, int]:
    return fail_on(x=x), record(path=path, x=pause(x=7))


@workflow
def outer_of_patient_sub(path: str, x: int) -> typing.Tuple[int, int]:
    """The sub-workflow's independent step finishes before its handler runs."""
    return patient_sub(path=path, x=x)


# ---- launch plans and imperative workflows -----------------------------------------------


@workflow
def affine(x: int, a: int = 2, b: int = 1) -> int:
    return total(xs=[scale(x=x, by=a), b])


affine_lp = LaunchPlan.get_or_create(affine, name="affine_3x_plus_b",
                                     default_inputs={"b": 10}, fixed_inputs={"a": 3})


@workflow
def uses_launch_plan(x: int) -> int:
    return affine_lp(x=x, b=0)


def imperative() -> Workflow:
    wb = Workflow(name="imperative_affine")
    x = wb.add_workflow_input("x", int)
    node = wb.add_entity(scale, x=x, by=4)
    summed = wb.add_entity(total, xs=[node.outputs["o0"], 2])
    wb.add_workflow_output("y", summed.outputs["o0"], python_type=int)
    return wb


IMPERATIVE = imperative()


# ---- Promise paths, ordering, one-field NamedTuples ---------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    y: int


@task
def points(n: int) -> typing.List[Point]:
    return [Point(i, 10 * i) for i in range(n)]


@task
def lookup(n: int) -> typing.Dict[str, int]:
    return {"n": n, "next": n + 1}


@task
def first_point(n: int) -> Point:
    return Point(n, -n)


@workflow
def paths(n: int) -> typing.Tuple[int, int, int]:
    pts = points(n=n)
    return square(x=pts[1].y), square(x=lookup(n=n)["next"]), square(x=first_point(n=n).y)


@workflow
def out_of_range(n: int) -> int:
    return square(x=points(n=n)[5].x)


@workflow
def ordered(path: str) -> None:
    third = create_node(append, path=path, text="third")
    first = create_node(append, path=path, text="first")
    second = append(path=path, text="second")
    first >> second >> third


class Slope(NamedTuple):
    slope: float


@task
def fit(x: float) -> Slope:
    return 2.0 * x  # the plain value for a one-field NamedTuple, as Flyte allows


@workflow
def slope_wf(x: float) -> float:
    return fit(x=x).slope


# ---- the task context ---------------------------------------------------------------------


@task(retries=3)
def resumes(goal: int) -> typing.Tuple[int, str, int]:
    ctx = current_context()
    done = int(ctx.checkpoint.read() or b"0") + 1
    ctx.checkpoint.write(str(done).encode())
    ctx.logging.info("attempt %d reached %d", ctx.attempt, done)
    if done < goal:
        raise RuntimeError(f"only {done} of {goal}: try again")
    return done, ctx.node_id, ctx.attempt


@workflow
def checkpointed(goal: int) -> typing.Tuple[int, str, int]:
    return resumes(goal=goal)


@task(retries=3)
def resumes_folder(goal: int) -> typing.List[str]:
    """Keeps a folder with one file per attempt (flytekit's save/restore)."""
    ctx = current_context()
    folder = ctx.checkpoint.restore() or Path(ctx.working_directory, "state")
    folder.mkdir(exist_ok=True)
    (folder / "runs").mkdir(exist_ok=True)
    (folder / "runs" / f"attempt-{ctx.attempt}.txt").write_text(str(ctx.attempt))
    ctx.checkpoint.save(folder)
    done = sorted(p.name for p in (folder / "runs").iterdir())
    if len(done) < goal:
        raise RuntimeError(f"only {len(done)} of {goal}: try again")
    return done


@workflow
def folder_checkpointed(goal: int) -> typing.List[str]:
    return resumes_folder(goal=goal)


@task
def scratch(tag: str) -> typing.Tuple[str, typing.List[str], str]:
    """Its working directory, what was in it at start, and what its `out.txt` holds after a
    pause (a task writing the same name at the same time must not change it)."""
    workdir = current_context().working_directory
    found = sorted(os.listdir(workdir))
    with open(os.path.join(workdir, "out.txt"), "w") as fh:
        fh.write(tag)
    time.sleep(0.3)
    with open(os.path.join(workdir, "out.txt")) as fh:
        return workdir, found, fh.read()


@workflow
def scratch_pair() -> typing.Tuple[str, typing.List[str], str, str, typing.List[str], str]:
    a_dir, a_found, a_back = scratch(tag="a")
    b_dir, b_found, b_back = scratch(tag="b")
    return a_dir, a_found, a_back, b_dir, b_found, b_back


# ---- tables -------------------------------------------------------------------------------


@task(container_image="ghcr.io/example/tables:1")
def people(n: int) -> pd.DataFrame:
    return pd.DataFrame({"name": [f"p{i}" for i in range(n)], "age": [20 + i for i in range(n)],
                         "city": ["x"] * n})


@task
def oldest(df: pd.DataFrame) -> str:
    return str(df.sort_values("age").iloc[-1]["name"])


@task
def ages(sd: typing.Annotated[StructuredDataset, kwtypes(age=int)]) -> typing.List[int]:
    frame = sd.open(pd.DataFrame).all()
    assert list(frame.columns) == ["age"]
    return [int(a) for a in frame["age"]]


@task
def wrap(n: int) -> StructuredDataset:
    return StructuredDataset(dataframe=pd.DataFrame({"age": list(range(n)), "x": [0] * n}))


@workflow
def tables(n: int) -> typing.Tuple[str, typing.List[int], typing.List[int]]:
    df = people(n=n)
    return oldest(df=df), ages(sd=df), ages(sd=wrap(n=n))


@task(retries=1)
def shaky(x: int) -> int:
    """Fails the first attempt of every seventh item and every attempt of items 13 and 113:
    in a map sent in chunks, each failed item retries on its own."""
    if x in (13, 113):
        raise ValueError(f"{x} always fails")
    if x % 7 == 0 and current_context().attempt == 1:
        raise RuntimeError(f"first try of {x}")
    return x * 3


@workflow
def chunked_map(n: int) -> typing.List[Optional[int]]:
    return map_task(shaky, min_success_ratio=0.9)(x=ints(n=n))


@workflow
def chunked_map_strict(n: int) -> typing.List[int]:
    return map_task(shaky)(x=ints(n=n))


@dynamic
def shaky_fan(n: int, fail: bool) -> typing.List[int]:
    """`shaky` over range(n) side by side (without 13 and 113 unless `fail`); every tenth node
    gets one more retry, which gives it a task template of its own, so it never shares a
    chunk with its plain siblings."""
    xs = [x for x in range(n) if fail or x not in (13, 113)]
    return [shaky(x=x).with_overrides(retries=2) if x % 10 == 5 else shaky(x=x) for x in xs]


@workflow
def chunked_fan(n: int) -> typing.List[int]:
    return shaky_fan(n=n, fail=False)


@workflow
def chunked_fan_failing(n: int) -> typing.List[int]:
    return shaky_fan(n=n, fail=True)
