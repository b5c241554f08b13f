"""Large outputs left to the driver to gather into one stored value (`Engine(gather_above=)`,
`sdk.model.gather`, `sdk.values.gathered`): the node stays RUNNING until `Report.gathered`
names the stored list, which reads as the list the engine would have built; replays take the
decisions the events recorded, whatever the threshold is now.

Besides the tests below, every local-run test of the control-flow and local suites runs again
here with an engine that gathers every output list of more than one item (and drops every node
it may, reading outputs back as the scheduler does from its rows)."""

import dataclasses
import json
import typing

import pytest
from test_control_flow import *  # noqa: F403  (run again, every list output gathered)
from test_engine import complete, fail, graft, graph, node, ref, val
from test_evict import Evicting, Rows
from test_local import *  # noqa: F403
from workflows import control_flow as cf
from workflows import dynamics

from sdk import map_task, workflow
from sdk.model import spec_lazy
from sdk.model.engine import Engine
from sdk.model.gather import ROOT
from sdk.model.report import Outcome, Report
from sdk.model.spec import GraphSpec, OutputSpec
from sdk.model.states import ExecutionState, NodeState
from sdk.runtime import local
from sdk.values.gathered import ListText, gather_outputs
from sdk.values.literals import materialize, to_ref
from sdk.values.store import MemoryStore
from sdk.wire import reports

INT = {"t": "int"}
INTS = {"t": "list", "of": INT}


class Gathering(Evicting):
    """`Evicting`, and every output list of more than one item left to gather."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "gather_above": 1})


@pytest.fixture(autouse=True)
def gather_everything(monkeypatch):
    """`run_local` drives an engine that gathers every list output of two items or more."""
    monkeypatch.setattr(local, "Engine", Gathering)
    Evicting.dropped = Evicting.most_held = 0


def fan(n, name="fan", extra=None):
    """A dynamic's sub-graph: n children, its output the list of theirs (and `extra`)."""
    children = [node(f"c{i}") for i in range(n)]
    outputs = {"o0": (INTS, {"list": [ref(f"c{i}") for i in range(n)]})}
    if extra is not None:
        outputs["o1"] = extra
    return graph(children, outputs=outputs, name=name)


def top(extra_outputs=False):
    types = {"o0": INTS, "o1": INT} if extra_outputs else {"o0": INTS}
    return graph([node("dyn", kind="dynamic", outputs=types),
                  node("total", {"xs": ref("dyn")}, types={"xs": INTS})],
                 outputs={"o": (INT, ref("total")), "xs": (INTS, ref("dyn"))})


def run_fan(engine, n, sub=None, record=None):
    """Start, graft `sub` (default `fan(n)`) and complete every child; return the events as
    the scheduler records them (a report's `gathers` in its extra)."""
    events = []

    def apply(report):
        released = engine.apply(report)
        started = engine.drain_gathers()
        if released is not None:
            events.append(dataclasses.replace(report, extra={"gathers": started})
                          if started else report)
        return released

    engine.start()
    apply(Report.grafted("dyn", 1, sub or fan(n)))
    for i in range(n):
        apply(Report.values(f"dyn/c{i}", 1, {"o0": val(i * i)}))
    if record is not None:
        record.extend(events)
    return apply


def test_a_large_output_list_is_left_to_gather_and_completes_the_node_with_a_reference():
    store = MemoryStore()
    engine, events = Engine(top(), {}, gather_above=5), []
    apply = run_fan(engine, 8, record=events)
    dyn = engine.nodes["dyn"]
    [gather] = engine.gathers
    assert dyn.state == NodeState.RUNNING and engine.state == ExecutionState.RUNNING
    assert (gather.node, gather.attempt, gather.sizes, gather.ready) == ("dyn", 1, {"o0": 8}, {})
    assert events[-1].extra == {"gathers": {"dyn": ["o0"]}}  # the report that began it
    assert list(gather.items("o0"))[:2] == [ref("dyn/c0"), ref("dyn/c1")]
    outputs = gather_outputs(gather, engine.resolve_items, store, slice_items=3)
    assert outputs == {"o0": {"val": to_ref([i * i for i in range(8)], store, limit=0)}}
    assert apply(Report.gathered("dyn", 1, outputs)) == ["total"]
    assert dyn.state == NodeState.SUCCEEDED and dyn.outputs == outputs
    assert engine.resolved_inputs("total") == {"xs": outputs["o0"]}
    assert apply(Report.gathered("dyn", 1, outputs)) is None  # a duplicate: nothing waits
    complete(engine, "total", 1, {"o0": val(140)})
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o": val(140), "xs": outputs["o0"]}
    assert materialize(engine.outputs["xs"], store) == [i * i for i in range(8)]


