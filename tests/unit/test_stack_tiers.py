"""`graft run --remote --up` starts workers only for the tiers its workflow can use."""

from __future__ import annotations

import sys
import typing

from sdk import Resources, dynamic, task, workflow
from sdk.model.config import Settings, parse_tiers
from sdk.remote import stack
from sdk.runtime.loading import task_memories


@task(limits=Resources(mem="3Gi"))
def heavy(x: int) -> int:
    return x


@task(limits=Resources(mem="600Mi"))
def medium(x: int) -> int:
    return x


@task
def small(x: int) -> int:
    return x


@dynamic
def fan(n: int) -> typing.List[int]:
    return [heavy(x=i) for i in range(n)]


@workflow
def wf(n: int = 2) -> typing.List[int]:
    return fan(n=medium(x=n))


def test_spec_nodes_and_the_tasks_defined_choose_the_tiers(monkeypatch):
    settings = Settings(tiers=parse_tiers("256Mi,1Gi,4Gi,16Gi"))
    gi = 2**30
    assert stack.tiers_used(settings, wf.graph()) == [256 * 2**20, gi]  # fan, medium
    memories = task_memories()  # every task defined in this process, these among them
    assert {600 * 2**20, 3 * gi} <= set(memories)
    assert 4 * gi in stack.tiers_used(settings, wf.graph(), memories)

    monkeypatch.setattr(stack.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(stack, "machine_memory_bytes", lambda: 64 * gi)
    assert stack.worker_sizes(settings, [256 * 2**20, gi]) == [(256 * 2**20, 2), (gi, 2)]
    assert stack.worker_sizes(settings, [256 * 2**20]) == [(256 * 2**20, 4)]
    commands = stack.stack_commands(settings, [gi])
    assert [c[4:6] for c in commands[1:]] == [["--tier", "1Gi"]]
    assert commands[0][-1] == "scheduler" and sys.executable == commands[0][0]
