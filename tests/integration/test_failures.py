"""Failures on the cluster: what ExecutionFailed and `graft status` say, and retries."""

import json
import re
from pathlib import Path

import pytest
from local_failures import local_failure
from workflows import failing

from sdk.model.errors import ExecutionFailed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

FAILING_PY = Path(failing.__file__)
RAISE_LINE = 'raise ValueError(f"cannot handle x={x}")'


def test_failing_task_reports_node_task_and_user_traceback(cluster):
    execution = cluster.client().submit(failing.failing_wf, x=1)
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=60)
    err = info.value
    assert err.execution_id == execution.id
    (failure,) = err.failures
    assert (failure.node_id, failure.task, failure.error_type) == ("explode", "explode",
                                                                   "ValueError")
    assert failure.message == "cannot handle x=2"
    assert RAISE_LINE in failure.traceback
    assert "in explode" in failure.traceback and FAILING_PY.name in failure.traceback
    assert failure.traceback.rstrip().endswith("ValueError: cannot handle x=2")
    # graft's own frames (worker, executor) are not shown as the user's error.
    assert "worker/tasks.py" not in failure.traceback
    # The failure the in-process call raises (the ValueError itself there, as in flytekit).
    assert local_failure(lambda: failing.failing_wf(x=1)) == (
        failure.node_id, failure.error_type, failure.message)
    assert str(err).splitlines()[0] == f"execution {execution.id} failed"
    assert RAISE_LINE in str(err)

    assert execution.status() == "FAILED"
    states = {n.id: (n.state, n.attempts) for n in execution.nodes()}
    assert states["add"] == ("SUCCEEDED", 1)
    assert states["explode"] == ("FAILED", 1)  # no retries configured: one attempt
    # The last node never ran.
    assert states.get("add-1", ("SKIPPED", 1))[0] in ("SKIPPED", "PENDING")


def test_failing_node_inside_a_dynamic(cluster):
    execution = cluster.client().submit(failing.failing_dynamic_wf, xs=[0, 0, 3])
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=60)
    (failure,) = info.value.failures
    local = local_failure(lambda: failing.failing_dynamic_wf(xs=[0, 0, 3]))
    assert failure.node_id == local[0] == "explode_some/explode-2"
    assert failure.task == "explode" and failure.message == "cannot handle x=3"
    assert RAISE_LINE in failure.traceback


def test_failing_dynamic_body(cluster):
    from workflows.failing import broken_body

    execution = cluster.client().submit(broken_body, n=5)
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=60)
    (failure,) = info.value.failures
    assert failure.task == "broken_body" and failure.error_type == "KeyError"
    assert 'raise KeyError(f"no entry for {n}")' in failure.traceback


def test_retry_succeeds_on_second_attempt(cluster, tmp_path):
    counters = tmp_path / "counters"
    execution = cluster.client().submit(failing.flaky_wf, counter_dir=str(counters),
                                        fail_times=1)
    assert execution.wait(timeout=60) == 2  # the second call succeeded and returned 2
    assert failing.count(str(counters), "flaky") == 2
    nodes = {n.id: n for n in execution.nodes()}
    assert (nodes["flaky"].state, nodes["flaky"].attempts) == ("SUCCEEDED", 2)
    assert nodes["add"].attempts == 1


def test_retries_exhausted(cluster, tmp_path):
    counters = tmp_path / "counters"
    execution = cluster.client().submit(failing.flaky_wf, counter_dir=str(counters),
                                        fail_times=5)
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=60)
    (failure,) = info.value.failures
    assert failure.node_id == "flaky" and failure.message == "flaky failure 3"
    assert failing.count(str(counters), "flaky") == 3  # retries=2: three attempts, no more
    nodes = {n.id: n for n in execution.nodes()}
    assert (nodes["flaky"].state, nodes["flaky"].attempts) == ("FAILED", 3)


def test_status_json_of_failed_execution(cluster):
    execution = cluster.client().submit(failing.failing_wf, x=1)
    with pytest.raises(ExecutionFailed):
        execution.wait(timeout=60)
    proc = cluster.run_cli("status", execution.id, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["id"] == execution.id
    assert data["status"] == "FAILED"
    assert data["workflow"] == "failing_wf"
    (failure,) = data["failures"]
    assert failure["node_id"] == "explode" and failure["task"] == "explode"
    assert failure["error_type"] == "ValueError"
    assert RAISE_LINE in failure["traceback"]
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["explode"]["state"] == "FAILED" and nodes["add"]["state"] == "SUCCEEDED"
    assert nodes["explode"]["queue"] == "mem-256Mi"

    text = cluster.run_cli("status", execution.id)
    assert text.returncode == 0, text.stderr
    assert re.search(rf"^{execution.id}\s+failing_wf\s+FAILED", text.stdout, re.M)
    assert "node explode (explode): ValueError: cannot handle x=2" in text.stdout
    assert RAISE_LINE in text.stdout


def test_status_of_unknown_execution(cluster):
    proc = cluster.run_cli("status", "no-such-execution")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "no-such-execution" in lines[0]


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_a_task_that_sigkills_itself_is_reported_killed_not_out_of_memory(cluster, tmp_path):
    """Neither graft's memory watch nor the kernel's OOM killer killed it: its failure names
    the signal (a SYSTEM failure, so it runs again), not OutOfMemory. The 8 MiB it wrote in
    its runner's working folder are gone with the folder by the time it is reported."""
    marks = tmp_path / "marks"
    execution = cluster.client().submit(failing.killed_once_wf, marks=str(marks), mib=8)
    assert execution.wait(timeout=60) == 2
    runner, folder = marks.read_text().splitlines()[0].split(" ", 1)
    assert Path(folder).name.startswith(f"graft-node-{runner}-")
    assert not Path(folder).exists()
    assert not list(Path(folder).parent.glob(f"graft-node-{runner}-*"))
    [node] = execution.nodes()
    assert (node.state, node.attempts) == ("SUCCEEDED", 2)
    killed = node.history[0]
    assert (killed["kind"], killed["type"]) == ("SYSTEM", "WorkerLost"), killed
    assert "Killed by SIGKILL; not by graft's memory watch" in killed["message"]
