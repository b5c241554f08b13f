"""A dynamic fan-out whose nodes note each run in a file (tests/integration/
test_adoption_cluster.py): large enough to be grafted in slices."""

from __future__ import annotations

import typing

from sdk import dynamic, workflow
from workflows.lazy_maps import marked_inc


@dynamic
def marked_fan(n: int, folder: str) -> typing.List[int]:
    return [marked_inc(x=i, folder=folder) for i in range(n)]


@workflow
def marked_fan_wf(n: int, folder: str) -> typing.List[int]:
    return marked_fan(n=n, folder=folder)
