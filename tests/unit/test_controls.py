"""Execution controls that need no process: the engine's cancel, the cancel message, what an
attempt is held to, and the reports of attempts a worker stopped."""

import signal
from dataclasses import replace

import pytest
from workflows import control_flow as cf

from sdk.model.engine import Engine
from sdk.model.report import Report
from sdk.model.spec import node_to_json
from sdk.model.states import ExecutionState, NodeState
from sdk.wire import messages
from worker.supervisor import failed_message, limits_of


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
    killed = report("died", -signal.SIGKILL)["error"]
    assert (killed["type"], killed["kind"]) == ("OutOfMemory", "SYSTEM")
    exited = report("died", 3)["error"]
    assert (exited["type"], exited["kind"]) == ("WorkerLost", "USER")
