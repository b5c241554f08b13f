"""Rebuilding an engine from the reports its run took (`Engine.replay`), as the scheduler does
for an execution it no longer holds: a replay inserts the slices of a graph its reports name,
drops what settles as it goes, and the slicing the engine was built with holds again after."""

from test_engine import complete, fail, graft, graph, node, ref, snapshot, val

from sdk.model.engine import REPLAY_EVICT_EVERY, Engine
from sdk.model.errors import SpecError
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


def test_a_replay_inserts_the_slices_its_reports_name_and_no_more():
    run = Recording(two_dynamics(), {}, graft_slice=2)
    run.start()
    released = graft(run, "d", 1, fan(5))
    run.graft_more()
    complete(run, "d/c3", 1, {"o0": val(1)})  # a node of the second slice

    rebuilt = Engine(two_dynamics(), {}, graft_slice=2)
    rebuilt.replay(run.reports)
    assert rebuilt.grafting and len(rebuilt.nodes) == 6  # d, e and c0-c3: c4 is still to go
    assert rebuilt.nodes["d/c3"].state == NodeState.SUCCEEDED
    assert {nid for nid, r in rebuilt.nodes.items() if r.state == NodeState.QUEUED} \
        == {*released, "d/c2"}
    assert snapshot(rebuilt) == snapshot(run)

    # A node the run had inserted and sent, with no report yet: reached on demand.
    assert not rebuilt.reach("d/c3") and rebuilt.reach("d/c4")
    assert rebuilt.nodes["d/c4"].state == NodeState.QUEUED and not rebuilt.grafting
    assert not rebuilt.reach("d/nowhere") and not rebuilt.reach("x/c1")
    run.graft_more()
    assert snapshot(rebuilt) == snapshot(run)


def test_a_replay_drops_the_nodes_that_settle_as_it_goes():
    n = 3 * REPLAY_EVICT_EVERY
    stored: dict[str, dict] = {}

    def spill(ids):
        return {nid: stored[nid] for nid in ids if nid in stored}

    run = Recording(two_dynamics(), {}, graft_slice=500, spill=spill)
    run.start()
    ready = graft(run, "d", 1, fan(n))
    while len(stored) < n - 10:  # all but ten children of d done, as a scheduler runs them
        ready += run.graft_more()
        nid = ready.pop(0)
        ready += complete(run, nid, 1, {"o0": val(1)})
        stored[nid] = {"o0": val(1)}
        run.drain_changes()
        run.evict()

    held: list[int] = []
    rebuilt = Engine(two_dynamics(), {}, graft_slice=500, spill=spill)

    def reports():
        for report in run.reports:
            held.append(len(rebuilt.nodes))
            yield report

    rebuilt.replay(reports())
    assert max(held) <= REPLAY_EVICT_EVERY + 2 * 500 + 10  # run without eviction: n
    assert rebuilt.evicted >= n - 10 - REPLAY_EVICT_EVERY
    rebuilt.drain_changes()
    rebuilt.evict()
    assert snapshot(rebuilt) == snapshot(run)

    # Both go on alike to the same end: the outputs of the dropped nodes are read back.
    for engine in (run, rebuilt):
        ready = [nid for nid, r in engine.nodes.items() if r.state == NodeState.QUEUED]
        while ready or engine.grafting:
            ready += engine.graft_more()
            nid = ready.pop(0)
            if nid == "e":
                ready += graft(engine, "e", 1, fan(1))
            else:
                ready += complete(engine, nid, 1, {"o0": val(1)})
                stored[nid] = {"o0": val(1)}
    assert rebuilt.state == run.state == ExecutionState.SUCCEEDED
    assert rebuilt.outputs == run.outputs


def test_a_replay_skips_validating_a_sub_graph_its_event_says_was_valid(monkeypatch):
    from sdk.model import scopes

    checked, invalid = [], []

    def validate(g, where):
        checked.append(where)
        if invalid:
            raise SpecError(f"{where}: invalid")

    monkeypatch.setattr(scopes, "validate", validate)
    run = Recording(two_dynamics(), {})
    run.start()
    assert graft(run, "d", 1, fan(2)) == ["d/c0", "d/c1"]
    assert run.drain_validated() and not run.drain_validated() and len(checked) == 1
    complete(run, "d/c0", 1, {"o0": val(1)})
    assert not run.drain_validated()

    recorded = Report.grafted("d", 1, fan(2), extra={"valid": True})
    Engine(two_dynamics(), {}).replay([recorded])
    assert len(checked) == 1  # replayed with its event's word: not validated again
    Engine(two_dynamics(), {}).replay([Report.grafted("d", 1, fan(2))])
    assert len(checked) == 2  # an event from before `valid` was recorded: validated

    # An invalid sub-graph is not said valid; outside a replay a report's own `valid` counts
    # for nothing.
    invalid.append(True)
    for extra in ({}, {"valid": True}):
        live = Engine(two_dynamics(), {})
        live.start()
        live.apply(Report.grafted("d", 1, fan(2), extra=extra))
        assert live.nodes["d"].state == NodeState.FAILED and not live.drain_validated()
    assert len(checked) == 4
