"""The cluster's cache on real workers: a second execution runs no cached task again (in
dynamics and map items too), an entry whose store objects are gone is a miss, `graft cache`
lists and clears entries, HashMethod keys, and serialized runs run once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import BACKENDS
from conftest import _wait_for as wait
from workflows import cached
from workflows.failing import count

from sdk.runtime.cache import cluster_index
from sdk.values.store import open_store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

COUNTED = ("slow_square", "cached_fan", "cached_total", "cached_cube", "uncached_sum")


def counts(counter_dir: Path) -> dict[str, int]:
    return {name: count(str(counter_dir), name) for name in COUNTED}


def test_a_second_execution_runs_no_cached_task_again(cluster, tmp_path):
    local_dir, remote_dir = tmp_path / "local", tmp_path / "remote"
    expected = cached.cached_all(n=4, xs=[1, 2, 3], counter_dir=str(local_dir))
    first = cluster.client().submit(cached.cached_all, n=4, xs=[1, 2, 3],
                                    counter_dir=str(remote_dir))
    assert first.wait(timeout=120) == expected == (14, 36, 16)
    once = {"slow_square": 5, "cached_fan": 1, "cached_total": 1, "cached_cube": 3,
            "uncached_sum": 1}
    assert counts(remote_dir) == counts(local_dir) == once
    assert not any(n.cached for n in first.nodes())

    second = cluster.client().submit(cached.cached_all, n=4, xs=[1, 2, 3],
                                     counter_dir=str(remote_dir))  # another client
    assert second.wait(timeout=120) == expected
    assert counts(remote_dir) == {**once, "uncached_sum": 2}  # only the uncached task ran
    nodes = {n.id: n for n in second.nodes()}
    hits = sorted(nid for nid, n in nodes.items() if n.cached)
    assert hits == ["cached_fan", "cached_total", "map_cached_cube/0", "map_cached_cube/1",
                    "map_cached_cube/2", "slow_square"]
    assert not nodes["uncached_sum"].cached
    assert not any(nid.startswith("cached_fan/") for nid in nodes)  # the body did not run

    third = cluster.client().submit(cached.cached_all, n=5, xs=[1, 2, 3, 4],
                                    counter_dir=str(remote_dir))  # other inputs: some misses
    assert third.wait(timeout=120) == cached.cached_all(n=5, xs=[1, 2, 3, 4],
                                                        counter_dir=str(local_dir))
    # the new fan's body ran; of its squares only x=4 is new (x=4 at version 2.0 is not
    # the same entry); one new cube; a new total; x=5 at version 2.0
    assert counts(remote_dir) == {"slow_square": 7, "cached_fan": 2, "cached_total": 2,
                                  "cached_cube": 4, "uncached_sum": 3}


def test_an_entry_whose_store_objects_are_gone_is_a_miss(cluster, tmp_path):
    client = cluster.client()
    runs = []
    for _ in range(2):  # one after the other: the second hits
        runs.append(client.submit(cached.stored_range_wf, n=1000, counter_dir=str(tmp_path)))
        assert runs[-1].wait(timeout=60) == 499500
    assert count(str(tmp_path), "cached_range") == 1
    store = open_store(cluster.store_url)
    [entry] = [e for e in cluster_index(store, None).entries()
               if e.task == "cached_range" and e.execution in {r.id for r in runs}]
    store.delete(entry.outputs["o0"]["val"]["u"])  # the stored list the entry points at
    execution = client.submit(cached.stored_range_wf, n=1000, counter_dir=str(tmp_path))
    assert execution.wait(timeout=60) == 499500
    assert count(str(tmp_path), "cached_range") == 2
    assert not {n.id: n for n in execution.nodes()}["cached_range"].cached


def test_graft_cache_ls_and_clear(cluster, tmp_path):
    counter_dir = tmp_path / "counter"
    client = cluster.client()
    client.submit(cached.cached_all, n=2, xs=[7], counter_dir=str(counter_dir)).wait(timeout=120)
    listed = cluster.run_cli("cache", "ls", "--task", "cached_cube")
    assert listed.returncode == 0, listed.stderr
    assert "cached_cube" in listed.stdout and "1.0" in listed.stdout
    refused = cluster.run_cli("cache", "clear", "--task", "cached_cube")  # no terminal to ask
    assert refused.returncode == 2 and "add --yes to confirm" in refused.stderr
    assert "cached_cube" in cluster.run_cli("cache", "ls", "--task", "cached_cube").stdout
    cleared = cluster.run_cli("cache", "clear", "--task", "cached_cube", "--yes")
    assert cleared.returncode == 0, cleared.stderr
    assert "deleted" in cleared.stdout and "cached_cube" in cleared.stdout
    assert "no cache entries of task 'cached_cube'" in \
        cluster.run_cli("cache", "ls", "--task", "cached_cube").stdout
    before = counts(counter_dir)
    client.submit(cached.cached_all, n=2, xs=[7], counter_dir=str(counter_dir)).wait(timeout=120)
    after = counts(counter_dir)
    assert after["cached_cube"] == before["cached_cube"] + 1  # cleared: ran again
    assert after["cached_fan"] == before["cached_fan"]  # still cached


def test_a_hash_method_is_the_values_cache_identity(cluster, tmp_path):
    local_dir, remote_dir = tmp_path / "local", tmp_path / "remote"
    client = cluster.client()
    for seed in (1, 2):  # two frames of different content and as many rows
        local = cached.hashed_wf(seed=seed, counter_dir=str(local_dir))
        assert client.submit(cached.hashed_wf, seed=seed,
                             counter_dir=str(remote_dir)).wait(timeout=60) == local == 3
    for counter_dir in (local_dir, remote_dir):
        assert count(str(counter_dir), "make_frame") == 2
        assert count(str(counter_dir), "frame_rows") == 1  # keyed by "rows=3", not content


def _serialized_pair(cluster, tmp_path: Path, seconds: float):
    counter_dir, pid_dir = tmp_path / "counter", tmp_path / "pids"
    pid_dir.mkdir()
    client = cluster.client()
    inputs = {"x": 7, "counter_dir": str(counter_dir), "seconds": seconds,
              "pid_dir": str(pid_dir)}
    return counter_dir, pid_dir, [client.submit(cached.serialized_wf, **inputs)
                                  for _ in range(2)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_identical_serialized_runs_execute_once(make_cluster, tmp_path, backend):
    cluster = make_cluster(backend)
    counter_dir, _, executions = _serialized_pair(cluster, tmp_path, seconds=3.0)
    assert [e.wait(timeout=60) for e in executions] == [49, 49]
    assert count(str(counter_dir), "serialized_square") == 1
    assert sorted(n.cached for e in executions for n in e.nodes()) == [False, True]


def test_a_waiter_takes_over_when_the_serialized_run_dies(make_cluster, tmp_path):
    cluster = make_cluster()
    counter_dir, pid_dir, executions = _serialized_pair(cluster, tmp_path, seconds=4.0)
    first = wait(lambda: sorted(pid_dir.iterdir()), 30, "the first run to start")[0]
    time.sleep(0.5)  # the other execution's attempt is waiting on the lock by now
    os.kill(int(first.read_text()), signal.SIGKILL)
    killed_at = time.monotonic()
    assert [e.wait(timeout=60) for e in executions] == [49, 49]
    # the lock lapsed (10 s), then exactly one more run; the other execution took its result
    assert count(str(counter_dir), "serialized_square") == 2
    assert time.monotonic() - killed_at < 30
