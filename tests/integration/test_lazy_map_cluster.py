"""A map on a real cluster creates its items as their turn comes: the scheduler holds a window
of them, not the map (its `graft_scheduler_nodes_held` gauge), its outputs are those of an
in-process run, a scheduler SIGKILLed mid-map is restarted with no item lost or run twice, a
cancel stops creating items and `graft status` lists those never created, and
min_success_ratio counts them as still able to succeed."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import _wait_for as _wait
from servers import free_port
from workflows import lazy_maps

from sdk import ExecutionFailed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


class HeldGauge:
    """Scrapes the scheduler's `graft_scheduler_nodes_held` every 0.1 s while in use: the
    most it saw."""

    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.most = -1
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> int | None:
        try:
            text = urllib.request.urlopen(self.url, timeout=5).read().decode()
        except OSError:
            return None  # the scheduler restarting
        for line in text.splitlines():
            if line.startswith("graft_scheduler_nodes_held "):
                return int(float(line.split()[1]))
        raise AssertionError("the scheduler has no graft_scheduler_nodes_held gauge")

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            held = self.read()
            if held is not None:
                self.most = max(self.most, held)
                self.samples += 1

    def __enter__(self) -> HeldGauge:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def metered(make_cluster):
    """A cluster whose scheduler serves its metrics: (cluster, metrics port)."""
    port = free_port()
    return make_cluster(env={"GRAFT_METRICS_PORT": str(port)}), port


def test_a_20000_item_map_holds_a_window_of_items_and_matches_in_process(metered):
    cluster, port = metered
    xs = list(range(20_000))
    expected = lazy_maps.windowed_map(xs=xs)  # in-process
    assert expected == [x + 1 for x in xs]
    with HeldGauge(port) as gauge:
        execution = cluster.client().submit(lazy_maps.windowed_map, xs=xs)
        assert execution.wait(timeout=500) == expected
    # The map's concurrency is 50: the map, 50 items and those ended but not yet dropped
    # (main held all 20,000 items from the moment the map expanded).
    assert gauge.samples > 10
    assert 0 <= gauge.most <= 200, gauge.most
    rows = cluster.query("SELECT count(*), min(attempt), max(attempt) FROM graft_nodes "
                         "WHERE execution_id = :e AND parent IS NOT NULL", e=execution.id)
    assert rows == [(20_000, 1, 1)]


def test_a_scheduler_killed_mid_map_is_restarted_with_no_item_lost_or_run_twice(
        make_cluster, tmp_path: Path):
    cluster = make_cluster()
    folder = tmp_path / "ran"
    folder.mkdir()
    n = 3_000
    client = cluster.client()
    execution = client.submit(lazy_maps.marked_map, xs=list(range(n)), folder=str(folder))

    def ran() -> list[int]:
        return [int(line) for f in folder.glob("*.txt")
                for line in f.read_text().splitlines() if line.strip()]

    _wait(lambda: len(ran()) >= n // 3, 240, "a third of the items to run")
    cluster.kill_scheduler()
    time.sleep(1.0)  # items in flight end and report meanwhile
    cluster.start_scheduler()
    assert execution.wait(timeout=400) == [x + 1 for x in range(n)]
    counts: dict[int, int] = {}
    for x in ran():
        counts[x] = counts.get(x, 0) + 1
    assert sorted(counts) == list(range(n))
    twice = sorted(x for x, c in counts.items() if c > 1)
    assert not twice, f"items run more than once: {twice[:20]}"
    events = cluster.query("SELECT node_id, count(*) FROM graft_events WHERE execution_id = :e "
                           "GROUP BY node_id", e=execution.id)
    assert len(events) == n + 1 and all(count == 1 for _, count in events)


def test_a_cancelled_map_creates_no_more_items_and_status_lists_those_never_started(
        cluster):
    client = cluster.client()
    n = 2_000
    execution = client.submit(lazy_maps.slow_map, xs=list(range(n)))
    _wait(lambda: (execution.info().get("done") or 0) >= 20, 120, "some items to end")
    execution.cancel("enough")
    _wait(lambda: execution.status() == "ABORTED", 60, "the execution to be aborted")
    time.sleep(1.0)
    created = cluster.query("SELECT count(*) FROM graft_nodes WHERE execution_id = :e "
                            "AND parent IS NOT NULL", e=execution.id)[0][0]
    assert 20 <= created < 200  # 4 at a time: nowhere near the 2,000
    [(error,)] = cluster.query("SELECT error FROM graft_nodes WHERE execution_id = :e "
                               "AND parent IS NULL", e=execution.id)
    never = (json.loads(error) if isinstance(error, str) else error)["never_started"]
    assert never == {"first": created, "count": n - created, "items": n,
                     "reason": "the execution was cancelled"}

    shown = cluster.run_cli("status", execution.id)
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if "never started" in line
               and "CANCELLED" in line)
    assert row.startswith(f"map_slow_inc/{created}..{n - 1} ")
    assert (f"never started: {n - created:,} of the {n:,} items of map map_slow_inc "
            f"(map_slow_inc/{created}..{n - 1}): the execution was cancelled") in shown.stdout
    as_json = json.loads(cluster.run_cli("status", execution.id, "--json").stdout)
    assert [(r["first"], r["count"]) for r in as_json["never_started"]] == [(created,
                                                                            n - created)]


def test_min_success_ratio_on_a_cluster_and_in_process(cluster):
    client = cluster.client()
    xs = list(range(200))
    tolerant = client.submit(lazy_maps.tolerant_enough, xs=xs)
    strict = client.submit(lazy_maps.strict_enough, xs=xs)
    expected = [None if x % 5 == 0 else x for x in xs]
    assert tolerant.wait(timeout=240) == lazy_maps.tolerant_enough(xs=xs) == expected
    with pytest.raises(ValueError, match="is a multiple of 5"):
        lazy_maps.strict_enough(xs=xs)
    with pytest.raises(ExecutionFailed) as failed:
        strict.wait(timeout=240)
    [f] = failed.value.failures
    assert (f.node_id, f.error_type) == ("map_fifth_fails", "MapFailed")
    # 21 of the 40 failing items fail it (20 may): the items after never start.
    assert f.message.startswith("map 'map_fifth_fails': 21 of 200 items failed, at most 20 "
                                "may: ")
    assert "never started: the map failed first)" in f.message
    created = cluster.query("SELECT count(*) FROM graft_nodes WHERE execution_id = :e "
                            "AND parent IS NOT NULL", e=strict.id)[0][0]
    assert 101 <= created < 200
