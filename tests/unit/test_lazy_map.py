"""A map creates its items as their turn comes (`sdk.model.scope_map`): at most its
concurrency (and the engine's window) of them not ended at once, each created once, in index
order, so that a map of a million items holds a window of them. Cancels, stops and failure
policies still hold, the items never created are named on the map, and replaying a run's
reports creates the same items."""

import random
import typing

import pytest
from test_engine import complete, fail, snapshot, val
from test_evict import Rows
from test_replay import Recording
from workflows import control_flow as cf

from sdk import map_task, workflow
from sdk.model.engine import Engine
from sdk.model.report import Report
from sdk.model.retry import RetryPolicy
from sdk.model.states import ExecutionState, NodeState

pytestmark = pytest.mark.timeout(60)


@workflow
def squares_by_3(xs: typing.List[int]) -> typing.List[int]:
    return map_task(cf.square, concurrency=3)(x=xs)


@workflow
def squares_unbounded(xs: typing.List[int]) -> typing.List[int]:
    return map_task(cf.square)(x=xs)


@workflow
def half_may_fail(xs: typing.List[int]) -> typing.List[typing.Optional[int]]:
    return map_task(cf.odd_fails, concurrency=2, min_success_ratio=0.5)(x=xs)


@workflow
def flaky_by_4(xs: typing.List[int]) -> typing.List[int]:
    return map_task(cf.flaky, concurrency=4)(x=xs)


