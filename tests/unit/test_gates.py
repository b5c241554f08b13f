"""Gate nodes (`sleep`, `wait_for_input`, `approve`): how they compile, what the engine does
with them, and how the in-process runner answers them on the terminal, as flytekit does.
The scheduler's side is tests/unit/test_gates_scheduler.py; the cluster's,
tests/integration/test_gates_cluster.py."""

from __future__ import annotations

import io
import typing
from datetime import timedelta

import click
import pytest
from workflows import gates as g

import sdk
from sdk import (
    CompileError,
    ExecutionFailed,
    approve,
    dynamic,
    sleep,
    task,
    wait_for_input,
    workflow,
)
from sdk.core import gate as core_gate
from sdk.exceptions.user import FlyteDisapprovalException
from sdk.model import gates
from sdk.model.engine import Engine
from sdk.model.errors import SpecError
from sdk.model.report import Report
from sdk.model.spec import GraphSpec
from sdk.model.states import ExecutionState, NodeState


def answering(monkeypatch, text: str) -> None:
    """What the terminal types: `text`, one answer a line."""
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


# ---- authoring ------------------------------------------------------------------------------


def test_gates_are_importable_where_flytekit_has_them():
    assert sdk.sleep is core_gate.sleep is sleep
    assert sdk.wait_for_input is core_gate.wait_for_input and sdk.approve is core_gate.approve
    assert timedelta(hours=1) == core_gate.DEFAULT_TIMEOUT
    assert issubclass(FlyteDisapprovalException, AssertionError)


def test_each_gate_is_one_node_of_kind_gate_named_as_the_gate():
    spec = g.gated.compile()
    kinds = {n.id: (n.kind, n.gate and n.gate.kind) for n in spec.nodes}
    assert kinds == {"double": ("task", None), "n": ("gate", "signal"),
                     "check": ("gate", "approve"), "sleep-gate": ("gate", "sleep"),
                     "add": ("task", None)}
    nodes = spec.node_map()
    assert nodes["n"].outputs_types == {"o0": {"t": "int"}} and nodes["n"].timeout_s == 3600.0
    assert nodes["check"].inputs == {"o0": {"ref": ["double", "o0"]}}
    assert nodes["check"].outputs_types == nodes["check"].inputs_types == {"o0": {"t": "int"}}
    assert nodes["sleep-gate"].gate.duration_s == 1.0 and nodes["sleep-gate"].timeout_s is None
    assert nodes["add"].after == ("sleep-gate",)  # `pause >> total`
    assert nodes["add"].inputs == {"a": {"ref": ["check", "o0"]}, "b": {"ref": ["n", "o0"]}}


def test_gates_chain_with_each_other_and_with_calls():
    @workflow
    def chained() -> int:
        first = sleep(timedelta(seconds=1))
        second = sleep(timedelta(seconds=2))
        n = wait_for_input("n", timeout=timedelta(minutes=1), expected_type=int)
        first >> second >> n
        return g.double(x=n)

    nodes = chained.compile().node_map()
    assert nodes["sleep-gate-1"].after == ("sleep-gate",) and nodes["n"].after == ("sleep-gate-1",)
    assert [n.gate.duration_s for n in nodes.values() if n.gate and n.gate.kind == "sleep"] == \
        [1.0, 2.0]
    assert g.reviewed.compile().node_map()["review"].after == ("summary",)


def test_a_spec_with_gates_survives_its_json_forms():
    spec = g.gated.compile()
    again = GraphSpec.loads(spec.dumps())
    assert [(n.id, n.gate, n.timeout_s) for n in again.nodes] == \
        [(n.id, n.gate, n.timeout_s) for n in spec.nodes]
    from sdk.model import spec_v1

    node = spec.node_map()["check"]
    assert spec_v1.node_from_json(spec_v1.node_to_json(node)).gate == node.gate


