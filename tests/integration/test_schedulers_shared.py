"""Several real `graft scheduler` processes on one PostgreSQL share the executions through
shard leases (scheduler/shards.py). Killing two of three mid-run loses nothing: their shards
are adopted within 10 s and every execution completes with its in-process outputs. One that
stalls past its leases is fenced out, and the work goes on."""

import os
import signal
import time

import pytest
from conftest import wait_ready
from workflows import fair

from sdk.wire.control import SHARDS, control_keys
from sdk.wire.keys import GROUP

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
ADOPT_S = 10.0
N, NAPS, MS = 24, 4, 150


def holders(cluster) -> dict[int, int]:
    """pid of each scheduler holding shards -> how many it holds."""
    rows = cluster.query("SELECT owner, count(*) FROM graft_shards WHERE owner IS NOT NULL "
                         "GROUP BY owner")
    return {int(owner.split(":")[1]): count for owner, count in rows}


def held_by(cluster, pid: int) -> int:
    return holders(cluster).get(pid, 0)


def adopted_within(cluster, pid: int) -> float:
    """Seconds until no shard is held by scheduler `pid` any more and all are held."""
    started = time.monotonic()
    while held_by(cluster, pid) or sum(holders(cluster).values()) != SHARDS:
        assert time.monotonic() - started < 30, holders(cluster)
        time.sleep(0.1)
    return time.monotonic() - started


def pending(cluster) -> int:
    r = cluster.redis()
    return sum(r.xpending(key, GROUP)["pending"] for key in control_keys(cluster.settings))


def expected() -> list[int]:
    return fair.many_naps(n=NAPS, ms=0)  # in-process


@pytest.mark.parametrize("cluster_session", ["postgresql"], indirect=True)
def test_three_schedulers_share_executions_and_adopt_those_of_the_killed(cluster, wait_for):
    extra = [cluster._spawn(f"scheduler-{name}", ["scheduler"], "scheduler serving")
             for name in ("b", "c")]
    try:
        wait_ready(extra)
        pids = {cluster.scheduler.pid, *(p.pid for p in extra)}
        wait_for(lambda: set(holders(cluster)) == pids
                 and sum(holders(cluster).values()) == SHARDS
                 and max(holders(cluster).values()) <= -(-SHARDS // 3), 30,
                 "three schedulers to hold a third of the shards each")
        dead_before = len(cluster.dead_letters())

        client = cluster.client()
        runs = [client.submit(fair.many_naps, n=NAPS, ms=MS) for _ in range(N)]
        time.sleep(1.0)
        extra[0].kill()  # SIGKILL of its process group, mid-run
        first = adopted_within(cluster, extra[0].pid)
        time.sleep(1.0)
        extra[1].kill()
        second = adopted_within(cluster, extra[1].pid)
        print(f"adopted in {first:.1f} s and {second:.1f} s")
        assert first <= ADOPT_S and second <= ADOPT_S, (first, second)
        assert holders(cluster) == {cluster.scheduler.pid: SHARDS}

        outputs = [run.wait(timeout=120) for run in runs]
        assert outputs == [expected()] * N
        statuses = cluster.query("SELECT status, count(*) FROM graft_executions WHERE id IN "
                                 f"({', '.join(repr(r.id) for r in runs)}) GROUP BY status")
        assert statuses == [("SUCCEEDED", N)]
        wait_for(lambda: pending(cluster) == 0, 20, "every control message acknowledged")
        assert len(cluster.dead_letters()) == dead_before  # nothing refused on the way
    finally:
        for proc in extra:
            proc.kill()


@pytest.mark.parametrize("cluster_session", ["postgresql"], indirect=True)
def test_a_stalled_scheduler_is_fenced_out_and_the_other_takes_its_shards(cluster, wait_for):
    second = cluster._spawn("scheduler-b", ["scheduler"], "scheduler serving")
    try:
        wait_ready([second])
        wait_for(lambda: holders(cluster) == {cluster.scheduler.pid: SHARDS // 2,
                                              second.pid: SHARDS // 2}, 30,
                 "two schedulers to hold half of the shards each")
        client = cluster.client()
        runs = [client.submit(fair.many_naps, n=NAPS, ms=MS) for _ in range(N // 2)]
        os.kill(second.pid, signal.SIGSTOP)  # a long pause, past its leases
        try:
            stalled = adopted_within(cluster, second.pid)
        finally:
            os.kill(second.pid, signal.SIGCONT)
        print(f"a stalled scheduler's shards adopted in {stalled:.1f} s")
        assert stalled <= ADOPT_S  # its TTL ran out: nothing proves it gone
        wait_for(lambda: "scheduler leases lost" in second.log.read_text(errors="replace"),
                 20, "the stalled scheduler to find its leases taken")
        assert second.alive()
        assert [run.wait(timeout=120) for run in runs] == [expected()] * (N // 2)
        wait_for(lambda: set(holders(cluster)) == {cluster.scheduler.pid, second.pid}, 30,
                 "the stalled scheduler to serve again with its part")
        after = client.submit(fair.many_naps, n=NAPS, ms=0).wait(timeout=60)
        assert after == expected()
    finally:
        second.kill()
