"""Large graphs held as their frontier (`Engine(window=...)`, `Engine.evict`): the scheduler's
engines insert a next slice only while few nodes are active, and drop from memory the nodes
that succeeded and that no node held still reads, reading their outputs back from the node
rows (`Engine(spill=...)`) when a graph's or a map's outputs are resolved. Outcomes must be the
same as with every node held.

Besides the tests below, every local-run test of the control-flow, controls, local and
failure-model suites runs again here with an engine that inserts one node a slice, inserts no
next slice while two nodes are active, and drops every node it may each time its changes are
drained."""

import typing

import pytest
from test_control_flow import *  # noqa: F403  (run again, holding the frontier only)
from test_controls import *  # noqa: F403
from test_engine import complete, fail, graft, graph, node, ref, val
from test_failure_model import *  # noqa: F403
from test_local import *  # noqa: F403
from workflows import control_flow as cf
from workflows import dynamics

from sdk import map_task, workflow
from sdk.model.engine import Engine
from sdk.model.report import Report
from sdk.model.states import ExecutionState, NodeState
from sdk.runtime import local

INT = {"t": "int"}
INTS = {"t": "list", "of": INT}


class Rows:
    """The outputs a driver keeps for the nodes its engine dropped, counting the reads."""

    def __init__(self):
        self.outputs = {}
        self.reads = []

    def keep(self, engine):
        for nid in engine._evictor.settled:
            run = engine.nodes.get(nid)
            if run is not None and run.outputs is not None:
                self.outputs[nid] = run.outputs

    def __call__(self, ids):
        self.reads.append(list(ids))
        return {nid: self.outputs[nid] for nid in ids if nid in self.outputs}


class Evicting(Engine):
    """One node a slice, no next slice while two are active (unless none is queued), and
    every node it may dropped when its changes are drained."""

    dropped = 0
    most_held = 0

    def __init__(self, *args, **kwargs):
        self.rows = Rows()
        super().__init__(*args, **{**kwargs, "graft_slice": 1, "window": 2,
                                   "spill": self.rows})

    def drain_changes(self):
        self.rows.keep(self)
        Evicting.dropped += len(self.evict())
        Evicting.most_held = max(Evicting.most_held, len(self.nodes))
        return super().drain_changes()


@pytest.fixture(autouse=True)
def frontier_only(monkeypatch):
    """`run_local` drives an engine that holds the frontier only."""
    monkeypatch.setattr(local, "Engine", Evicting)
    Evicting.dropped = Evicting.most_held = 0


def local_fan_out(n):
    monkeypatch = pytest.MonkeyPatch()
    with monkeypatch.context() as patch:
        patch.setattr(local, "Engine", Engine)
        return dynamics.fan_out_wf(n=n)


def test_local_runs_drop_what_succeeded():
    assert dynamics.fan_out_wf(n=30) == local_fan_out(30)
    assert Evicting.dropped >= 30
    assert Evicting.most_held < 15  # of 32 nodes: the window, and what is not yet dropped


def test_a_map_reads_its_dropped_items_back():
    assert cf.map_many(n=200) == sum(i * i for i in range(200))
    assert Evicting.dropped >= 200


def step(engine, rows):
    """What a driver does after each call: keep the outputs of what may go, then drop it."""
    rows.keep(engine)
    engine.drain_changes()
    return engine.evict()


def fan(n):
    children = [node(f"c{i}", {"x": val(i)}) for i in range(n)]
    return graph(children, outputs={"o0": (INTS, {"list": [ref(f"c{i}") for i in range(n)]})})


def top():
    return graph([node("d", kind="dynamic", outputs={"o0": INTS})],
                 outputs={"o0": (INTS, ref("d"))})


def windowed(slice_=5, window=10):
    rows = Rows()
    engine = Engine(top(), {}, graft_slice=slice_, window=window, spill=rows)
    assert engine.start() == ["d"]
    return engine, rows


def run_all(engine, rows, ready, value=lambda nid: int(nid.rsplit("c", 1)[1]) + 1):
    """Complete every released node in turn, grafting as the window allows; return the most
    nodes the engine held at once."""
    most = 0
    ready = list(ready)
    while ready or engine.can_graft:
        if engine.can_graft:
            ready += engine.graft_more()
        if ready:
            nid = ready.pop(0)
            ready += complete(engine, nid, 1, {"o0": val(value(nid))})
        step(engine, rows)
        most = max(most, len(engine.nodes))
    return most


def test_a_fan_out_is_held_a_window_at_a_time_and_read_back_once():
    engine, rows = windowed()
    ready = graft(engine, "d", 1, fan(100))
    assert len(ready) == 5 and engine.size == 101  # one slice in, the rest still to go
    most = run_all(engine, rows, ready)
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o0": {"list": [val(i + 1) for i in range(100)]}}
    assert most <= 10 + 5 + 2  # the window, a slice past it, the dynamic and the top
    assert engine.evicted == engine.total == 101 and not engine.nodes  # the dynamic too
    # the graph's outputs, in one read: all but the last child, still held when it completes
    assert len(rows.reads) == 1 and len(rows.reads[0]) == 99


