"""Memory tiers: each node goes to the queue of the smallest tier that fits it, and runs there.

The standard test cluster serves mem-256Mi and mem-1Gi. Tasks return `<value>@<worker name>`,
and graft names a worker `mem-<tier>-<pid>@<host>`, so a result proves where the node ran, not
only where the scheduler says it sent it.
"""

import time

import pytest
from workflows import cluster_wf

from sdk.model.errors import TierError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def split(result: str) -> tuple[str, str]:
    value, _, worker = result.partition("@")
    return value, worker


def board_keys(cluster) -> set[bytes]:
    return set(cluster.redis().scan_iter(f"{cluster.key_prefix}:ex:*"))


def test_limits_requests_and_defaults_route_to_their_tier(cluster):
    execution = cluster.client().submit(cluster_wf.tiers_wf, x=1)
    by_limit, by_request, by_default = execution.wait(timeout=60)
    assert split(by_limit)[0] == "2" and split(by_limit)[1].startswith("mem-1Gi-")
    assert split(by_request)[0] == "3" and split(by_request)[1].startswith("mem-1Gi-")
    assert split(by_default)[0] == "5" and split(by_default)[1].startswith("mem-256Mi-")
    nodes = {n.id: n for n in execution.nodes()}
    assert {nid: (n.queue, n.state) for nid, n in nodes.items()} == {
        "limit_600mi": ("mem-1Gi", "SUCCEEDED"),
        "request_300mi": ("mem-1Gi", "SUCCEEDED"),
        "no_resources": ("mem-256Mi", "SUCCEEDED"),
    }


def test_node_waits_for_its_tier_then_runs_there(cluster, wait_for):
    client = cluster.client()
    big = client.submit(cluster_wf.big_wf, x=4)
    mixed = client.submit(cluster_wf.mixed_big_wf, x=5)
    # Nothing serves mem-4Gi: the nodes are queued, and stay so.
    wait_for(lambda: {n.id: n.state for n in big.nodes()} == {"limit_3gi": "QUEUED"}, 20,
             "the 3Gi node to be queued")
    time.sleep(3)
    assert big.status() == "RUNNING"
    shown = cluster.run_cli("status", big.id)  # says what it waits for, and how to get it
    assert ("waiting: 1 node(s) wait in tier 4Gi (queue mem-4Gi), which no worker serves: "
            "start one with `graft worker --tier 4Gi`") in shown.stdout, shown.stdout
    assert "no scheduler" not in shown.stdout
    assert [(n.id, n.state, n.queue) for n in big.nodes()] == [
        ("limit_3gi", "QUEUED", "mem-4Gi")]
    # ... while the small node of the other execution did run.
    wait_for(lambda: any(n.id == "no_resources" and n.state == "SUCCEEDED"
                         for n in mixed.nodes()), 30, "the 256Mi node to finish")
    assert mixed.status() == "RUNNING"
    assert {n.id: n.queue for n in mixed.nodes()} == {
        "request_100mi_limit_2gi": "mem-4Gi", "no_resources": "mem-256Mi"}

    worker = cluster.start_worker("4Gi", 1)
    try:
        value, where = split(big.wait(timeout=60))
        assert value == "40" and where.startswith("mem-4Gi-")
        (v1, w1), (v2, w2) = (split(r) for r in mixed.wait(timeout=60))
        assert (v1, v2) == ("8", "9")
        assert w1.startswith("mem-4Gi-") and w2.startswith("mem-256Mi-")
        assert [(n.id, n.state, n.queue) for n in big.nodes()] == [
            ("limit_3gi", "SUCCEEDED", "mem-4Gi")]
    finally:
        worker.stop()
        cluster.workers.remove(worker)


def test_node_above_largest_tier_is_refused_at_submit(cluster):
    before = board_keys(cluster)
    with pytest.raises(TierError) as info:
        cluster.client().submit(cluster_wf.huge_wf, x=1)
    message = str(info.value)
    assert "20Gi" in message and "limit_20gi" in message
    assert "256Mi, 1Gi, 4Gi, 16Gi" in message
    assert board_keys(cluster) == before  # nothing was submitted


def test_node_above_largest_tier_in_a_dynamic_fails_the_execution(cluster):
    from sdk.model.errors import ExecutionFailed

    execution = cluster.client().submit(cluster_wf.huge_dynamic_wf, x=1)
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=60)
    (failure,) = info.value.failures
    assert failure.node_id == "huge_inside"
    assert failure.error_type == "TierError"
    assert "20Gi" in failure.message and "256Mi, 1Gi, 4Gi, 16Gi" in failure.message


def test_cli_refuses_node_above_largest_tier(cluster, tmp_path):
    from pathlib import Path

    wf_file = Path(cluster_wf.__file__)
    proc = cluster.run_cli("run", "--remote", str(wf_file), "huge_wf", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "20Gi" in lines[0] and "256Mi, 1Gi, 4Gi, 16Gi" in lines[0]
    assert proc.stdout == ""
