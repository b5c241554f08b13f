"""Rebuilding an engine from the reports its run took (`Engine.replay`), as the scheduler does
for an execution it no longer holds: graphs go in whole during the replay, and the slicing
the engine was built with holds again after."""

from test_engine import complete, fail, graft, graph, node, ref, snapshot, val

from sdk.model.engine import Engine
from sdk.model.report import Report
from sdk.model.states import ExecutionState, NodeState

INT = {"t": "int"}
INTS = {"t": "list", "of": INT}


class Recording(Engine):
    """An engine that keeps the reports it took, in order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reports: list[Report] = []

    def apply(self, report):
        ready = super().apply(report)
        if ready is not None:
            self.reports.append(report)
        return ready


def two_dynamics():
    """`d`, then `e` reading `d`'s output: each reports a fan-out of children."""
    return graph([node("d", kind="dynamic", outputs={"o0": INTS}),
                  node("e", {"x": ref("d")}, types={"x": INTS}, kind="dynamic",
                       outputs={"o0": INTS})],
                 outputs={"o0": (INTS, ref("e"))})


def fan(n):
    children = [node(f"c{i}", {"x": val(i)}, retries=1) for i in range(n)]
    return graph(children, outputs={"o0": (INTS, {"list": [ref(f"c{i}") for i in range(n)]})})


def run_children(engine, parent, ready):
    """Complete every child of `parent` (the first one after a retried failure), inserting
    the next slice as the engine allows; return what else became ready."""
    ready, others = list(ready), []
    while ready or engine.grafting:
        if engine.grafting:
            ready += engine.graft_more()
        nid = ready.pop(0)
        if not nid.startswith(parent + "/"):
            others.append(nid)
        elif nid == f"{parent}/c0" and engine.nodes[nid].attempt == 1:
            ready += fail(engine, nid, 1, {"type": "Flaky"})
        else:
            ready += complete(engine, nid, engine.nodes[nid].attempt, {"o0": val(1)})
    return others


def test_a_replay_of_a_sliced_runs_reports_gives_its_state_and_slices_after():
    run = Recording(two_dynamics(), {}, graft_slice=2)
    assert run.start() == ["d"]
    assert run_children(run, "d", graft(run, "d", 1, fan(5))) == ["e"]

    rebuilt = Engine(two_dynamics(), {}, graft_slice=2)
    rebuilt.replay(run.reports)
    assert snapshot(rebuilt) == snapshot(run)
    assert rebuilt.nodes["d/c0"].history == run.nodes["d/c0"].history
    assert rebuilt.active == run.active and rebuilt.queued == run.queued

    # The constructor's slicing holds after the replay: both go on alike.
    assert graft(rebuilt, "e", 1, fan(5)) == graft(run, "e", 1, fan(5)) == ["e/c0", "e/c1"]
    assert rebuilt.grafting and run.grafting
    run_children(rebuilt, "e", ["e/c0", "e/c1"])
    run_children(run, "e", ["e/c0", "e/c1"])
    assert snapshot(rebuilt) == snapshot(run)
    assert rebuilt.state == ExecutionState.SUCCEEDED


def test_a_replay_inserts_every_graph_whole_so_later_reports_find_their_nodes():
    run = Recording(two_dynamics(), {}, graft_slice=2)
    run.start()
    released = graft(run, "d", 1, fan(5))
    run.graft_more()
    complete(run, "d/c3", 1, {"o0": val(1)})  # a node of the second slice

    rebuilt = Engine(two_dynamics(), {}, graft_slice=2)
    rebuilt.replay(run.reports)
    assert not rebuilt.grafting and len(rebuilt.nodes) == 7
    assert rebuilt.nodes["d/c3"].state == NodeState.SUCCEEDED
    assert {nid for nid, r in rebuilt.nodes.items() if r.state == NodeState.QUEUED} \
        == {*released, "d/c2", "d/c4"}
