"""A chain of plain tasks, each link noting its runs in a file (tests/integration/
test_chain_cluster.py): what a worker runs as links after one another (scheduler/
continuation.py)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from sdk import task, workflow
from sdk.exceptions import FlyteRecoverableException

LINKS = 30


@task(retries=1)
def link(x: int, folder: str, delay: float, fail_at: int) -> int:
    """x + 1, after `delay` seconds; noted in `folder` when it starts and when it ends. The
    link with x == fail_at fails its first attempt."""
    Path(folder, f"start-{x}-{uuid.uuid4().hex}").write_text(str(os.getpid()))
    if x == fail_at and not Path(folder, "failed").exists():
        Path(folder, "failed").write_text("once")
        raise FlyteRecoverableException(f"link {x} fails once")
    time.sleep(delay)
    Path(folder, f"end-{x}-{uuid.uuid4().hex}").write_text(str(os.getpid()))
    return x + 1


@workflow
def chain_wf(folder: str, delay: float = 0.0, fail_at: int = -1) -> int:
    x = link(x=0, folder=folder, delay=delay, fail_at=fail_at)
    for _ in range(LINKS - 1):
        x = link(x=x, folder=folder, delay=delay, fail_at=fail_at)
    return x


def runs(folder: str, what: str = "end") -> dict[int, int]:
    """How many times each link started or ended, by its input."""
    counts: dict[int, int] = {}
    for f in Path(folder).glob(f"{what}-*"):
        x = int(f.name.split("-")[1])
        counts[x] = counts.get(x, 0) + 1
    return counts