def test_a_malformed_gate_is_a_spec_error():
    text = g.gated.compile().dumps().replace('"kind":"sleep"', '"kind":"nap"')
    with pytest.raises(SpecError, match="gate"):
        GraphSpec.loads(text)
    text = g.gated.compile().dumps().replace('"gate":{"kind":"sleep","name":"sleep-gate",'
                                             '"duration_s":1.0}', '"gate":null')
    from sdk.model.validate import validate

    with pytest.raises(SpecError, match="gate node 'sleep-gate' carries no gate"):
        validate(GraphSpec.loads(text))


def test_approve_takes_one_output_of_a_call_as_flytekit_does():
    @task
    def nothing() -> None:
        return None

    with pytest.raises(ValueError, match="workflow inputs cannot be passed to approval"):
        @workflow
        def of_input(x: int) -> int:
            return approve(x, "a", timeout=timedelta(minutes=1))
        of_input.compile()
    with pytest.raises(CompileError, match="doesn't return anything"):
        @workflow
        def of_void() -> None:
            approve(nothing(), "a", timeout=timedelta(minutes=1))
        of_void.compile()
    with pytest.raises(CompileError, match="without '/'"):
        wait_for_input("a/b", timeout=timedelta(minutes=1), expected_type=int)


def test_a_gate_in_a_dynamic_and_in_a_conditional_case_is_a_gate_node():
    assert [n.kind for n in g.reviewed.compile().nodes] == ["task", "gate", "branch"]
    sub = g.asks.expand({"count": 2}, sdk_store(), None)
    assert [(n.id, n.kind) for n in sub.nodes] == [("v0", "gate"), ("v1", "gate")]

    @workflow
    def in_case(x: int) -> int:
        return (sdk.conditional("c").if_(g.double(x=x) > 2)
                .then(approve(g.double(x=x), "ok", timeout=timedelta(minutes=1)))
                .else_().then(g.double(x=x)))

    branch = in_case.compile().nodes[-1]
    assert [n.kind for n in branch.branch.cases[0].graph.nodes] == ["task", "gate"]


def sdk_store():
    from sdk.values.store import MemoryStore

    return MemoryStore()


# ---- the engine -----------------------------------------------------------------------------


def test_the_engine_releases_a_gate_waiting_and_takes_its_report():
    engine = Engine(g.gated.compile(), {"x": {"val": {"v": 5}}})
    released = engine.start()
    assert sorted(released) == ["double", "n", "sleep-gate"]
    assert {nid: engine.nodes[nid].state for nid in released} == {
        "double": NodeState.QUEUED, "n": NodeState.WAITING, "sleep-gate": NodeState.WAITING}
    assert engine.queued == 1  # gates wait, they are not queued for a worker
    assert engine.apply(Report.values("double", 1, {"o0": {"val": {"v": 10}}})) == ["check"]
    run = engine.nodes["check"]
    assert run.state == NodeState.WAITING
    assert engine.apply(gates.signalled(run, {"val": {"v": True}}, True,
                                        engine.resolved_inputs("check"))) == []
    assert engine.nodes["check"].outputs == {"o0": {"val": {"v": 10}}}  # passed on
    engine.apply(gates.signalled(engine.nodes["n"], {"val": {"v": 3}}, 3, {}))
    assert engine.apply(gates.due(engine.nodes["sleep-gate"], 1.0)) == ["add"]
    engine.apply(Report.values("add", 1, {"o0": {"val": {"v": 13}}}))
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.nodes["n"].history[0]["signal"] == "n"