def test_without_a_spill_nothing_is_dropped():
    engine = Engine(top(), {}, graft_slice=5, window=10)
    engine.start()
    ready = graft(engine, "d", 1, fan(20))
    run_all(engine, Rows(), ready)
    assert engine.state == ExecutionState.SUCCEEDED and engine.evicted == 0
    assert len(engine.nodes) == 21


def test_a_node_read_by_a_node_held_stays_until_that_one_ended():
    chain = graph([node("c0", {"x": val(0)})]
                  + [node(f"c{i}", {"x": ref(f"c{i - 1}")}) for i in range(1, 6)],
                  outputs={"o0": (INTS, {"list": [ref("c5")]})})
    engine, rows = windowed(slice_=2, window=4)
    ready = graft(engine, "d", 1, chain)
    while ready or engine.can_graft:
        if engine.can_graft:
            ready += engine.graft_more()
        nid = ready.pop(0)
        i = int(nid[-1])
        assert engine.resolved_inputs(nid) == {"x": val(i * 10)}
        ready += complete(engine, nid, 1, {"o0": val((i + 1) * 10)})
        step(engine, rows)
    assert engine.outputs == {"o0": {"list": [val(60)]}}
    # what a node reads stays held until it ended, so nothing was read back (nor c5, the
    # graph's output, held when the graph completes)
    assert rows.reads == []
    assert engine.evicted == 7  # the six and the dynamic


def test_a_later_slice_reading_a_dropped_node_reads_it_back():
    sub = graph([node("c0", {"x": val(1)}), node("c1", {"x": val(2)}),
                 node("c2", {"x": val(3)}), node("c3", {"x": ref("c0")}),
                 node("c4", {"x": val(4)})],
                outputs={"o0": (INTS, {"list": [ref("c3")]})})
    engine, rows = windowed(slice_=1, window=1)
    assert graft(engine, "d", 1, sub) == ["d/c0"]
    assert not engine.can_graft  # d/c0 is queued: the window is full
    complete(engine, "d/c0", 1, {"o0": val(7)})
    assert step(engine, rows) == ["d/c0"]
    for nid in ("d/c1", "d/c2"):
        assert engine.graft_more() == [nid]
        complete(engine, nid, 1, {"o0": val(0)})
        step(engine, rows)
    assert engine.graft_more() == ["d/c3"]  # d/c0 left memory, succeeded: c3 need not wait
    assert rows.reads == [["d/c0"]]  # asked whether it succeeded (rather than comes later)
    assert engine.resolved_inputs("d/c3") == {"x": val(7)}
    assert rows.reads == [["d/c0"], ["d/c0"]]
    complete(engine, "d/c3", 1, {"o0": val(8)})
    step(engine, rows)
    assert engine.graft_more() == ["d/c4"]
    complete(engine, "d/c4", 1, {"o0": val(9)})
    assert engine.outputs == {"o0": {"list": [val(8)]}}


def test_the_window_never_holds_back_what_active_nodes_wait_for():
    """With nothing queued, the next slice goes in past the window: here every active node
    waits for a sub-workflow whose graph is still to be inserted."""
    inner = graph([node(f"i{k}", {"x": val(k)}) for k in range(3)],
                  outputs={"o0": (INTS, {"list": [ref(f"i{k}") for k in range(3)]})})
    sub = graph([node("w", kind="workflow", subgraph=inner, outputs={"o0": INTS})]
                + [node(f"r{k}", {"x": ref("w")}, types={"x": INTS}) for k in range(4)],
                outputs={"o0": (INTS, {"list": [ref(f"r{k}") for k in range(4)]})})
    engine, rows = windowed(slice_=1, window=2)
    ready = graft(engine, "d", 1, sub)
    most = run_all(engine, rows, ready, value=lambda nid: len(nid))
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o0": {"list": [val(4)] * 4}}
    assert most < 12


def test_a_failing_map_names_its_failed_items_with_the_others_dropped():
    @workflow
    def squares(xs: typing.List[int]) -> typing.List[int]:
        return map_task(cf.square)(x=xs)

    rows = Rows()
    engine = Engine(squares.compile(), {"xs": {"val": {"v": list(range(6))}}}, spill=rows)
    [m] = engine.start()
    items = engine.apply(Report.mapped(m, 1, 6))
    for nid in items[:4]:
        complete(engine, nid, 1, {"o0": val(1)})
    assert len(step(engine, rows)) == 4
    fail(engine, items[4], 1, {"type": "ValueError", "message": "no"}, retriable=False)
    assert engine.state == ExecutionState.FAILED
    assert engine.nodes[items[5]].state == NodeState.CANCELLED
    assert f"{m}/4: ValueError: no" in engine.nodes[m].error["message"]


def test_failure_handlers_and_failed_nodes_are_never_dropped():
    engine, rows = windowed()
    ready = graft(engine, "d", 1, fan(3))
    complete(engine, ready[0], 1, {"o0": val(1)})
    fail(engine, ready[1], 1, {"type": "E", "message": "x"}, retriable=False)
    dropped = step(engine, rows)
    assert dropped == [ready[0]]
    assert engine.nodes[ready[1]].state == NodeState.FAILED
