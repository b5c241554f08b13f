"""Large graphs inserted a slice at a time (`Engine.graft_slice`): the scheduler's engines do
it so that no turn of its loop costs in proportion to a whole sub-graph. Outcomes must be the
same as with the graph inserted whole, whatever comes between the slices.

Besides the tests below, every local-run test of the control-flow, controls, local, gates and
failure-model suites runs again here with an engine that inserts one node a slice."""

import dataclasses

import pytest
from test_control_flow import *  # noqa: F403  (run again, one node a slice)
from test_controls import *  # noqa: F403
from test_engine import complete, fail, graft, graph, node, ref, val
from test_failure_model import *  # noqa: F403
from test_gates import *  # noqa: F403
from test_local import *  # noqa: F403
from workflows import dynamics

from sdk.model.engine import Engine
from sdk.model.spec import GraphSpec
from sdk.model.states import ExecutionState, NodeState
from sdk.runtime import local

INT = {"t": "int"}
INTS = {"t": "list", "of": INT}


class Spy(Engine):
    """An engine that inserts one node a slice and counts the slices it was asked for."""

    slices = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "graft_slice": 1})

    def graft_more(self):
        Spy.slices += 1
        return super().graft_more()


@pytest.fixture(autouse=True)
def one_node_a_slice(monkeypatch):
    """`run_local` drives an engine that inserts one node a slice."""
    monkeypatch.setattr(local, "Engine", Spy)
    Spy.slices = 0


def test_local_runs_drive_the_slices_to_the_same_result():
    assert dynamics.fan_out_wf(n=6) == 55
    assert Spy.slices >= 5  # the six children, one a slice after the first


def fan(n, *, after=None):
    """A dynamic's sub-graph: n children `c<i>` (each adding 1 to its index), its output the
    list of theirs; with `after` {i: j}, child i also runs after child j."""
    children = [node(f"c{i}", {"x": val(i)}) for i in range(n)]
    for i, j in (after or {}).items():
        children[i] = dataclasses.replace(children[i], after=(f"c{j}",))
    return graph(children, outputs={"o0": (INTS, {"list": [ref(f"c{i}") for i in range(n)]})})


def top():
    return graph([node("d", kind="dynamic", outputs={"o0": INTS})],
                 outputs={"o0": (INTS, ref("d"))})


def sliced_engine(size=2):
    engine = Engine(top(), {}, graft_slice=size)
    assert engine.start() == ["d"]
    return engine


def finish(engine, released):
    """Complete every released child, inserting the next slice after each."""
    while released or engine.grafting:
        if engine.grafting:
            released = released + engine.graft_more()
        nid = released.pop(0)
        released += complete(engine, nid, 1, {"o0": val(int(nid.rsplit("c", 1)[1]) + 1)})


def test_a_sub_graph_goes_in_a_slice_at_a_time_and_ends_as_if_whole():
    engine = sliced_engine(2)
    released = graft(engine, "d", 1, fan(5))
    assert released == ["d/c0", "d/c1"] and engine.grafting
    assert sorted(engine.nodes) == ["d", "d/c0", "d/c1"]
    assert engine.graft_more() == ["d/c2", "d/c3"]
    finish(engine, [*released, "d/c2", "d/c3"])
    assert not engine.grafting and engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o0": {"list": [val(i + 1) for i in range(5)]}}


def test_a_node_of_a_later_slice_whose_source_already_succeeded_is_ready_at_once():
    sub = graph([node("a", {"x": val(1)}), node("b", {"x": val(2)}), node("c", {"x": ref("a")})],
                outputs={"o0": (INTS, {"list": [ref("b"), ref("c")]})})
    engine = sliced_engine(2)
    assert graft(engine, "d", 1, sub) == ["d/a", "d/b"]
    assert complete(engine, "d/a", 1, {"o0": val(5)}) == []
    assert engine.graft_more() == ["d/c"]
    assert engine.resolved_inputs("d/c") == {"x": val(5)}


def test_a_node_waiting_for_a_later_one_brings_the_rest_in_with_its_slice():
    engine = sliced_engine(2)
    released = graft(engine, "d", 1, fan(5, after={0: 4}))  # c0 runs after c4
    assert not engine.grafting and len(engine.nodes) == 6
    assert "d/c0" not in released and engine.nodes["d/c0"].waiting == 1
    finish(engine, released)
    assert engine.state == ExecutionState.SUCCEEDED


def test_a_failure_while_grafting_skips_the_nodes_not_yet_in():
    engine = sliced_engine(2)
    graft(engine, "d", 1, fan(6))
    assert fail(engine, "d/c0", 1, {"type": "Boom"}, retriable=False) == []
    assert not engine.grafting and len(engine.nodes) == 7
    # As inserted whole: released with the graft, given up at the failure.
    assert {engine.nodes[f"d/c{i}"].state for i in range(1, 6)} == {NodeState.CANCELLED}
    assert engine.state == ExecutionState.FAILED and engine.failed == ["d/c0"]


def test_a_cancel_while_grafting_ends_the_nodes_in_and_never_inserts_the_rest():
    engine = sliced_engine(2)
    graft(engine, "d", 1, fan(6))
    assert engine.cancel()
    assert not engine.grafting and engine.size == len(engine.nodes) == 3
    states = {nid: run.state for nid, run in engine.nodes.items()}
    assert states == {"d": NodeState.ABORTED, "d/c0": NodeState.CANCELLED,
                      "d/c1": NodeState.CANCELLED}
    assert engine.graft_more() == [] and engine.state == ExecutionState.ABORTED


def test_a_slice_size_of_none_inserts_whole():
    engine = Engine(top(), {})
    engine.start()
    assert len(graft(engine, "d", 1, fan(50))) == 50 and not engine.grafting


def test_the_top_level_graph_goes_in_slices_too():
    spec = GraphSpec("g", {}, [node(f"c{i}", {"x": val(i)}) for i in range(3)],
                     fan(3).outputs)
    engine = Engine(spec, {}, graft_slice=1)
    assert engine.start() == ["c0"] and engine.grafting
    finish(engine, ["c0"])
    assert engine.outputs == {"o0": {"list": [val(1), val(2), val(3)]}}



def test_size_counts_the_nodes_not_yet_inserted():
    engine = sliced_engine(2)
    assert engine.size == 1
    graft(engine, "d", 1, fan(5))
    assert len(engine.nodes) == 3 and engine.size == 6
    engine.graft_more()
    assert len(engine.nodes) == 5 and engine.size == 6


def test_inserting_a_graph_does_not_walk_an_output_that_lists_every_node(monkeypatch):
    """The output bindings are rebased with their resolution, when the graph completes: the
    slice that ends an insert used to rebuild a list of every node's output (seconds of the
    loop at 1,000,000 nodes)."""
    from sdk.model import bindings

    walked = []
    transform = bindings.transform

    def counted(b, leaf):
        walked.append(1)
        return transform(b, leaf)

    monkeypatch.setattr(bindings, "transform", counted)
    engine = sliced_engine(100)
    released = graft(engine, "d", 1, fan(1000))
    while engine.grafting:
        released += engine.graft_more()
    assert len(released) == 1000 and len(walked) < 10
    finish(engine, released)
    assert engine.outputs == {"o0": {"list": [val(i + 1) for i in range(1000)]}}
