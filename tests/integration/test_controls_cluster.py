"""Execution controls on real worker processes: each attempt runs in a process of its own,
held to its timeout and memory limit; executions can be cancelled; an operator's terminate
fails the node clearly. In-process counterparts where they apply."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import _wait_for as wait
from workflows import faults

from sdk import ExecutionAborted, ExecutionFailed, TaskTimeout

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _failure(execution, timeout: float = 60):
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=timeout)
    [failure] = info.value.failures
    return failure


def test_a_hanging_task_is_stopped_at_its_timeout_and_its_slot_freed(make_cluster, tmp_path):
    cluster = make_cluster()
    cluster.start_worker("256Mi", concurrency=1)
    for w in cluster.workers[:2]:  # only the one-slot worker serves 256Mi from here on
        if "256Mi" in w.name:
            w.stop()
            cluster.workers.remove(w)
    marks = tmp_path / "marks"
    client = cluster.client()
    started = time.monotonic()
    hanging = client.submit(faults.hanging, path=str(marks))
    failure = _failure(hanging)
    stopped_after = time.monotonic() - started
    assert failure.error_type == "TaskTimeout" and "timeout of 2 s" in failure.message
    assert stopped_after < 2 + 5 + 3  # timeout, the 5 s bound, and dispatch
    assert client.submit(faults.quick_wf, x=1).wait(timeout=10) == 2  # the slot is free


def test_a_timeout_holds_in_process(tmp_path):
    with pytest.raises(TaskTimeout):  # the node's own error, in-process
        faults.hanging(path=str(tmp_path / "marks"))


def test_four_times_the_memory_limit_fails_out_of_memory_and_the_worker_serves_on(cluster):
    client = cluster.client()
    fine = client.submit(faults.allocating, mib=40)
    assert fine.wait(timeout=60) == 40
    [node] = fine.nodes()
    assert 40 * 2**20 < node.history[-1]["peak_memory_bytes"] < 200 * 2**20
    hog = client.submit(faults.allocating, mib=800)
    failure = _failure(hog)
    assert failure.error_type == "OutOfMemory"
    assert "over its memory limit of 200 MiB (tier 256Mi)" in failure.message
    assert client.submit(faults.quick_wf, x=5).wait(timeout=30) == 6
    assert all(w.alive() for w in cluster.workers)


def test_a_task_may_start_processes_of_its_own(cluster):
    local = faults.parallel(n=5)
    assert cluster.client().submit(faults.parallel, n=5).wait(timeout=60) == local == \
        [5, 4, 3, 2, 1]


def test_cancel_stops_running_nodes_and_starts_nothing_new(cluster, tmp_path):
    marks = tmp_path / "marks"
    client = cluster.client()
    execution = client.submit(faults.cancellable, path=str(marks), seconds=12.0)
    wait(lambda: {"start first", "start item-0"} <= set(_lines(marks)), 60,
         "the first node and the first map item to start (they take both slots)")
    cancelled_at = time.monotonic()
    assert execution.cancel("test") is True
    with pytest.raises(ExecutionAborted):
        execution.wait(timeout=10)
    assert execution.status() == "ABORTED"
    time.sleep(12)  # past the moment the running nodes would have ended
    lines = _lines(marks)
    assert not [line for line in lines if line.startswith("end")], lines
    assert not {"start item-1", "start item-2", "start child"} & set(lines), lines
    nodes = {n.id: n for n in execution.nodes()}
    states = {nid: n.state for nid, n in nodes.items()}
    assert states["map_slow_mark"] == "ABORTED" and states["map_slow_mark/0"] == "CANCELLED"
    # The items whose turn had not come were never created: the map's error names them.
    assert "map_slow_mark/1" not in states and "map_slow_mark/2" not in states
    assert nodes["map_slow_mark"].error["never_started"] == {
        "first": 1, "count": 2, "items": 3, "reason": "the execution was cancelled"}
    assert states["slow_mark"] == "CANCELLED"
    assert states["fan_marks"] in ("CANCELLED", "ABORTED")  # queued, or its body had run
    assert time.monotonic() - cancelled_at < 30
    assert execution.cancel() is False  # ended: nothing changes
    done = cluster.run_cli("cancel", execution.id)
    assert done.returncode == 0 and "is ABORTED already; nothing to cancel" in done.stdout


def test_cancel_of_an_unknown_execution_is_one_line(cluster):
    done = cluster.run_cli("cancel", "0123456789abcdef0123", timeout=60)
    assert done.returncode != 0
    assert done.stderr.startswith("graft: no execution") and "Traceback" not in done.stderr


def test_an_operator_terminating_a_node_fails_it_clearly(make_cluster):
    from celery import Celery

    cluster = make_cluster(env={"GRAFT_REMOTE_CONTROL": "full"})
    client = cluster.client()
    execution = client.submit(faults.sleepy_wf, seconds=60.0)
    control = Celery(broker=cluster.broker_url).control

    def running() -> list[str]:
        active = control.inspect(timeout=1).active() or {}
        return [t["id"] for tasks in active.values() for t in tasks
                if "sleepy" in str(t.get("name", ""))]

    [task_id] = wait(running, 30, "the task to run")
    control.revoke(task_id, terminate=True, signal=signal.SIGTERM)
    failure = _failure(execution, timeout=30)
    assert failure.error_type == "Terminated"
    assert "terminated by an operator" in failure.message
    [node] = execution.nodes()
    assert node.state == "FAILED" and node.attempts == 1


def _timed_out(execution_or_call, timeout: float = 60):
    with pytest.raises(ExecutionFailed) as info:
        if callable(execution_or_call):
            execution_or_call()
        else:
            execution_or_call.wait(timeout=timeout)
    first = info.value.failures[0]
    assert (first.node_id, first.error_type) == ("", "WorkflowTimeout")
    return first


def test_a_workflow_timeout_ends_the_execution(cluster, tmp_path):
    local_marks, remote_marks = tmp_path / "local", tmp_path / "remote"
    started = time.monotonic()
    local = _timed_out(lambda: faults.bounded(path=str(local_marks), first=2.0, second=6.0))
    assert time.monotonic() - started < 3 + 1
    execution = cluster.client().submit(faults.bounded, path=str(remote_marks), first=2.0,
                                        second=6.0)
    started = time.monotonic()
    remote = _timed_out(execution)
    assert time.monotonic() - started < 3 + 5
    assert local.message == remote.message == "workflow 'bounded' ran past its timeout of 3 s"
    assert execution.status() == "FAILED"
    time.sleep(max(0.0, started + 2 + 6 + 1 - time.monotonic()))  # the second nap's end
    assert _lines(remote_marks) == _lines(local_marks) == ["end"]  # it was stopped
    states = sorted(n.state for n in execution.nodes())
    assert states == ["ABORTED", "SUCCEEDED"] or states == ["CANCELLED", "SUCCEEDED"]
    fits = cluster.client().submit(faults.bounded, path=str(tmp_path / "fits"), first=0.5,
                                   second=0.5)
    assert fits.wait(timeout=30) == 0.5


def test_a_timeout_given_at_submit_replaces_the_workflows(cluster, tmp_path):
    client = cluster.client()
    shorter = client.submit(faults.bounded, timeout=1, path=str(tmp_path / "a"), first=2.0,
                            second=0.1)
    assert "timeout of 1 s" in _timed_out(shorter).message
    longer = client.submit(faults.bounded, timeout=timedelta(seconds=60),
                           inputs={"path": str(tmp_path / "b"), "first": 2.0, "second": 2.0})
    assert longer.wait(timeout=90) == 2.0


def test_a_stop_signal_meant_for_another_attempt_is_ignored(cluster, tmp_path):
    """GIVE_UP names no attempt: a pool process that gets it for an attempt it ran before
    (its lease keeper's record was stale) checks with Redis and runs its own attempt on."""
    from worker.supervisor import GIVE_UP

    marks = tmp_path / "marks"
    execution = cluster.client().submit(faults.marked, path=str(marks), seconds=2.0)
    first = wait(lambda: _lines(marks), 30, "the node to start")[0]
    os.kill(int(first.split()[1]), GIVE_UP)  # its pool process
    assert execution.wait(timeout=30) == 1
    [node] = execution.nodes()
    assert node.attempts == 1 and node.state == "SUCCEEDED"


def test_processes_an_attempt_leaves_behind_are_ended(cluster):
    """A daemon a task starts and abandons (its parent shell exits) does not outlive the
    attempt: the runner adopts it, and a runner with children left is replaced."""
    orphan = cluster.client().submit(faults.orphan_wf).wait(timeout=60)

    def gone() -> bool:
        try:
            os.kill(orphan, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{orphan}/stat", "rb") as fh:  # a zombie is gone too
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"

    wait(gone, 10, f"process {orphan} to end")


def test_a_cancel_stops_the_running_process_within_a_second_or_two(cluster, tmp_path):
    """Workers learn of a cancel from the scheduler's message, not their next lease tick
    (every TTL / 3, 3.3 s here)."""
    marks = tmp_path / "marks"
    execution = cluster.client().submit(faults.marked, path=str(marks), seconds=30.0)
    runner = int(wait(lambda: _lines(marks), 30, "the node to start")[0].split()[0])
    cancelled_at = time.monotonic()
    assert execution.cancel("test")

    def gone() -> bool:
        try:
            os.kill(runner, 0)
        except ProcessLookupError:
            return True
        return False

    wait(gone, 10, f"runner {runner} to be stopped", interval_s=0.02)
    assert time.monotonic() - cancelled_at < 2.0


def _start_runner(tmp: Path):
    """A live runner of "another worker", this process its pool process: its process and
    the pipe end whose closing ends it."""
    import subprocess
    import sys

    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "worker.runner", str(req_r), str(rep_w)],
                            pass_fds=(req_r, rep_w), env={**os.environ, "TMPDIR": str(tmp)},
                            start_new_session=True, stdin=subprocess.DEVNULL)
    os.close(req_r)
    os.close(rep_w)
    os.close(rep_r)
    return proc, req_w


