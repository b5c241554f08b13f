"""Fair dispatch on a real cluster: while a large execution's backlog runs, a one-node
execution submitted by another client completes within 5 s, the tier queue in Redis stays
short, and an execution of higher priority overtakes one submitted before it."""

from __future__ import annotations

import threading
import time

import pytest
from workflows import fair

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

BIG = 3000  # naps of 20 ms on two slots: a backlog of about 30 s of work
NAP_MS = 20


def _watch_queue(cluster, stop: threading.Event, seen: list[int]) -> None:
    client = cluster.redis()
    while not stop.wait(0.05):
        seen.append(client.llen("mem-256Mi"))


def test_a_small_execution_is_not_stuck_behind_a_large_backlog(cluster):
    client = cluster.client()
    big = client.submit(fair.many_naps, n=BIG, ms=NAP_MS)
    depths: list[int] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_queue, args=(cluster, stop, depths), daemon=True)
    watcher.start()
    try:
        deadline = time.monotonic() + 60
        while big.info()["done"] < 50:  # the fan-out was grafted and runs
            assert time.monotonic() < deadline, cluster.logs_tail()
            time.sleep(0.1)
        latencies = []
        other = cluster.client()  # another client
        for x in range(4):
            started = time.monotonic()
            small = other.submit(fair.one_node, x=x)
            assert small.wait(timeout=30) == fair.one_node(x=x)
            latencies.append(time.monotonic() - started)
            time.sleep(0.5)
        still_running = big.status() == "RUNNING"
        assert big.wait(timeout=120) == fair.many_naps(n=BIG, ms=0)
    finally:
        stop.set()
        watcher.join()
    assert still_running, f"the large execution ended before the small ones were measured " \
                          f"(they took {latencies} s)"
    assert max(latencies) < 5.0, latencies
    # Redis held a bounded part of the backlog, never the backlog itself.
    assert max(depths) < BIG / 4, max(depths)


def test_a_higher_priority_execution_overtakes_an_earlier_one(cluster):
    client = cluster.client()
    low = client.submit(fair.many_naps, n=300, ms=NAP_MS, priority=-1)
    deadline = time.monotonic() + 60
    while low.info()["done"] < 20:
        assert time.monotonic() < deadline, cluster.logs_tail()
        time.sleep(0.1)
    high = client.submit(fair.many_naps, n=100, ms=NAP_MS, priority=10)
    assert high.wait(timeout=60) == list(range(100))
    assert low.status() == "RUNNING", "the earlier, lower execution finished first"
    assert low.wait(timeout=120) == list(range(300))
    assert high.info()["priority"] == 10 and low.info()["priority"] == -1
