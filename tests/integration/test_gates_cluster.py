"""Gate nodes on a real cluster: held by the `graft scheduler` process (no worker slot),
answered with `Execution.set_signal` / `approve` and with `graft signal` / `graft approve`,
refusing a value of the wrong type, timing out, and surviving a scheduler restart. The
in-process side is tests/unit/test_gates.py."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from conftest import _wait_for as wait
from workflows import gates as g

from sdk import ExecutionAborted, ExecutionFailed, SignalRefused, TypeConversionError

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
SQLITE = pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)


def waiting(execution, *names: str, timeout: float = 60) -> None:
    """Wait until the gates of these node ids wait."""
    wait(lambda: all(n.state == "WAITING" for n in execution.nodes() if n.id in names)
         and set(names) <= {n.id for n in execution.nodes()}, timeout,
         f"gates {names} to wait")


def states(execution) -> dict[str, str]:
    return {n.id: n.state for n in execution.nodes()}


@SQLITE
def test_gates_are_answered_by_the_client_and_the_cli_and_refuse_wrong_values(cluster):
    client = cluster.client()
    execution = client.submit(g.gated, x=5)
    waiting(execution, "n", "check")
    gates = {gate.node: gate for gate in execution.signals()}
    assert {k: (v.kind, v.type_name) for k, v in gates.items()} == {
        "n": ("signal", "int"), "check": ("approve", "bool"), "sleep-gate": ("sleep", "")}
    assert gates["n"].waiting and gates["check"].waiting
    assert gates["n"].due_at == pytest.approx(gates["n"].started_at + 3600)
    nodes = {n.id: n for n in execution.nodes()}
    assert nodes["n"].queue is None and nodes["n"].history == []  # no worker saw it

    listed = cluster.run_cli("signals", execution.id)
    assert listed.returncode == 0, listed.stderr
    assert "n                       signal   int" in listed.stdout
    status = cluster.run_cli("status", execution.id)
    assert "gate n: waits for signal 'n' (int) until" in status.stdout
    assert f"graft signal {execution.id} n VALUE" in status.stdout
    assert f"graft approve {execution.id} check [--reject]" in status.stdout
    assert json.loads(cluster.run_cli("status", execution.id, "--json").stdout)["waiting"]

    # A wrong value: refused by the client before anything is sent, and by the CLI.
    with pytest.raises(TypeConversionError, match="expected int, got str"):
        execution.set_signal("n", "three")
    wrong = cluster.run_cli("signal", execution.id, "n", "three")
    assert wrong.returncode != 0 and "'three' does not fit the gate's type" in wrong.stderr
    with pytest.raises(SignalRefused, match="has no gate named 'title'"):
        execution.set_signal("title", "x")
    # ... and by the scheduler, for a message no client checked (signed like any other).
    request = uuid.uuid4().hex[:16]
    cluster.publish({"type": "signal", "execution": execution.id, "name": "n",
                     "value": {"val": {"v": "three"}}, "request": request})
    answer = wait(lambda: client.board.field(execution.id, f"signal:{request}"), 30,
                  "the scheduler's answer")
    assert answer == {"ok": False, "nodes": [], "message": (
        f"gate 'n' (node 'n') of execution {execution.id} takes a value of type int: "
        f"expected int, got str 'three'")}
    assert states(execution)["n"] == "WAITING"

    assert execution.set_signal("n", 3) is True
    with pytest.raises(SignalRefused, match=r"n \(SUCCEEDED\)"):
        execution.set_signal("n", 4)
    approved = cluster.run_cli("approve", execution.id, "check")
    assert approved.returncode == 0, approved.stderr
    assert f"Approved: gate 'check' of execution {execution.id}" in approved.stdout
    assert execution.wait(timeout=60) == 13
    history = {n.id: n.history for n in execution.nodes()}
    assert history["check"][0]["signal"] == "check"


@SQLITE
def test_the_cli_gives_a_typed_value_and_a_rejection_fails_the_execution(cluster):
    execution = cluster.client().submit(g.titled, xs=[1.0, 2.0])
    waiting(execution, "title")
    given = cluster.run_cli("signal", execution.id, "title", "My Report")
    assert given.returncode == 0, given.stderr
    waiting(execution, "publish")
    record = next(n for n in execution.nodes() if n.id == "label")
    assert record.state == "SUCCEEDED"
    rejected = cluster.run_cli("approve", execution.id, "publish", "--reject")
    assert rejected.returncode == 0, rejected.stderr
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=60)
    [failure] = info.value.failures
    assert (failure.node_id, failure.error_type) == ("publish", "FlyteDisapprovalException")
    assert failure.message == "User did not approve the transaction for gate node publish"

    passed = cluster.client().submit(g.reviewed, xs=[2.0])
    waiting(passed, "review")
    assert cluster.run_cli("signal", passed.id, "review", "true").returncode == 0
    assert passed.wait(timeout=60) == {"title": "passed", "n": 1, "total": 2.0}


@SQLITE
def test_a_gate_without_its_signal_fails_at_its_timeout(cluster):
    started = time.monotonic()
    execution = cluster.client().submit(g.impatient, x=1)
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=60)
    took = time.monotonic() - started
    [failure] = info.value.failures
    assert (failure.node_id, failure.error_type, failure.kind) == ("never", "GateTimeout", "USER")
    assert failure.message == ("gate 'never' (node 'never') received no signal within its "
                               "timeout of 2 s")
    assert 2 <= took < 15


@SQLITE
def test_a_waiting_gate_holds_no_worker_slot(cluster):
    """Two gates and a sleep wait while two tasks run one after the other on the 4Gi tier,
    whose only worker has one slot."""
    worker = cluster.start_worker("4Gi", concurrency=1)
    try:
        execution = cluster.client().submit(g.beside, x=2, seconds=1.0)
        wait(lambda: states(execution).get("nap_4gi-1") == "SUCCEEDED", 90,
             "both naps to run on the one slot")
        shown = states(execution)
        assert {shown["go"], shown["also"], shown["sleep-gate"]} == {"WAITING"}
        assert execution.cancel()
        with pytest.raises(ExecutionAborted):
            execution.wait(timeout=30)
        assert {states(execution)[n] for n in ("go", "also", "sleep-gate")} == {"CANCELLED"}
    finally:
        worker.stop()
        cluster.workers.remove(worker)


def test_a_waiting_gate_and_a_sleep_survive_a_scheduler_restart(cluster):
    """On both state backends: the gates' start times are in their rows."""
    client = cluster.client()
    gated = client.submit(g.gated, x=5)
    waiting(gated, "n", "check")
    slept = client.submit(g.slept, x=2)
    waiting(slept, "sleep-gate")
    cluster.kill_scheduler()
    time.sleep(3.5)  # the sleep's 3 s pass while no scheduler runs
    cluster.start_scheduler()
    assert slept.wait(timeout=30) == 4  # ended by the new scheduler's clock, from its row
    assert states(gated)["n"] == "WAITING"
    assert gated.set_signal("n", 3) and gated.approve("check")
    assert gated.wait(timeout=60) == 13