class Counting(Recording):
    """An engine that counts how often each node was created (and keeps its reports)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.created: dict[str, int] = {}

    def add(self, run):
        self.created[run.id] = self.created.get(run.id, 0) + 1
        super().add(run)


def opened(wf, n, **kwargs):
    """An engine of `wf` over range(n), its map expanded: (engine, map id, released items)."""
    engine = Counting(wf.compile(), {"xs": {"val": {"v": list(range(n))}}}, **kwargs)
    [m] = engine.start()
    return engine, m, engine.apply(Report.mapped(m, 1, n))


def items_held(engine, m):
    return sorted((nid for nid in engine.nodes if nid.startswith(m + "/")),
                  key=lambda nid: int(nid.rsplit("/", 1)[1]))


def square_of(engine, nid):
    """Item x of a map over range(n) squared (its input binding is item x of that list)."""
    x = int(nid.rsplit("/", 1)[1])
    assert engine.resolved_inputs(nid)["x"]["path"]["steps"] == [["index", x]]
    return {"o0": val(x * x)}


def test_after_expanding_only_concurrency_items_exist():
    engine, m, ready = opened(squares_by_3, 1000)
    assert ready == [f"{m}/0", f"{m}/1", f"{m}/2"]
    assert items_held(engine, m) == ready
    progress = engine.nodes[m].map
    assert (progress.items, progress.created, progress.running) == (1000, 3, 3)
    assert engine.total == 1001  # the map and its items, created or not

    # An item's end creates the next one, and only it.
    assert complete(engine, ready[1], 1, square_of(engine, ready[1])) == [f"{m}/3"]
    assert len(items_held(engine, m)) == 4
    assert (progress.created, progress.succeeded, progress.running) == (4, 1, 3)


def test_the_engines_window_bounds_a_map_without_concurrency():
    engine, m, ready = opened(squares_unbounded, 100, window=5)
    assert len(ready) == len(items_held(engine, m)) == 5


def test_a_map_run_in_any_order_creates_each_item_once_and_keeps_index_order():
    rng = random.Random(7)
    engine, m, ready = opened(squares_by_3, 200)
    most = 0
    while ready:
        nid = ready.pop(rng.randrange(len(ready)))
        ready += complete(engine, nid, 1, square_of(engine, nid))
        most = max(most, engine.nodes[m].map.running if m in engine.nodes else 0)
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o0": {"list": [val(x * x) for x in range(200)]}}
    assert most <= 3
    assert set(engine.created.values()) == {1} and len(engine.created) == 201


def test_with_spill_the_engine_holds_a_window_of_items():
    rows = Rows()
    engine = Engine(squares_unbounded.compile(), {"xs": {"val": {"v": list(range(300))}}},
                    window=10, spill=rows)
    [m] = engine.start()
    ready = engine.apply(Report.mapped(m, 1, 300))
    most = 0
    while ready:
        nid = ready.pop(0)
        ready += complete(engine, nid, 1, square_of(engine, nid))
        rows.keep(engine)
        engine.drain_changes()
        engine.evict()
        most = max(most, len(engine.nodes))
    assert engine.outputs == {"o0": {"list": [val(x * x) for x in range(300)]}}
    assert most <= 12  # the map, its window of items, one just ended


def test_a_cancel_mid_map_creates_no_more_items_and_names_those_never_started():
    engine, m, ready = opened(squares_by_3, 50)
    for nid in ready[:2]:
        ready += complete(engine, nid, 1, square_of(engine, nid))
    held = set(engine.nodes)
    assert engine.cancel()
    run = engine.nodes[m]
    assert run.state == NodeState.ABORTED
    assert run.error["never_started"] == {"first": 5, "count": 45, "items": 50,
                                          "reason": "the execution was cancelled"}
    assert "items 5 to 49 (45 of 50) never started: the execution was cancelled" \
        in run.error["message"]
    assert {engine.nodes[nid].state for nid in ready[2:]} == {NodeState.CANCELLED}
    # A late report of a cancelled item creates nothing.
    assert complete(engine, ready[2], 1, square_of(engine, ready[2])) is None
    assert set(engine.nodes) == held and engine.total == len(held)


def test_a_stop_elsewhere_ends_the_map_and_names_what_never_started():
    @workflow
    def map_and_failing(xs: typing.List[int]) -> typing.List[int]:
        cf.odd_fails(x=1)
        return map_task(cf.square, concurrency=2)(x=xs)

    spec = map_and_failing.compile()
    engine = Engine(spec, {"xs": {"val": {"v": list(range(10))}}},
                    RetryPolicy(user_retries=False))
    ready = engine.start()
    m = next(nid for nid in ready if engine.nodes[nid].spec.kind == "map")
    other = next(nid for nid in ready if nid != m)
    items = engine.apply(Report.mapped(m, 1, 10))
    fail(engine, other, 1, {"type": "ValueError", "message": "odd"}, retriable=False)
    assert engine.state == ExecutionState.FAILED
    assert engine.nodes[m].state == NodeState.ABORTED
    assert engine.nodes[m].error["never_started"]["first"] == 2
    assert "FAIL_IMMEDIATELY" in engine.nodes[m].error["never_started"]["reason"]
    assert {engine.nodes[nid].state for nid in items} == {NodeState.CANCELLED}


def test_min_success_ratio_counts_the_items_not_created_yet():
    engine, m, ready = opened(half_may_fail, 10, policy=RetryPolicy(user_retries=False))
    failures = 0
    while engine.nodes[m].state == NodeState.RUNNING:
        nid = ready.pop(0)
        ready += fail(engine, nid, 1, {"type": "ValueError", "message": "no"}) or []
        failures += 1
        if failures <= 5:  # 5 of 10 may fail: the 5 not created yet may still succeed
            assert engine.nodes[m].state == NodeState.RUNNING
    assert failures == 6
    run = engine.nodes[m]
    assert run.state == NodeState.FAILED
    assert run.error["message"].startswith(f"map {m!r}: 6 of 10 items failed, at most 5 may: ")
    assert run.error["never_started"] == {"first": 7, "count": 3, "items": 10,
                                          "reason": "the map failed first"}
    assert run.error["message"].endswith(
        "(items 7 to 9 (3 of 10) never started: the map failed first)")
    assert engine.nodes[f"{m}/6"].state == NodeState.CANCELLED
    assert len(items_held(engine, m)) == 7


def test_a_tolerant_map_creates_every_item_and_keeps_none_for_the_failed():
    engine, m, ready = opened(half_may_fail, 10, policy=RetryPolicy(user_retries=False))
    while ready:
        nid = ready.pop(0)
        x = int(nid.rsplit("/", 1)[1])
        if x % 2:
            ready += fail(engine, nid, 1, {"type": "ValueError", "message": "odd"}) or []
        else:
            ready += complete(engine, nid, 1, square_of(engine, nid))
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o0": {"list": [val(None if x % 2 else x * x)
                                              for x in range(10)]}}
    assert "never_started" not in (engine.nodes[m].error or {})


def run_some(engine, ready, steps, rng):
    """Take `steps` reports in a random order: items fail their first attempt (a retry) or
    succeed. Return what is still ready."""
    for _ in range(steps):
        nid = ready.pop(rng.randrange(len(ready)))
        run = engine.nodes[nid]
        if run.attempt == 1:
            ready += fail(engine, nid, 1, {"type": "Flaky", "message": "first"})
        else:
            ready += complete(engine, nid, run.attempt, square_of(engine, nid))
    return ready


def test_a_replay_of_a_maps_reports_creates_the_same_items_and_goes_on_alike():
    rng = random.Random(3)
    engine, _, ready = opened(flaky_by_4, 40)
    ready = run_some(engine, ready, 30, rng)

    rebuilt = Counting(flaky_by_4.compile(), {"xs": {"val": {"v": list(range(40))}}})
    rebuilt.replay(engine.reports)
    assert snapshot(rebuilt) == snapshot(engine)
    assert rebuilt.created == engine.created  # each once, the same ones
    assert set(rebuilt.created.values()) == {1}
    assert rebuilt.total == engine.total and rebuilt.active == engine.active
    queued = {nid for nid, r in rebuilt.nodes.items() if r.state == NodeState.QUEUED}
    assert queued == set(ready)

    # Both go on alike to the same end, each item created once.
    again = list(ready)
    for e, r in ((engine, ready), (rebuilt, again)):
        while r:
            nid = r.pop(0)
            run = e.nodes[nid]
            if run.attempt == 1:
                r += fail(e, nid, 1, {"type": "Flaky", "message": "first"})
            else:
                r += complete(e, nid, run.attempt, square_of(e, nid))
    assert snapshot(rebuilt) == snapshot(engine)
    assert engine.outputs == {"o0": {"list": [val(x * x) for x in range(40)]}}
    assert set(rebuilt.created.values()) == {1} and len(rebuilt.created) == 41


def test_local_runs_of_a_concurrency_limited_map_give_the_same_outputs():
    assert squares_by_3(xs=list(range(100))) == [x * x for x in range(100)]
    assert half_may_fail(xs=[2, 4, 6, 1]) == [2, 4, 6, None]


def test_a_replay_with_a_narrower_window_creates_the_items_its_reports_name():
    """A run whose window was 8 (an older scheduler), replayed by an engine of window 2: the
    reports of items 2 to 7, created in that run, are not lost."""
    engine, m, ready = opened(squares_unbounded, 20, window=8)
    for nid in ready[2:7]:
        complete(engine, nid, 1, square_of(engine, nid))
    rebuilt = Counting(squares_unbounded.compile(), {"xs": {"val": {"v": list(range(20))}}},
                       window=2)
    rebuilt.replay(engine.reports)
    assert [rebuilt.nodes[f"{m}/{i}"].state for i in range(2, 7)] == [NodeState.SUCCEEDED] * 5
    assert rebuilt.nodes[m].map.succeeded == 5 and rebuilt.total == engine.total == 21
    assert set(rebuilt.created.values()) == {1}
    # The items created in that run and not reported yet come in the replay's window.
    assert max(int(nid.rsplit("/", 1)[1]) for nid in rebuilt.created if nid != m) == 6