@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_a_worker_removes_the_folders_of_gone_runners_and_only_those(cluster, tmp_path):
    """At its start a worker removes the working folders runners killed outright left (a
    dead pid, or a live process that is no runner), not those of live runners, nor a folder
    whose lock is held (a runner in another pid namespace); at its stop, its own."""
    import fcntl
    import subprocess
    import sys

    from conftest import Proc, wait_ready

    tmp = tmp_path / "worker-tmp"  # the workers' TMPDIR
    tmp.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp / f"graft-node-{dead.pid}-abcd1234"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "left.bin").write_bytes(b"\0" * 2**20)
    reused = tmp / f"graft-node-{os.getpid()}-abcd1234"  # this pytest is alive, and no runner
    reused.mkdir()
    elsewhere = tmp / f"graft-node-{dead.pid}-efgh5678"  # a runner of another pid namespace
    elsewhere.mkdir()
    lock = os.open(elsewhere, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    runner, runner_pipe = _start_runner(tmp)
    worker = None
    try:
        [live] = wait(lambda: list(tmp.glob(f"graft-node-{runner.pid}-*")), 30,
                      "the live runner's folder")
        # A worker of a tier nobody sends to, in the same temporary folder.
        worker = Proc("worker-4Gi-tmpdir", ["worker", "--tier", "4Gi", "-c", "1"],
                      {**cluster.env, "TMPDIR": str(tmp)}, cluster.cwd,
                      cluster.logs / "worker-4Gi-tmpdir.log", "ready.")
        wait_ready([worker])
        assert not stale.exists() and not reused.exists()
        assert live.exists() and elsewhere.exists()
        own = wait(lambda: [p for p in tmp.glob("graft-node-*") if p not in (live, elsewhere)],
                   30, "the worker's own runner's folder")
        os.kill(worker.pid, signal.SIGTERM)  # a normal stop: the worker's main process only
        worker.popen.wait(timeout=30)
        assert not [p for p in own if p.exists()]
        assert sorted(tmp.iterdir()) == sorted([live, elsewhere])
    finally:
        if worker is not None:
            worker.kill()
        os.close(lock)
        os.close(runner_pipe)  # the runner ends in order, removing its folder
        runner.wait(timeout=30)
    assert sorted(tmp.iterdir()) == [elsewhere]
