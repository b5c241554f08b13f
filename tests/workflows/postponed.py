"""Workflows in a module with postponed annotations (every annotation is a string)."""

from __future__ import annotations

import typing
from typing import NamedTuple

from sdk import task, workflow


class Stats(NamedTuple):
    total: int
    label: str


@task
def pair(x: int) -> (int, str):
    return x, str(x)


@task
def stats(xs: typing.List[int]) -> Stats:
    return Stats(sum(xs), f"n={len(xs)}")


@workflow
def postponed_wf(x: int) -> (int, str, int):
    a, b = pair(x=x)
    st = stats(xs=[a, a])
    return a, b, st.total
