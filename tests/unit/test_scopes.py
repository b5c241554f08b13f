"""The scopes a node's end is reported to (`sdk.model.scopes`, `sdk.model.scope_map`): the
engine hands each child's end to the scope object of its parent's kind, the top graph's
nodes to the execution's (`Root`), and a report that opens a node to the scope of its kind."""

import dataclasses
import typing

import pytest
from test_engine import complete, fail, graft, graph, node, ref, val
from workflows import control_flow as cf

from sdk import map_task, workflow
from sdk.model.engine import Engine
from sdk.model.report import Report
from sdk.model.retry import RetryPolicy
from sdk.model.scope_map import Map
from sdk.model.scopes import Branch, Dynamic, Root, SubWorkflow
from sdk.model.spec import FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
from sdk.model.states import ExecutionState, NodeState

INT = {"t": "int"}
INTS = {"t": "list", "of": INT}


@pytest.fixture
def heard(monkeypatch):
    """Every end a scope object hears of, as (its kind, what, parent id, child id)."""
    calls = []

    def spy(cls, name):
        method = getattr(cls, name)

        def spied(self, *args):
            parent, child = (None, args[0]) if cls is Root else args[:2]
            calls.append((getattr(cls, "kind", "root"), name, parent and parent.id, child.id))
            return method(self, *args)

        monkeypatch.setattr(cls, name, spied)

    for cls in (Root, Dynamic, Branch, SubWorkflow, Map):
        for name in ("succeeded", "failed", "skipped"):
            spy(cls, name)
    return calls


def test_a_dynamics_children_are_heard_by_the_dynamic_scope_and_it_by_the_root(heard):
    engine = Engine(graph([node("d", kind="dynamic", outputs={"o0": INT})],
                          outputs={"o0": (INT, ref("d"))}), {})
    engine.start()
    graft(engine, "d", 1, graph([node("a"), node("b", {"x": ref("a")})],
                                outputs={"o0": (INT, ref("b"))}))
    complete(engine, "d/a", 1, {"o0": val(1)})
    complete(engine, "d/b", 1, {"o0": val(2)})
    assert heard == [("dynamic", "succeeded", "d", "d/a"),
                     ("dynamic", "succeeded", "d", "d/b"),
                     ("root", "succeeded", None, "d")]
    assert engine.outputs == {"o0": val(2)}


def test_a_sub_workflow_hears_of_its_failed_child_and_of_what_that_skipped(heard):
    """Under FAIL_AFTER_EXECUTABLE_NODES_COMPLETE what waited for the failed child is cut off
    (under FAIL_IMMEDIATELY it would be stopped, which no scope hears of)."""
    sub = dataclasses.replace(
        graph([node("a"), node("b", {"x": ref("a")})], outputs={"o0": (INT, ref("b"))}),
        failure_policy=FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)
    engine = Engine(graph([node("w", kind="workflow", subgraph=sub)],
                          outputs={"o0": (INT, ref("w"))}), {})
    assert engine.start() == ["w/a"]  # the sub-workflow opened when released
    fail(engine, "w/a", 1, {"type": "Boom"}, retriable=False)
    assert heard == [("workflow", "failed", "w", "w/a"),
                     ("workflow", "skipped", "w", "w/b"),
                     ("root", "failed", None, "w")]
    assert engine.nodes["w"].error["type"] == "SubNodeFailed"
    assert engine.state == ExecutionState.FAILED and engine.failed == ["w/a"]


def test_a_dynamic_whose_child_was_skipped_fails_and_the_root_counts_it_ended(heard):
    """A node cut off in a dynamic fails the dynamic (SubNodeSkipped), which ends without
    outputs in turn: what waited for it is skipped, and the root counts them done."""
    inner = graph([node("w", kind="workflow",
                        subgraph=graph([node("a")], outputs={"o0": (INT, ref("a"))})),
                   node("b", {"x": ref("w")})], outputs={"o0": (INT, ref("b"))})
    spec = graph([node("d", kind="dynamic", outputs={"o0": INT}),
                  node("e", {"x": ref("d")})], outputs={"o0": (INT, ref("e"))})
    engine = Engine(spec, {})
    engine.start()
    graft(engine, "d", 1, inner)
    fail(engine, "d/w/a", 1, {"type": "Boom"}, retriable=False)
    assert ("dynamic", "failed", "d", "d/w") in heard
    assert engine.nodes["d"].state == NodeState.FAILED
    assert engine.nodes["e"].state == NodeState.SKIPPED
    assert ("root", "skipped", None, "e") in heard


@workflow
def squares(xs: typing.List[int]) -> typing.List[int]:
    return map_task(cf.square)(x=xs)


def test_a_maps_items_are_heard_by_the_map_scope(heard):
    engine = Engine(squares.compile(), {"xs": {"val": {"v": [1, 2, 3]}}},
                    RetryPolicy(system_retries=0))
    [m] = engine.start()
    items = engine.apply(Report.mapped(m, 1, 3))
    complete(engine, items[0], 1, {"o0": val(1)})
    fail(engine, items[1], 1, {"type": "ValueError", "message": "no"}, retriable=False)
    assert heard[:2] == [("map", "succeeded", m, items[0]), ("map", "failed", m, items[1])]
    assert engine.nodes[m].error["type"] == "MapFailed"
    assert heard[2:] == [("root", "failed", None, m)]


def test_a_conditionals_case_is_heard_by_the_branch_scope(heard):
    engine = Engine(cf.sign.compile(), {"x": {"val": {"v": -1.0}}})
    [branch] = engine.start()
    [negate] = engine.apply(Report.branched(branch, 1, 2))
    complete(engine, negate, 1, {"o0": val(1.0)})
    assert heard == [("branch", "succeeded", branch, negate),
                     ("root", "succeeded", None, branch)]


@pytest.mark.parametrize(("report", "message"), [
    (Report.grafted("t", 1, graph([node("a")])),
     "node 't' is a task, not a dynamic: it cannot report a sub-graph"),
    (Report.mapped("t", 1, 3), "node 't' cannot be expanded as a map"),
    (Report.branched("t", 1, 0), "node 't' cannot take case 0"),
])
def test_a_report_that_opens_a_node_of_another_kind_fails_it_as_data(report, message):
    engine = Engine(graph([node("t")], outputs={"o0": (INT, ref("t"))}), {})
    engine.start()
    assert engine.apply(report) == []
    assert engine.nodes["t"].error == {"kind": "DATA", "type": "SpecError", "message": message}