def test_a_short_list_is_built_as_before():
    engine = Engine(top(), {}, gather_above=8)
    run_fan(engine, 8)
    assert engine.gathers == [] and engine.drain_gathers() == {}
    assert engine.nodes["dyn"].outputs == {"o0": {"list": [val(i * i) for i in range(8)]}}


def test_the_other_outputs_are_resolved_when_the_gather_begins():
    store = MemoryStore()
    engine = Engine(top(extra_outputs=True), {}, gather_above=2)
    apply = run_fan(engine, 4, sub=fan(4, extra=(INT, ref("c3"))))
    [gather] = engine.gathers
    assert gather.sizes == {"o0": 4} and gather.ready == {"o1": val(9)}
    apply(Report.gathered("dyn", 1, gather_outputs(gather, engine.resolve_items, store)))
    assert engine.nodes["dyn"].outputs["o1"] == val(9)


def test_a_gather_of_the_executions_own_outputs():
    store = MemoryStore()
    spec = graph([node(f"c{i}") for i in range(4)],
                 outputs={"xs": (INTS, {"list": [ref(f"c{i}") for i in range(4)]})})
    engine = Engine(spec, {}, gather_above=3)
    engine.start()
    for i in range(4):
        complete(engine, f"c{i}", 1, {"o0": val(i)})
    [gather] = engine.gathers
    assert (gather.node, gather.attempt) == (ROOT, 0)
    assert engine.drain_gathers() == {ROOT: ["xs"]}
    assert engine.state == ExecutionState.RUNNING and not engine.done
    outputs = gather_outputs(gather, engine.resolve_items, store)
    assert engine.apply(Report.gathered(ROOT, 0, outputs)) == []
    assert engine.state == ExecutionState.SUCCEEDED
    assert materialize(engine.outputs["xs"], store) == [0, 1, 2, 3]


def test_gathered_outputs_that_do_not_match_fail_the_node_as_data():
    engine = Engine(top(), {}, gather_above=2)
    apply = run_fan(engine, 4)
    apply(Report.gathered("dyn", 1, {"other": val([])}))
    assert engine.nodes["dyn"].state == NodeState.FAILED
    assert engine.nodes["dyn"].error["type"] == "OutputMismatch"
    assert engine.state == ExecutionState.FAILED


@workflow
def tolerant_squares(xs: typing.List[int]) -> typing.List[typing.Optional[int]]:
    return map_task(cf.square, min_success_ratio=0.5)(x=xs)


def test_a_maps_items_are_gathered_with_none_for_those_that_failed():
    store = MemoryStore()
    spec = tolerant_squares.compile()
    [map_id] = [n.id for n in spec.nodes]
    engine = Engine(spec, {"xs": val(list(range(5)))}, gather_above=3)
    engine.start()
    items = engine.apply(Report.mapped(map_id, 1, 5))
    for i, item in enumerate(items):
        if i == 2:
            fail(engine, item, 1, {"type": "ValueError"}, retriable=False)
        else:
            complete(engine, item, 1, {"o0": val(i * i)})
    [gather] = engine.gathers
    assert gather.node == map_id and gather.sizes == {"o0": 5}
    engine.apply(Report.gathered(map_id, 1, gather_outputs(gather, engine.resolve_items,
                                                           store)))
    assert materialize(engine.outputs["o0"], store) == [0, 1, None, 9, 16]


def test_a_cancel_gives_a_gather_up_and_its_late_report_changes_nothing():
    store = MemoryStore()
    engine = Engine(top(), {}, gather_above=2)
    apply = run_fan(engine, 4)
    [gather] = engine.gathers
    outputs = gather_outputs(gather, engine.resolve_items, store)
    assert engine.cancel() and engine.gathers == []
    assert engine.nodes["dyn"].state == NodeState.ABORTED
    assert apply(Report.gathered("dyn", 1, outputs)) is None