def test_a_rejected_or_timed_out_gate_fails_and_the_policy_applies():
    engine = Engine(g.gated.compile(), {"x": {"val": {"v": 5}}})
    engine.start()
    engine.apply(Report.values("double", 1, {"o0": {"val": {"v": 10}}}))
    engine.apply(gates.signalled(engine.nodes["check"], {"val": {"v": False}}, False, {}))
    check = engine.nodes["check"]
    assert check.state == NodeState.FAILED and check.attempt == 1  # never retried
    assert check.error["type"] == "FlyteDisapprovalException"
    assert check.error["message"] == "User did not approve the transaction for gate node check"
    # FAIL_IMMEDIATELY: the gates still waiting are given up
    assert engine.nodes["n"].state == NodeState.CANCELLED
    assert engine.state == ExecutionState.FAILED

    tolerant = Engine(g.impatient_tolerant.compile(), {"x": {"val": {"v": 1}}})
    tolerant.start()
    report = gates.due(tolerant.nodes["never"], 2.0)
    assert report.error.type == "GateTimeout" and report.error.kind.value == "USER"
    assert report.error.message == ("gate 'never' (node 'never') received no signal within "
                                    "its timeout of 2 s")
    tolerant.apply(report)
    assert tolerant.state == ExecutionState.RUNNING  # `double` runs on
    tolerant.apply(Report.values("double", 1, {"o0": {"val": {"v": 2}}}))
    assert tolerant.state == ExecutionState.FAILED and tolerant.failed == ["never"]
    assert tolerant.nodes["add"].state == NodeState.SKIPPED


def test_a_cancelled_execution_gives_up_its_waiting_gates():
    engine = Engine(g.slept.compile(), {"x": {"val": {"v": 1}}})
    engine.start()
    assert engine.cancel()
    assert engine.nodes["sleep-gate"].state == NodeState.CANCELLED
    late = gates.due(engine.nodes["sleep-gate"], 3.0)
    assert engine.apply(late) is None  # no longer waited for


def test_signal_values_are_checked_by_their_literals_shape():
    assert gates.literal_error("x", {"t": "str"}) is None
    assert gates.literal_error(3, {"t": "float"}) is None
    assert gates.literal_error(True, {"t": "int"}) == "expected int, got bool True"
    assert gates.literal_error([1, "a"], {"t": "list", "of": {"t": "int"}}) == \
        "item 1: expected int, got str 'a'"
    assert gates.literal_error(None, {"t": "optional", "of": {"t": "int"}}) is None
    assert gates.literal_error({"a": 1}, {"t": "dataclass", "ref": "m:D",
                                          "fields": {"a": {"t": "int"}, "b": {"t": "str"}}})
    assert gates.literal_error("red", {"t": "enum", "ref": "m:C", "values": ["red"]}) is None


# ---- in-process: the terminal answers, as in flytekit -----------------------------------------


def test_in_process_input_gates_ask_on_the_terminal_and_a_sleep_does_not_sleep(
        monkeypatch, capsys):
    answering(monkeypatch, "3\ny\n")
    assert g.gated(x=5) == 13
    shown = click.unstyle(capsys.readouterr().out)
    assert "[Sleep Gate] Simulating Sleep for 0:00:01" in shown
    assert "[Input Gate] Waiting for input @n of type int: " in shown
    assert "[Approval Gate] @check Approve 10? [Y/n]: " in shown


def test_a_wrong_answer_is_asked_again_and_yes_is_the_default(monkeypatch, capsys):
    answering(monkeypatch, "three\n3\n\n")
    assert g.gated(x=1) == 5
    assert "'three' does not read as int" in click.unstyle(capsys.readouterr().out)


def test_in_process_a_no_fails_the_gate_with_flytekits_exception(monkeypatch):
    answering(monkeypatch, "My Report\nn\n")
    with pytest.raises(FlyteDisapprovalException) as info:  # in-process: raised, as flytekit
        g.titled(xs=[1.0, 2.0])
    assert str(info.value) == "User did not approve the transaction for gate node publish"
    assert info.value.__notes__ == [
        "graft: raised by gate 'publish' in node 'publish' of workflow 'titled'"]


def test_in_process_a_bool_signal_picks_a_conditional_case(monkeypatch):
    answering(monkeypatch, "false\n")
    assert g.reviewed(xs=[1.0]) == {"invalid": True}
    answering(monkeypatch, "true\n")
    assert g.reviewed(xs=[1.0]) == {"title": "passed", "n": 1, "total": 1.0}


def test_in_process_gates_made_by_a_dynamic_ask_in_turn(monkeypatch):
    answering(monkeypatch, "4\n5\n")
    assert g.asking(count=2) == [4, 5]


