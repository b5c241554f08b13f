"""A scheduler SIGKILLed in the middle of a dynamic's fan-out grafted in slices: its successor
rebuilds the execution from the newest snapshot of its engine and the events after it
(scheduler/snapshots.py), inserting only the slices they reach and then those holding nodes
sent and not yet reported (which keep their tokens), and takes the sub-graph's recorded
validation on trust. A snapshot that was tampered with is not used: every event is replayed.
Either way no node is lost or run twice, and the outputs are those of an in-process run."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from conftest import _wait_for as _wait
from workflows import adoption

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


SNAPSHOT_EVENTS = 1_000
REBUILT = re.compile(r"rebuilt from its snapshot after event (\d+): (\d+) events replayed")


def _run_and_kill(make_cluster, tmp_path: Path, n: int, tamper: bool,
                  backend: str = "sqlite"):
    """`marked_fan_wf(n)` on a cluster taking a snapshot every `SNAPSHOT_EVENTS` events, its
    scheduler SIGKILLed past half the nodes and started again (after the newest snapshot's
    store object was overwritten, with `tamper`); the cluster, the execution, its outputs
    checked against an in-process run, and the runs each node made."""
    local = tmp_path / "local"
    local.mkdir()
    expected = adoption.marked_fan_wf(n=n, folder=str(local))  # in-process
    assert expected == [x + 1 for x in range(n)]
    cluster = make_cluster(backend, env={"GRAFT_SNAPSHOT_EVENTS": str(SNAPSHOT_EVENTS)})
    folder = tmp_path / "ran"
    folder.mkdir()
    execution = cluster.client().submit(adoption.marked_fan_wf, n=n, folder=str(folder))

    def ran() -> list[int]:
        return [int(line) for f in folder.glob("*.txt")
                for line in f.read_text().splitlines() if line.strip()]

    def snapshot() -> tuple[str | None, int | None]:
        return cluster.query("SELECT snapshot_key, snapshot_seq FROM graft_executions "
                             "WHERE id = :e", e=execution.id)[0]

    _wait(lambda: len(ran()) >= n // 2 and (snapshot()[1] or 0) >= n // 2 - SNAPSHOT_EVENTS,
          300, "half of the nodes to run (past the first slice) and a snapshot")
    cluster.kill_scheduler()
    key, seq = snapshot()
    store = Path(cluster.store_url)
    # Each snapshot replaced the one before it: the newest alone is kept.
    assert sorted(p.name for p in (store / "snapshots").iterdir()) == [key.split("/")[1]]
    if tamper:
        data = (store / key).read_bytes()
        (store / key).write_bytes(data[:-64] + bytes(64))
    time.sleep(1.0)  # nodes in flight end and report meanwhile
    cluster.start_scheduler()
    assert execution.wait(timeout=400) == expected
    return cluster, execution, seq, ran()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_scheduler_killed_mid_fan_out_is_replaced_with_no_node_lost_or_run_twice(
        make_cluster, tmp_path: Path, backend: str):
    n = 5_000  # three slices of 2,000 (scheduler/executions.py GRAFT_SLICE)
    cluster, execution, seq, ran = _run_and_kill(make_cluster, tmp_path, n, tamper=False,
                                                 backend=backend)
    # Rebuilt from the newest snapshot, replaying only the events after it.
    (rebuilt,) = REBUILT.findall(cluster.scheduler_log())
    assert int(rebuilt[0]) == seq >= n // 2 - SNAPSHOT_EVENTS
    assert int(rebuilt[1]) < SNAPSHOT_EVENTS + 500

    counts: dict[int, int] = {}
    for x in ran:
        counts[x] = counts.get(x, 0) + 1
    assert sorted(counts) == list(range(n))
    twice = sorted(x for x, c in counts.items() if c > 1)
    assert not twice, f"nodes run more than once: {twice[:20]}"
    events = cluster.query("SELECT node_id, outcome, body FROM graft_events "
                           "WHERE execution_id = :e ORDER BY seq", e=execution.id)
    assert len(events) == n + 1  # the dynamic's and each child's, once
    assert len({node for node, _, _ in events}) == n + 1
    (subgraph,) = [json.loads(body) for _, outcome, body in events if outcome == "subgraph"]
    assert subgraph["valid"] is True


def test_a_tampered_snapshot_is_not_used_and_every_event_is_replayed(make_cluster,
                                                                      tmp_path: Path):
    n = 2_400
    cluster, _, _, ran = _run_and_kill(make_cluster, tmp_path, n, tamper=True)
    log = cluster.scheduler_log()
    assert "its snapshot snapshots/" in log and "cannot be used (StoreIntegrityError" in log
    assert not REBUILT.findall(log)
    assert sorted(set(ran)) == list(range(n))
