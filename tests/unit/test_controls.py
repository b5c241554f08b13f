"""Execution controls that need no process: the engine's cancel, the cancel message, what an
attempt is held to, and the reports of attempts a worker stopped."""

import signal
from dataclasses import replace

import pytest
from workflows import control_flow as cf

from sdk.model.engine import Engine
from sdk.model.failures import KillEvidence
from sdk.model.report import Report
from sdk.model.spec import node_to_json
from sdk.model.states import ExecutionState, NodeState
from sdk.wire import messages
from worker import oom
from worker.supervisor import Died, failed_message, limits_of


def test_cancel_aborts_everything_and_runs_no_handler(tmp_path):
    engine = Engine(cf.fails_at_once.compile(), {"path": {"val": {"v": str(tmp_path)}},
                                                 "x": {"val": {"v": 1}}})
    released = engine.start()
    assert set(released) == {"fail_on", "pause"}
    assert engine.cancel() is True
    assert engine.state == ExecutionState.ABORTED and engine.done
    states = {nid: run.state for nid, run in engine.nodes.items()}
    assert states == {"fail_on": NodeState.CANCELLED, "pause": NodeState.CANCELLED,
                      "record": NodeState.SKIPPED, "record-1": NodeState.SKIPPED}
    assert engine.apply(Report.values("pause", 1, {"o0": {"val": {"v": 1}}})) is None
    assert engine.cancel() is False and "on-failure" not in engine.nodes


def test_a_cancel_message_is_checked():
    body = {"type": "cancel", "execution": "0123456789abcdef0123", "reason": "done with it"}
    assert messages.check(body) == body
    with pytest.raises(messages.MessageError, match="reason must be a string"):
        messages.check({**body, "reason": 3})


def _payload(**spec):
    node = cf.square.node_spec("square", {})
    return {"token": "t", "spec": node_to_json(replace(node, **spec))}


def test_an_attempt_is_held_to_its_own_limits_else_its_tiers():
    limits = limits_of(_payload(timeout_s=5.0, limits={"mem_bytes": 300 * 2**20}), "mem-1Gi")
    assert (limits.timeout_s, limits.memory_bytes, limits.tier) == (5.0, 300 * 2**20, "1Gi")
    limits = limits_of(_payload(), "mem-256Mi")
    assert (limits.timeout_s, limits.memory_bytes) == (None, 256 * 2**20)


def test_reports_of_stopped_attempts_say_why():
    limits = limits_of(_payload(timeout_s=2.0, limits={"mem_bytes": 100 * 2**20}), "mem-256Mi")

    def report(why, detail=None):
        return failed_message("0123456789abcdef0123", "square", 1, "t", why, detail, limits,
                              "w1")

    assert report("given_up") is None
    timeout = report("timeout")["error"]
    assert (timeout["type"], timeout["kind"]) == ("TaskTimeout", "USER")
    assert "timeout of 2 s" in timeout["message"]
    memory = report("memory", 400 * 2**20)["error"]
    assert memory["type"] == "OutOfMemory"
    assert "used 400 MiB, over its memory limit of 100 MiB (tier 256Mi)" in memory["message"]
    terminated = report("terminated")["error"]
    assert (terminated["type"], terminated["kind"]) == ("Terminated", "DATA")
    mib = 2**20
    killed = report("died", Died(-signal.SIGKILL, KillEvidence(0, 0, 30 * mib, 100 * mib)))
    killed = killed["error"]
    assert (killed["type"], killed["kind"]) == ("WorkerLost", "SYSTEM")
    assert "Killed by SIGKILL; not by graft's memory watch, which last saw it use 30 MiB of " \
           "its limit of 100 MiB (tier 256Mi)" in killed["message"]
    oom = report("died", Died(-signal.SIGKILL, KillEvidence(1, 3, 30 * mib, 100 * mib)))["error"]
    assert (oom["type"], oom["kind"]) == ("OutOfMemory", "SYSTEM")
    assert "killed by the kernel's out-of-memory killer" in oom["message"]
    exited = report("died", Died(3, KillEvidence()))["error"]
    assert (exited["type"], exited["kind"]) == ("WorkerLost", "USER")


V1_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V2_MOUNTS = """\
22 1 0:21 / / rw shared:1 - ext4 /dev/sda1 rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate
"""


def test_the_oom_kill_counts_are_found_in_the_workers_cgroup():
    v1 = "4:memory:/workers/w1\n1:cpu:/\n0::/\n"
    assert oom.counter_files(v1, V1_MOUNTS) == [
        "/sys/fs/cgroup/memory/workers/w1/memory.oom_control",
        "/sys/fs/cgroup/unified/memory.events"]
    assert oom.counter_files("0::/system.slice/graft-worker.service\n", V2_MOUNTS) == [
        "/sys/fs/cgroup/system.slice/graft-worker.service/memory.events"]
    # a container's cgroup namespace: the mount's root is its cgroup
    inside = "30 22 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
    assert oom.counter_files("0::/kubepods/pod1/c1\n", inside) == [
        "/sys/fs/cgroup/c1/memory.events"]
    assert oom.parse(b"low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n") == 2
    assert oom.parse(b"oom_kill_disable 0\nunder_oom 0\noom_kill 7\n") == 7  # cgroup v1
    assert oom.parse(b"oom_kill 3") == 3
    assert oom.parse(b"oom_kill_disable 0\nunder_oom 0\n") is None  # a kernel before 4.13
    cgroup, machine = oom.read()  # this machine's: the cgroup's when it has one
    assert cgroup is not None or machine is not None
    assert oom.since((cgroup, machine)) == (0 if cgroup is not None else None,
                                           0 if machine is not None else None)


def test_a_dead_runners_folder_goes_but_not_a_namesake_whose_lock_is_held(tmp_path):
    import fcntl
    import os

    from worker import folders

    mine = tmp_path / "graft-node-4242-aaaa1111"
    (mine / "sub").mkdir(parents=True)
    (mine / "sub" / "scratch").write_bytes(b"x" * 4096)
    namesake = tmp_path / "graft-node-4242-bbbb2222"  # runner 4242 of another pid namespace
    namesake.mkdir()
    other = tmp_path / "graft-node-42420-cccc3333"
    other.mkdir()
    lock = os.open(namesake, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        folders.remove_of(4242, str(tmp_path))
    finally:
        os.close(lock)
    assert sorted(tmp_path.glob("graft-node-*")) == [namesake, other]
