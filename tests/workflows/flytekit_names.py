"""Workflows using more of flytekit's names and options (issue 23, point 12): map task classes,
tables at a path, untyped tasks, resource tuples, cache policies, file options and formats.
Run in-process (tests/unit/test_flytekit_names.py) and on the cluster
(tests/integration/test_flytekit_names_cluster.py)."""

from __future__ import annotations

import typing

from sdk import LaunchPlan, task, workflow
from sdk.core.array_node import array_node
from sdk.core.array_node_map_task import ArrayNodeMapTask
from sdk.core.legacy_map_task import map_task as legacy_map_task

# ---- map task classes ---------------------------------------------------------------------


@task
def affine(x: int, a: int, b: int = 0) -> int:
    return a * x + b


scaled_by_3 = ArrayNodeMapTask(affine, bound_inputs_values={"a": 3})
given_once = ArrayNodeMapTask(affine, bound_inputs={"a"})


@workflow
def bound_values_wf(xs: typing.List[int]) -> typing.List[int]:
    return scaled_by_3(x=xs)


@workflow
def bound_names_wf(xs: typing.List[int], a: int) -> typing.List[int]:
    return given_once(x=xs, a=a)


@workflow
def affine_wf(x: int, a: int = 2) -> int:
    return affine(x=x, a=a, b=100)


affine_lp = LaunchPlan.get_or_create(affine_wf, name="affine_lp", fixed_inputs={"a": 5})


@workflow
def array_node_wf(xs: typing.List[int]) -> typing.List[int]:
    return array_node(affine_lp)(x=xs)


@workflow
def legacy_wf(xs: typing.List[int], bs: typing.List[int]) -> typing.List[int]:
    return legacy_map_task(affine)(x=xs, a=xs, b=bs)
