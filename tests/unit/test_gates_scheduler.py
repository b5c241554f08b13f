"""The scheduler holds gate nodes itself (scheduler/gates.py): never dispatched, answered by
`signal` messages, ended by its clock (a sleep, a timeout), and all of it rebuilt after a
restart. On the in-memory state and SQLite, with the scheduler's clock in the test's hand."""

from __future__ import annotations

import pytest
from test_scheduler import Harness, RecordingBoard
from workflows import gates as g

from scheduler.state import MemoryState
from scheduler.state_sql import SqlState


class GateHarness(Harness):
    """A scheduler whose clock the test moves, writing to a recording board."""

    def __init__(self, state):
        self.now = 1_000.0
        self.board = RecordingBoard()
        super().__init__(state)

    def new_scheduler(self, **options):
        return super().new_scheduler(board=self.board, clock=lambda: self.now, **options)

    def signal(self, eid: str, name: str, value, request: str = "r") -> dict:
        """Send a signal; the scheduler's answer on the board."""
        refused = self.handle([{"type": "signal", "execution": eid, "name": name,
                                "value": {"val": {"v": value}}, "request": request}])
        assert refused == []
        self.scheduler.boards.write_now()
        return self.board.records[eid][f"signal:{request}"]

    def tick(self, seconds: float) -> None:
        """Let `seconds` pass and run a loop turn's expiry."""
        self.now += seconds
        self.scheduler.expire()
        self.run_to_end()

    def states(self, eid: str) -> dict[str, str]:
        return {nid: r["state"] for nid, r in self.nodes(eid).items()}

    def sent_nodes(self) -> list[str]:
        return [one.node_id for d in self.dispatcher.sent for one in d.singles()]


@pytest.fixture(params=["memory", "sqlite"])
def h(request, tmp_path):
    if request.param == "memory":
        return GateHarness(MemoryState())
    return GateHarness(SqlState(f"sqlite:///{tmp_path}/state.db"))


def test_a_gate_is_never_dispatched_and_waits_for_its_signal_in_its_row(h):
    h.submit(g.gated, "e1", x=5)
    assert h.sent_nodes() == ["double"]  # the gates wait here
    h.run_to_end()
    assert h.states("e1") == {"double": "SUCCEEDED", "n": "WAITING", "check": "WAITING",
                              "sleep-gate": "WAITING"}
    assert h.nodes("e1")["n"]["started_at"] == 1_000.0 and h.nodes("e1")["n"]["queue"] is None
    h.scheduler.boards.write_now()
    shown = h.board.nodes["e1"]["n"]
    assert shown["state"] == "WAITING" and shown["kind"] == "gate"
    assert shown["gate"] == {"kind": "signal", "name": "n", "type": {"t": "int"},
                             "type_name": "int", "timeout_s": 3600.0}
    assert h.scheduler.gates.next_deadline() == h.now + 1.0  # the sleep's end
    assert h.scheduler.next_due_s() == 1.0

    assert h.signal("e1", "n", 3, "a") == {"ok": True, "message": "signal 'n' given to n",
                                           "nodes": ["n"]}
    assert h.signal("e1", "check", True, "b")["ok"]
    h.run_to_end()
    assert "add" not in h.states("e1")  # not sent: ordered after the sleep
    h.tick(0.5)
    assert h.states("e1")["sleep-gate"] == "WAITING"
    h.tick(0.6)
    assert h.states("e1")["sleep-gate"] == "SUCCEEDED"
    assert h.execution("e1").status == "SUCCEEDED" and h.outputs(g.gated, "e1") == 13
    history = h.nodes("e1")["n"]["history"]
    assert history[0]["signal"] == "n" and history[0]["outcome"] == "values"


def test_a_wrong_value_or_a_gate_not_waiting_is_refused_and_changes_nothing(h):
    h.submit(g.gated, "e1", x=5)
    events = h.events("e1")
    refused = h.signal("e1", "n", "three")
    assert refused == {"ok": False, "nodes": [], "message": (
        "gate 'n' (node 'n') of execution e1 takes a value of type int: expected int, got "
        "str 'three'")}
    assert not h.signal("e1", "n", True)["ok"]  # a bool is no int
    # `check` waits for `double`: not reached yet, as Flyte refuses a signal it has not created
    message = h.signal("e1", "check", True)["message"]
    assert message == ("no gate named 'check' waits for a signal in execution e1: check "
                       "(PENDING) (a gate takes its signal only while it is WAITING)")
    assert h.signal("e1", "nobody", 1)["message"] == \
        "no gate named 'nobody' waits for a signal in execution e1"
    assert h.signal("e1", "sleep-gate", 1)["message"].startswith("no gate named 'sleep-gate'")
    assert h.events("e1") == events
    h.run_to_end()
    assert "is an approval, which takes true or false" in h.signal("e1", "check", 1)["message"]
    assert h.handle([{"type": "signal", "execution": "e404", "name": "n",
                      "value": {"val": {"v": 1}}}]) == ["signal for unknown execution e404"]
    h.signal("e1", "n", 1)
    assert h.signal("e1", "n", 2)["message"].startswith(  # answered already
        "no gate named 'n' waits for a signal in execution e1: n (SUCCEEDED)")


def test_a_rejection_fails_the_gate_with_flytekits_exception(h):
    h.submit(g.gated, "e1", x=5)
    h.run_to_end()
    h.signal("e1", "check", False)
    h.run_to_end()
    row = h.nodes("e1")["check"]
    assert row["state"] == "FAILED" and row["error"]["type"] == "FlyteDisapprovalException"
    assert h.execution("e1").status == "FAILED"
    assert h.states("e1")["n"] == "CANCELLED"  # FAIL_IMMEDIATELY gave it up
    assert not h.signal("e1", "n", 1)["ok"]


