"""Workflows watched through Flower: a node whose tier no worker serves stays queued."""

from sdk import Resources, task, workflow


@task(limits=Resources(mem="3Gi"))
def needs_big_tier(x: int) -> int:
    """Runs on the 4Gi tier, which the test clusters start no worker for."""
    return x


@workflow
def waits_for_big_tier(x: int = 7) -> int:
    return needs_big_tier(x=x)