def test_in_process_input_that_ends_fails_the_gate(monkeypatch):
    answering(monkeypatch, "")
    with pytest.raises(ExecutionFailed, match=r"GateNotAnswered: gate 'title' .*standard "
                                              r"input ended"):
        g.titled(xs=[1.0])


def test_outside_a_workflow_a_gate_runs_at_once(monkeypatch):
    answering(monkeypatch, "7\n")
    assert wait_for_input("seven", timeout=timedelta(minutes=1), expected_type=int) == 7
    answering(monkeypatch, "y\n")
    assert approve({"a": 1}, "it", timeout=None) == {"a": 1}
    assert sleep(timedelta(hours=3)) is None


def test_typed_answers_are_read_as_the_command_line_reads_them(monkeypatch):
    @workflow
    def listed() -> typing.List[int]:
        return wait_for_input("xs", timeout=timedelta(minutes=1),
                              expected_type=typing.List[int])

    answering(monkeypatch, "[1, 2, 3]\n")
    assert listed() == [1, 2, 3]

    @dynamic
    def approves(x: int) -> int:
        return approve(x, "plain", timeout=timedelta(minutes=1))  # a plain value in a dynamic

    @workflow
    def via_dynamic(x: int) -> int:
        return approves(x=x)

    answering(monkeypatch, "y\n")
    assert via_dynamic(x=4) == 4


# ---- the client (sdk.remote.signals), against a fake board ------------------------------------


class FakeClient:
    """The parts of a Client that signals use: the board's node records and fields, the
    control stream (which answers as the scheduler would), the store."""

    def __init__(self, records: dict, answer: dict | None):
        self.records, self.answer, self.sent = records, answer, []
        self.store = sdk_store()
        self.board, self.control = self, self

    def nodes(self, eid):
        return self.records

    def field(self, eid, name):
        return self.answer if self.sent and name == f"signal:{self.sent[-1]['request']}" \
            else None

    def publish(self, body):
        self.sent.append(body)


class FakeExecution:
    def __init__(self, client, status="RUNNING"):
        self.id, self.client, self._status = "e1", client, status

    def status(self):
        return self._status


def gate_record(state: str, kind: str = "signal", t=None) -> dict:
    return {"kind": "gate", "task": "n", "state": state, "started_at": 100.0,
            "gate": {"kind": kind, "name": "n", "type": t or {"t": "int"}, "type_name": "int",
                     "timeout_s": 60.0}}


def test_the_client_checks_a_signal_against_the_boards_gates_before_sending_it():
    from sdk import SignalRefused, TypeConversionError
    from sdk.remote import signals

    client = FakeClient({"n": gate_record("WAITING"), "t": {"kind": "task", "state": "QUEUED"}},
                        {"ok": True, "message": "given", "nodes": ["n"]})
    execution = FakeExecution(client)
    [gate] = signals.gates(execution)
    assert (gate.node, gate.kind, gate.due_at, gate.waiting) == ("n", "signal", 160.0, True)
    assert signals.send(execution, "n", 3, wait_s=1) is True
    assert client.sent[0]["value"] == {"val": {"v": 3}} and client.sent[0]["name"] == "n"
    with pytest.raises(TypeConversionError, match="expected int, got str"):
        signals.send(execution, "n", "3", wait_s=1)
    assert signals.parse_value(execution, "n", "42") == 42
    client.answer = {"ok": False, "message": "too late"}
    with pytest.raises(SignalRefused, match="too late"):
        signals.send(execution, "n", 3, wait_s=1)
    client.answer = None
    assert signals.send(execution, "n", 3, wait_s=0) is False  # no scheduler answered

    with pytest.raises(SignalRefused, match=r"execution e1 has no gate named 'x' \(its gates: n\)"):
        signals.send(execution, "x", 3, wait_s=1)
    client.records = {"n": gate_record("PENDING")}
    with pytest.raises(SignalRefused, match=r"n \(PENDING\); a gate takes its signal only while"):
        signals.send(execution, "n", 3, wait_s=1)
    with pytest.raises(SignalRefused, match="has ended \\(SUCCEEDED\\)"):
        signals.send(FakeExecution(client, "SUCCEEDED"), "n", 3, wait_s=1)
