"""The graft side of bench/cluster.py and bench/scale.py: a no-op task, a sequential chain, a
dynamic fan-out, a map, and a one-node probe on a tier of its own.

The chain length is fixed when the workflow compiles (a Python loop in the body), so each
length is its own workflow: `chain_wf` (CHAIN_NODES tasks) and `chain_warmup_wf` (a short one
used to warm the stack up). The fan-out size is an input of `fan_wf`, the map's list an input
of `map_wf`.
"""

from __future__ import annotations

from typing import List

from sdk import Resources, dynamic, map_task, task, workflow

CHAIN_NODES = 200
WARMUP_CHAIN_NODES = 5


@task
def noop(x: int) -> int:
    return x + 1


@workflow
def chain_wf() -> int:
    """noop applied CHAIN_NODES times to 0, one node after the other: returns CHAIN_NODES."""
    x = noop(x=0)
    for _ in range(CHAIN_NODES - 1):
        x = noop(x=x)
    return x


SHORT_CHAIN_NODES = 50


@workflow
def short_chain_wf() -> int:
    """noop applied SHORT_CHAIN_NODES times (bench/s3_store.py)."""
    x = noop(x=0)
    for _ in range(SHORT_CHAIN_NODES - 1):
        x = noop(x=x)
    return x


@workflow
def chain_warmup_wf() -> int:
    x = noop(x=0)
    for _ in range(WARMUP_CHAIN_NODES - 1):
        x = noop(x=x)
    return x


@dynamic
def fan(n: int) -> List[int]:
    """n independent noop nodes, grafted at run time: returns [1, ..., n]."""
    return [noop(x=i) for i in range(n)]


@workflow
def fan_wf(n: int) -> List[int]:
    return fan(n=n)


@workflow
def fan_4gi_wf(n: int) -> List[int]:
    """fan_wf with the dynamic on the 4Gi tier (its children stay on 256Mi): building a
    sub-graph of 100,000 nodes takes a little more than the 256Mi tier allows."""
    return fan(n=n).with_overrides(limits=Resources(mem="4Gi"))


@task
def total(xs: List[int]) -> int:
    """The sum of `xs`, on the 256Mi tier."""
    return sum(xs)


@workflow
def fan_sum_wf(n: int) -> int:
    """Issue 26's shape: the dynamic `fan` on the 1Gi tier, its n children and the sum of
    their n outputs on 256Mi: returns n (n + 1) / 2."""
    return total(xs=fan(n=n).with_overrides(limits=Resources(mem="1Gi")))


@workflow
def map_wf(xs: List[int]) -> List[int]:
    """One map node over `xs`: returns [x + 1 for x in xs]."""
    return map_task(noop)(x=xs)


@task(limits=Resources(mem="1Gi"))
def probe(x: int) -> int:
    """noop on the 1Gi tier, so that bench/scale.py's probes do not queue behind the 256Mi
    tier's backlog: their latency is the scheduler's, not the queue's."""
    return x + 1


@workflow
def probe_wf(x: int) -> int:
    return probe(x=x)


@workflow
def noop_wf(x: int) -> int:
    """One noop node on the 256Mi tier: bench/scale.py's probe with --probe-shared."""
    return noop(x=x)


@task
def hold(i: int, folder: str, seconds: float) -> int:
    """Record this process's pid in `folder/<i>`, then hold the slot for `seconds`."""
    import os
    import time

    with open(os.path.join(folder, str(i)), "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(seconds)
    return i


@dynamic
def holds(n: int, folder: str, seconds: float) -> List[int]:
    """n `hold` nodes side by side (bench/cancel.py)."""
    return [hold(i=i, folder=folder, seconds=seconds) for i in range(n)]


@workflow
def holds_wf(n: int, folder: str, seconds: float) -> List[int]:
    return holds(n=n, folder=folder, seconds=seconds)


# Values over the inline limit (sdk.values.literals.INLINE_LIMIT_BYTES, 2 KiB): every output
# is written to the store and every input read from it (bench/s3_store.py).
STORED_BYTES = 4096


def stored_value(i: int) -> str:
    """A STORED_BYTES string that differs for each i."""
    return f"{i:08d}" * (STORED_BYTES // 8)


def rotated(s: str, times: int = 1) -> str:
    return s[times:] + s[:times]


@task
def rotate(s: str) -> str:
    """`s` rotated by one character: a stored value in, another out."""
    return rotated(s)


@workflow
def stored_chain_wf(s: str) -> str:
    """rotate applied SHORT_CHAIN_NODES times, each link's value in the store."""
    x = rotate(s=s)
    for _ in range(SHORT_CHAIN_NODES - 1):
        x = rotate(s=x)
    return x


@dynamic
def stored_fan(n: int) -> List[str]:
    return [rotate(s=stored_value(i)) for i in range(n)]


@workflow
def stored_fan_wf(n: int) -> List[str]:
    return stored_fan(n=n)


@workflow
def stored_map_wf(xs: List[str]) -> List[str]:
    return map_task(rotate)(s=xs)
