"""The scheduler gathers a large output list into the store a slice a turn
(scheduler/gathering.py): the dynamic's row, the execution's row, the board and the events
hold a reference whose size does not grow with the list, what reads the output (a task, the
client's decoding) gets the list, and a scheduler that stops or forgets the execution halfway
gathers it again."""

from __future__ import annotations

import dataclasses
import itertools
import json

import pytest
from test_scheduler import Harness, RecordingBoard, squares, squares_wf, sum_of_squares

from scheduler.state import MemoryState
from scheduler.state_sql import SqlState
from sdk.model.report import Outcome
from sdk.values.literals import from_ref

GATHER_ABOVE = 10


@pytest.fixture(params=["memory", "sqlite"])
def h(request, tmp_path):
    state = MemoryState() if request.param == "memory" \
        else SqlState(f"sqlite:///{tmp_path}/state.db")
    harness = Harness(state)
    harness.settings = dataclasses.replace(harness.settings, gather_above=GATHER_ABOVE)
    harness.board = RecordingBoard()
    restart(harness)
    return harness


def restart(h) -> None:
    """A new scheduler (nothing in memory) whose gathers take one slice of 7 items a turn."""
    h.scheduler = h.new_scheduler(board=h.board)
    h.scheduler.gatherer.slice_items = 7
    h.scheduler.gatherer.clock = itertools.count().__next__  # a turn's time is up after a slice


def turn(h) -> bool:
    """One loop turn: a slice of each graph and each gather, then what the workers report;
    False once nothing is left to do."""
    if h.scheduler.grafting:
        h.scheduler.graft_more()
    gathering = h.scheduler.gathering
    if gathering:
        h.scheduler.gather_more()
    reports = h.work()
    assert h.handle(reports) == []
    return bool(reports) or gathering or h.scheduler.grafting


def run(h, limit: int = 500) -> int:
    """Turns until the end; how many of them gathered."""
    gathered = 0
    for _ in range(limit):
        gathered += h.scheduler.gathering
        if not turn(h):
            return gathered
    raise AssertionError("execution did not finish")


def sizes(h, eid: str) -> dict[str, int]:
    """Bytes of JSON of what the state and the board hold for the dynamic and the execution,
    and of the largest event."""
    h.scheduler.boards.write_now()
    rows = h.nodes(eid)
    with h.state.transaction() as tx:
        events = tx.events(eid)
    return {"dynamic row": len(json.dumps(rows["squares"]["outputs"])),
            "execution row": len(json.dumps(h.execution(eid).outputs)),
            "board": len(json.dumps(h.board.records[eid])),
            "board node": len(json.dumps(h.board.nodes[eid]["squares"])),
            "event": max(len(json.dumps(e.body)) for e in events)}


def test_a_large_output_is_gathered_a_slice_a_turn_and_read_as_the_list(h):
    h.submit(sum_of_squares, "e1", n=30)
    gathered = run(h)
    assert gathered == 5  # 30 items, 7 a turn (the last turn finds the list ended)
    assert h.outputs(sum_of_squares, "e1") == sum(i * i for i in range(30))
    dyn = h.nodes("e1")["squares"]
    assert dyn["state"] == "SUCCEEDED"
    assert from_ref(dyn["outputs"]["o0"]["val"], h.store) == [i * i for i in range(30)]
    with h.state.transaction() as tx:
        events = tx.events("e1")
    began = [e for e in events if e.body.get("gathers")]
    assert [e.body["gathers"] for e in began] == [{"squares": ["o0"]}]
    [done] = [e for e in events if e.outcome == Outcome.GATHERED.value]
    assert (done.node_id, done.body["outputs"]) == ("squares", dyn["outputs"])
    # the task that read the list got the whole of it
    assert h.nodes("e1")["total"]["outputs"] == {"o0": {"val": {"v": 8555}}}


def test_what_the_rows_board_and_events_hold_does_not_grow_with_the_list(h):
    h.submit(squares_wf, "small", n=GATHER_ABOVE + 1)
    h.submit(squares_wf, "large", n=40 * GATHER_ABOVE)
    run(h)
    assert h.outputs(squares_wf, "large") == [i * i for i in range(400)]
    small, large = sizes(h, "small"), sizes(h, "large")
    # the same, but for the digits of counts and times
    assert all(abs(large[k] - small[k]) <= 16 for k in small), (small, large)
    assert max(large.values()) < 1000


def test_a_short_list_is_written_inline_as_before(h):
    h.submit(squares_wf, "e1", n=GATHER_ABOVE)
    assert run(h) == 0
    assert h.execution("e1").outputs["o0"] == {"list": [{"val": {"v": i * i}}
                                                        for i in range(GATHER_ABOVE)]}


def test_a_scheduler_that_stops_halfway_gathers_the_list_again(h):
    h.submit(sum_of_squares, "e1", n=30)
    while not h.scheduler.gathering:
        turn(h)
    h.scheduler.gather_more()
    h.scheduler.gather_more()
    restart(h)  # a new process: the gather so far is lost, the events say to begin it again
    h.scheduler.recover()
    assert h.scheduler.gathering
    run(h)
    assert h.outputs(sum_of_squares, "e1") == sum(i * i for i in range(30))
    with h.state.transaction() as tx:
        assert sum(e.outcome == "gathered" for e in tx.events("e1")) == 1


def test_an_execution_forgotten_halfway_is_rebuilt_and_gathered_from_the_first_item(h):
    h.submit(squares_wf, "e1", n=30)
    while not h.scheduler.gathering:
        turn(h)
    h.scheduler.gather_more()
    h.scheduler.executions.forget(["e1"])  # as a batch that rolled back
    h.handle([{"type": "refresh", "execution": "e1"}])  # a message rebuilds it
    run(h)
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(30)]


def test_a_cancel_while_gathering_aborts_the_execution_and_drops_the_gather(h):
    h.submit(squares_wf, "e1", n=30)
    while not h.scheduler.gathering:
        turn(h)
    h.scheduler.gather_more()
    assert h.handle([{"type": "cancel", "execution": "e1"}]) == []
    assert h.execution("e1").status == "ABORTED"
    assert h.nodes("e1")["squares"]["state"] == "ABORTED"
    assert h.scheduler.gather_more().touched == {} and not h.scheduler.gathering
    assert not h.scheduler.gatherer._jobs


def test_the_dynamic_is_running_while_its_list_is_gathered(h):
    h.submit(squares_wf, "e1", n=30)
    while not h.scheduler.gathering:
        turn(h)
    assert h.nodes("e1")["squares"]["state"] == "RUNNING"
    assert h.execution("e1").status == "RUNNING"
    assert squares.name in {r["task"] for r in h.nodes("e1").values()}
