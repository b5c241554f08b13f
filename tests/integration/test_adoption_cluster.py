"""A scheduler SIGKILLed in the middle of a dynamic's fan-out grafted in slices: its successor
rebuilds the execution from the events, inserting only the slices they reach and then those
holding nodes sent and not yet reported (which keep their tokens), and takes the sub-graph's
recorded validation on trust. No node is lost or run twice, and the outputs are those of an
in-process run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import _wait_for as _wait
from workflows import adoption

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def test_a_scheduler_killed_mid_fan_out_is_replaced_with_no_node_lost_or_run_twice(
        make_cluster, tmp_path: Path):
    n = 5_000  # three slices of 2,000 (scheduler/executions.py GRAFT_SLICE)
    local = tmp_path / "local"
    local.mkdir()
    expected = adoption.marked_fan_wf(n=n, folder=str(local))  # in-process
    assert expected == [x + 1 for x in range(n)]
    cluster = make_cluster()
    folder = tmp_path / "ran"
    folder.mkdir()
    execution = cluster.client().submit(adoption.marked_fan_wf, n=n, folder=str(folder))

    def ran() -> list[int]:
        return [int(line) for f in folder.glob("*.txt")
                for line in f.read_text().splitlines() if line.strip()]

    _wait(lambda: len(ran()) >= 2_500, 300, "half of the nodes to run (past the first slice)")
    cluster.kill_scheduler()
    time.sleep(1.0)  # nodes in flight end and report meanwhile
    cluster.start_scheduler()
    assert execution.wait(timeout=400) == expected

    counts: dict[int, int] = {}
    for x in ran():
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