def test_items_dropped_from_memory_are_read_back_a_slice_at_a_time():
    rows = Rows()
    store = MemoryStore()
    engine = Engine(top(), {}, gather_above=5, spill=rows)
    engine.start()
    graft(engine, "dyn", 1, fan(12))
    for i in range(12):
        complete(engine, f"dyn/c{i}", 1, {"o0": val(i)})
        engine.drain_changes()
        rows.keep(engine)
        engine.evict()
    assert not any(nid.startswith("dyn/c") for nid in engine.nodes)
    [gather] = engine.gathers
    outputs = gather_outputs(gather, engine.resolve_items, store, slice_items=5)
    assert [len(read) for read in rows.reads] == [5, 5, 2]
    assert materialize(outputs["o0"], store) == list(range(12))


def replay(events, **options):
    engine = Engine(top(), {}, **options)
    encoded = [reports.decode(r.node, r.attempt, r.outcome.value, json.loads(json.dumps(
        reports.encode(r, subgraph_key="k"))), lambda key: fan(6)) for r in events]
    engine.replay(encoded)
    return engine


def test_a_replay_takes_the_recorded_decisions_whatever_the_threshold_is_now():
    store = MemoryStore()
    events = []
    apply = run_fan(Engine(top(), {}, gather_above=3), 6, record=events)
    assert events[-1].extra == {"gathers": {"dyn": ["o0"]}}
    for options in ({}, {"gather_above": 3}, {"gather_above": 100}):
        again = replay(events, **options)
        [gather] = again.gathers  # the same gather, pending again
        assert gather.sizes == {"o0": 6} and again.nodes["dyn"].state == NodeState.RUNNING
        assert again.drain_gathers() == {}  # begun by the events replayed: recorded there
        assert "gathers" not in json.dumps(again.nodes["dyn/c5"].history)
    outputs = gather_outputs(gather, again.resolve_items, store)
    events.append(Report.gathered("dyn", 1, outputs))
    ended = replay(events, gather_above=100)
    assert ended.gathers == [] and ended.nodes["dyn"].outputs == outputs
    # A run that built its list inline is replayed inline, even by an engine that gathers.
    inline = []
    run_fan(Engine(top(), {}), 6, record=inline)
    assert not any(r.extra for r in inline)
    again = replay(inline, gather_above=1)
    assert again.gathers == [] and again.nodes["dyn"].state == NodeState.SUCCEEDED
    del apply


def test_a_gathered_report_round_trips_as_an_event():
    report = Report.gathered("dyn", 2, {"o0": {"val": {"u": "values/" + "a" * 64}}})
    body = json.loads(json.dumps(reports.encode(report)))
    assert body == {"outputs": report.outputs}
    back = reports.decode("dyn", 2, "gathered", body, lambda key: None)
    assert back.outcome == Outcome.GATHERED and back.outputs == report.outputs


def test_the_gathered_list_is_the_value_to_ref_stores():
    store = MemoryStore()
    value = [{"b": 1, "a": [1.5, None, "x"]}, "é", 3, float("nan")]
    text = ListText()
    text.add(value[:1])
    text.add([])
    text.add(value[1:])
    assert text.put(store) == {"val": to_ref(value, store, limit=0)}


def test_a_large_specs_output_list_is_read_one_item_at_a_time(monkeypatch):
    monkeypatch.setattr(spec_lazy, "LAZY_CHARS", 1000)
    spec = fan(80, extra=(INT, ref("c3")))
    spec = GraphSpec(spec.name, {}, spec.nodes, [*spec.outputs, OutputSpec(
        "o2", INTS, {"list": []})])
    loaded = GraphSpec.loads(spec.dumps().replace(",", ", "))
    assert spec_lazy.is_lazy(loaded)
    outs = loaded.outputs
    assert outs.list_sizes() == {"o0": 80, "o2": 0}
    assert list(outs.list_items("o0")) == spec.outputs[0].binding["list"]
    assert list(outs.list_items("o2")) == []
    assert outs.without({"o0", "o2"}) == [spec.outputs[1]]
    assert list(outs) == list(spec.outputs)


@workflow
def fan_then_total(n: int) -> (typing.List[int], int):
    squares = dynamics.fan_out(n=n)
    return squares, dynamics.total(xs=squares)


def test_a_local_run_that_gathers_gives_the_same_outputs():
    """A dynamic's fan-out and a map, their lists gathered, then read by a task."""
    assert fan_then_total(n=5) == ([0, 1, 4, 9, 16], 30)
    assert cf.squares_scaled(xs=[1, 2, 3], by=2) == [2, 8, 18]
    assert Evicting.dropped > 0