def test_no_signal_within_the_timeout_fails_the_gate(h):
    h.submit(g.impatient, "e2", x=1)
    h.run_to_end()
    assert h.scheduler.gates.next_deadline() == h.now + 2.0
    h.tick(1.9)
    assert h.states("e2")["never"] == "WAITING"
    h.tick(0.2)
    row = h.nodes("e2")["never"]
    assert row["state"] == "FAILED" and row["attempt"] == 1
    assert row["error"]["type"] == "GateTimeout" and row["error"]["kind"] == "USER"
    assert "received no signal within its timeout of 2 s" in row["error"]["message"]
    failures = h.execution("e2").error["failures"]
    assert [(f["node_id"], f["error_type"]) for f in failures] == [("never", "GateTimeout")]


def test_the_policy_lets_other_nodes_finish_after_a_gate_timed_out(h):
    h.submit(g.impatient_tolerant, "e1", x=4)
    h.tick(3.0)
    assert h.states("e1") == {"never": "FAILED", "double": "SUCCEEDED", "add": "SKIPPED"}
    assert h.execution("e1").status == "FAILED"


def test_after_a_restart_a_waiting_gate_still_takes_its_signal_and_sleeps_keep_time(h):
    h.submit(g.gated, "e1", x=5)
    h.run_to_end()
    h.submit(g.slept, "e2", x=2)
    h.now += 2.0  # e2 slept 2 of its 3 s, then the scheduler died
    h.scheduler = h.new_scheduler()  # a new scheduler process: nothing in memory
    assert h.scheduler.recover() == []  # gates are not attempts to send again
    assert sorted(at - h.now for at, *_ in h.scheduler.gates._due) == [-1.0, 1.0, 3598.0,
                                                                       3598.0]
    assert h.signal("e1", "n", 3)["ok"] and h.signal("e1", "check", True, "c")["ok"]
    h.tick(0.9)  # e1's sleep ended while no scheduler ran: at once; e2's 3 s are not over
    assert h.execution("e1").status == "SUCCEEDED" and h.states("e2")["sleep-gate"] == "WAITING"
    h.tick(0.2)
    assert h.execution("e1").status == "SUCCEEDED" and h.outputs(g.gated, "e1") == 13
    assert h.execution("e2").status == "SUCCEEDED" and h.outputs(g.slept, "e2") == 4


def test_a_gates_deadline_survives_a_rebuild_from_events_alone(h):
    h.submit(g.impatient, "e1", x=1)
    h.scheduler.executions.forget(["e1"])  # a rolled-back batch dropped it from memory
    h.scheduler.gates.clear()
    h.tick(2.5)  # nothing knows the deadline until something rebuilds it
    assert h.states("e1")["never"] == "WAITING"
    assert h.signal("e1", "x", 1)["ok"] is False  # the message rebuilt it, holding its gate
    h.tick(0.0)
    assert h.states("e1")["never"] == "FAILED"


def test_one_signal_answers_the_gates_of_its_name_and_a_node_id_only_that_one(h):
    h.submit(g.twice, "e1", x=1)
    h.run_to_end()
    waiting = sorted(n for n, s in h.states("e1").items() if s == "WAITING")
    assert waiting == ["twice_inner-1/shared", "twice_inner/shared"]
    answer = h.signal("e1", "twice_inner/shared", 10)
    assert answer["nodes"] == ["twice_inner/shared"]
    assert h.signal("e1", "shared", 20, "b")["nodes"] == ["twice_inner-1/shared"]
    h.run_to_end()
    assert h.outputs(g.twice, "e1") == 11 + 21


def test_gates_a_dynamic_makes_wait_like_the_others(h):
    h.submit(g.asking, "e1", count=2)
    h.run_to_end()
    assert h.states("e1") == {"asks": "RUNNING", "asks/v0": "WAITING", "asks/v1": "WAITING"}
    h.signal("e1", "v1", 5)
    h.signal("e1", "v0", 4, "b")
    h.run_to_end()
    assert h.outputs(g.asking, "e1") == [4, 5]


def test_a_cancel_gives_up_a_waiting_gate_and_its_deadline_changes_nothing(h):
    h.submit(g.slept, "e1", x=1)
    assert h.handle([{"type": "cancel", "execution": "e1", "reason": "no"}]) == []
    assert h.states("e1")["sleep-gate"] == "CANCELLED"
    h.tick(5.0)
    assert h.execution("e1").status == "ABORTED"
    assert not h.signal("e1", "never", 1)["ok"]
    h.scheduler.boards.write_now()
    assert "has ended (ABORTED)" in h.board.records["e1"]["signal:r"]["message"]


def test_a_malformed_signal_message_is_refused_saying_why(h):
    h.submit(g.gated, "e1", x=5)
    base = {"type": "signal", "execution": "e1", "name": "n"}
    refused = h.handle([{**base, "value": {"ref": ["double", "o0"]}},
                        {**base, "name": "", "value": {"val": {"v": 1}}},
                        {**base, "value": {"val": {"v": 1}}, "request": "no spaces"},
                        {**base}])
    assert refused == [
        "signal 'n': value must be a value binding ({\"val\": ...}), got "
        "{'ref': ['double', 'o0']}",
        "signal for execution e1: name must be 1 to 4096 characters",
        "signal 'n': request must be 1 to 64 letters, digits, '.', '_' or '-'",
        "signal message: field 'value' must be dict, got None"]
    assert h.states("e1")["n"] == "WAITING"
