"""The pure graph engine (sdk.model.engine), driven directly with hand-built graph specs."""

import time

import pytest

from sdk.model.engine import Engine
from sdk.model.errors import SpecError
from sdk.model.report import Failure, FailureKind, Report
from sdk.model.spec import GraphSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.states import ExecutionState, NodeState
from sdk.model.validate import validate

INT = {"t": "int"}
STR = {"t": "str"}
INTS = {"t": "list", "of": INT}
INT_DICT = {"t": "dict", "key": STR, "of": INT}


def complete(engine, node, attempt, outputs):
    return engine.apply(Report.values(node, attempt, outputs))


def graft(engine, node, attempt, sub):
    return engine.apply(Report.grafted(node, attempt, sub))


def fail(engine, node, attempt, error, retriable=True):
    kind = FailureKind.USER if retriable else FailureKind.DATA
    return engine.apply(Report.failed(node, attempt, Failure(
        kind, error.get("type", "Error"), error.get("message", ""), error.get("traceback", ""))))


def node(id_, inputs=None, *, types=None, outputs=None, kind="task", retries=0, subgraph=None):
    """A node whose inputs are ints unless `types` says otherwise; one int output `o0`."""
    inputs = inputs or {}
    types = {name: (types or {}).get(name, INT) for name in inputs}
    return NodeSpec(id=id_, kind=kind, task=TaskRef("tests.fake", id_.title(), id_),
                    inputs_types=types,
                    outputs_types={"o0": INT} if outputs is None else outputs,
                    inputs=inputs, retries=retries, subgraph=subgraph)


def graph(nodes, outputs=None, inputs=None, name="g"):
    outs = [OutputSpec(k, t, b) for k, (t, b) in (outputs or {}).items()]
    spec = GraphSpec(name, inputs or {}, nodes, outs)
    validate(spec)
    return spec


def ref(node_id, out="o0"):
    return {"ref": [node_id, out]}


def val(v):
    return {"val": {"v": v}}


def out(v):
    return {"o0": val(v)}


def states(engine):
    return {nid: run.state for nid, run in engine.nodes.items()}


def snapshot(engine):
    return (engine.state, engine.outputs, list(engine.failed),
            {nid: (r.state, r.attempt, r.waiting, list(r.dependents), r.children_left,
                   r.outputs, r.out_bindings) for nid, r in engine.nodes.items()})


# ---- readiness ----------------------------------------------------------------------------

def diamond():
    return graph(
        [node("a"), node("b"), node("c", {"x": ref("a"), "y": ref("b")}),
         node("d", {"x": ref("c")}), node("e")],
        outputs={"result": (INT, ref("d")), "side": (INT, ref("e"))},
    )


def test_start_releases_roots_in_insertion_order():
    engine = Engine(diamond(), {})
    assert engine.start() == ["a", "b", "e"]
    assert states(engine) == {"a": NodeState.QUEUED, "b": NodeState.QUEUED,
                              "c": NodeState.PENDING, "d": NodeState.PENDING,
                              "e": NodeState.QUEUED}
    assert engine.state == ExecutionState.RUNNING
    assert engine.start() == []  # starting twice releases nothing again


def test_node_released_only_when_all_upstream_succeeded():
    engine = Engine(diamond(), {})
    engine.start()
    assert complete(engine, "a", 1, out(1)) == []
    assert engine.nodes["c"].state == NodeState.PENDING
    assert engine.nodes["c"].waiting == 1
    assert complete(engine, "b", 1, out(2)) == ["c"]
    assert complete(engine, "c", 1, out(3)) == ["d"]
    assert complete(engine, "d", 1, out(4)) == []
    assert not engine.done
    assert complete(engine, "e", 1, out(5)) == []
    assert engine.done
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"result": val(4), "side": val(5)}
    assert all(s == NodeState.SUCCEEDED for s in states(engine).values())


def test_same_source_bound_twice_counts_once():
    spec = graph([node("a"), node("b", {"x": ref("a"), "y": ref("a")})],
                 outputs={"o": (INT, ref("b"))})
    engine = Engine(spec, {})
    engine.start()
    assert engine.nodes["b"].waiting == 1
    assert complete(engine, "a", 1, out(1)) == ["b"]


def test_missing_graph_input_is_refused():
    spec = graph([node("a", {"x": {"input": "n"}})], inputs={"n": INT, "m": INT},
                 outputs={"o": (INT, ref("a"))})
    with pytest.raises(SpecError, match=r"workflow 'g' is missing input\(s\) m, n"):
        Engine(spec, {})


def test_empty_graph_succeeds_at_start_with_outputs_from_inputs():
    spec = graph([], inputs={"n": INT}, outputs={"o": (INT, {"input": "n"}),
                                                 "k": (INT, val(3))})
    engine = Engine(spec, {"n": val(7)})
    assert engine.start() == []
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o": val(7), "k": val(3)}


# ---- binding resolution -------------------------------------------------------------------

def test_bindings_resolve_refs_lists_dicts_values_and_inputs():
    consumer = node("c", {
        "xs": {"list": [ref("a"), val(10), {"input": "n"}]},
        "d": {"dict": {"first": ref("b"), "lit": val(20)}},
        "k": {"input": "n"},
        "v": val(30),
    }, types={"xs": INTS, "d": INT_DICT})
    spec = graph([node("a"), node("b"), consumer], inputs={"n": INT},
                 outputs={"o": (INT, ref("c")), "all": (INTS, {"list": [ref("a"), ref("b")]})})
    engine = Engine(spec, {"n": val(5)})
    engine.start()
    # graph inputs are substituted when the node is inserted
    assert engine.nodes["c"].bindings["k"] == val(5)
    assert engine.nodes["c"].bindings["xs"] == {"list": [ref("a"), val(10), val(5)]}
    complete(engine, "a", 1, out(1))
    assert complete(engine, "b", 1, {"o0": {"val": {"u": "values/abc"}}}) == ["c"]
    assert engine.resolved_inputs("c") == {
        "xs": {"list": [val(1), val(10), val(5)]},
        "d": {"dict": {"first": {"val": {"u": "values/abc"}}, "lit": val(20)}},
        "k": val(5),
        "v": val(30),
    }
    complete(engine, "c", 1, out(99))
    assert engine.outputs == {"o": val(99),
                              "all": {"list": [val(1), {"val": {"u": "values/abc"}}]}}


def test_resolving_an_output_before_it_exists_raises():
    engine = Engine(diamond(), {})
    engine.start()
    with pytest.raises(SpecError, match=r"output 'o0' of node 'a' is read before it exists"):
        engine.resolve(ref("a"))


def test_named_outputs_are_resolved_by_name():
    spec = graph([node("a", outputs={"total": INT, "label": STR}),
                  node("b", {"x": ref("a", "total")})],
                 outputs={"label": (STR, ref("a", "label")), "b": (INT, ref("b"))})
    engine = Engine(spec, {})
    engine.start()
    assert complete(engine, "a", 1, {"total": val(3), "label": val("x")}) == ["b"]
    assert engine.resolved_inputs("b") == {"x": val(3)}
    complete(engine, "b", 1, out(4))
    assert engine.outputs == {"label": val("x"), "b": val(4)}


# ---- grafting dynamic sub-graphs ----------------------------------------------------------

def fan_out_subgraph(n, name="fan"):
    """n squares of the dynamic's input `n`-ish, then a gather over all of them."""
    leaves = [node(f"sq-{i}", {"x": {"input": "k"}}) for i in range(n)]
    gather = node("sum", {"xs": {"list": [ref(f"sq-{i}") for i in range(n)]}},
                  types={"xs": INTS})
    return graph([*leaves, gather], inputs={"k": INT}, outputs={"o0": (INT, ref("sum"))},
                 name=name)


def dynamic_graph():
    spec = graph([node("src"), node("dyn", {"k": ref("src")}, kind="dynamic"),
                  node("after", {"x": ref("dyn")})],
                 outputs={"o": (INT, ref("after"))})
    return spec


def test_graft_inserts_children_under_parent_id():
    engine = Engine(dynamic_graph(), {})
    assert engine.start() == ["src"]
    assert complete(engine, "src", 1, out(4)) == ["dyn"]
    released = graft(engine, "dyn", 1, fan_out_subgraph(3))
    assert released == ["dyn/sq-0", "dyn/sq-1", "dyn/sq-2"]
    assert engine.nodes["dyn"].state == NodeState.RUNNING
    assert engine.nodes["dyn"].children_left == 4
    gather = engine.nodes["dyn/sum"]
    assert gather.parent == "dyn"
    assert gather.state == NodeState.PENDING
    assert gather.bindings["xs"] == {"list": [ref("dyn/sq-0"), ref("dyn/sq-1"), ref("dyn/sq-2")]}
    # the sub-graph's input reads the dynamic's resolved input
    assert engine.resolved_inputs("dyn/sq-1") == {"x": val(4)}
    outs = engine.nodes["dyn"].out_bindings
    assert (outs.bindings, outs.prefix) == ({"o0": ref("sum")}, "dyn/")

    assert complete(engine, "dyn/sq-0", 1, out(16)) == []
    assert complete(engine, "dyn/sq-1", 1, out(16)) == []
    assert complete(engine, "dyn/sq-2", 1, out(16)) == ["dyn/sum"]
    assert engine.resolved_inputs("dyn/sum") == {"xs": {"list": [val(16)] * 3}}
    assert engine.nodes["dyn"].state == NodeState.RUNNING
    assert complete(engine, "dyn/sum", 1, out(48)) == ["after"]
    assert engine.nodes["dyn"].state == NodeState.SUCCEEDED
    assert engine.nodes["dyn"].outputs == out(48)
    assert engine.resolved_inputs("after") == {"x": val(48)}
    complete(engine, "after", 1, out(49))
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o": val(49)}


def test_graft_with_literal_output_and_no_nodes_succeeds_at_once():
    engine = Engine(dynamic_graph(), {})
    engine.start()
    complete(engine, "src", 1, out(1))
    empty = graph([], inputs={"k": INT}, outputs={"o0": (INT, val(0))})
    assert graft(engine, "dyn", 1, empty) == ["after"]
    assert engine.nodes["dyn"].state == NodeState.SUCCEEDED
    assert engine.nodes["dyn"].outputs == out(0)


def test_graft_output_bound_to_dynamic_input():
    engine = Engine(dynamic_graph(), {})
    engine.start()
    complete(engine, "src", 1, out(8))
    echo = graph([], inputs={"k": INT}, outputs={"o0": (INT, {"input": "k"})})
    assert graft(engine, "dyn", 1, echo) == ["after"]
    assert engine.resolved_inputs("after") == {"x": val(8)}


def nested_subgraph(depth):
    """A dynamic that, at each level, runs a task and a dynamic one level deeper."""
    if depth == 0:
        return graph([node("leaf", {"x": {"input": "k"}})], inputs={"k": INT},
                     outputs={"o0": (INT, ref("leaf"))})
    return graph([node("work", {"x": {"input": "k"}}),
                  node("deeper", {"k": ref("work")}, kind="dynamic")],
                 inputs={"k": INT}, outputs={"o0": (INT, ref("deeper"))})


def test_nested_grafts_three_levels_deep():
    engine = Engine(dynamic_graph(), {})
    engine.start()
    complete(engine, "src", 1, out(1))
    assert graft(engine, "dyn", 1, nested_subgraph(2)) == ["dyn/work"]
    assert complete(engine, "dyn/work", 1, out(2)) == ["dyn/deeper"]
    assert graft(engine, "dyn/deeper", 1, nested_subgraph(1)) == ["dyn/deeper/work"]
    assert engine.resolved_inputs("dyn/deeper/work") == {"x": val(2)}
    assert complete(engine, "dyn/deeper/work", 1, out(3)) == ["dyn/deeper/deeper"]
    assert graft(engine, "dyn/deeper/deeper", 1, nested_subgraph(0)) == [
        "dyn/deeper/deeper/leaf"]
    assert engine.resolved_inputs("dyn/deeper/deeper/leaf") == {"x": val(3)}
    assert engine.nodes["dyn/deeper/deeper/leaf"].parent == "dyn/deeper/deeper"
    running = [n for n, s in states(engine).items() if s == NodeState.RUNNING]
    assert running == ["dyn", "dyn/deeper", "dyn/deeper/deeper"]
    # one completion at the bottom finishes all three dynamics and releases the next node
    assert complete(engine, "dyn/deeper/deeper/leaf", 1, out(42)) == ["after"]
    for nid in ("dyn", "dyn/deeper", "dyn/deeper/deeper"):
        assert engine.nodes[nid].state == NodeState.SUCCEEDED
        assert engine.nodes[nid].outputs == out(42)


def fib_subgraph(n):
    """fib(n) = add(fib(n-1), fib(n-2)), with n-1 and n-2 as literals."""
    return graph(
        [node("fib", {"n": val(n - 1)}, kind="dynamic"),
         node("fib-1", {"n": val(n - 2)}, kind="dynamic"),
         node("add", {"a": ref("fib"), "b": ref("fib-1")})],
        inputs={"n": INT}, outputs={"o0": (INT, ref("add"))}, name="fib")


def test_recursive_grafts_compute_fibonacci():
    spec = graph([node("fib", {"n": {"input": "n"}}, kind="dynamic")], inputs={"n": INT},
                 outputs={"o": (INT, ref("fib"))})
    engine = Engine(spec, {"n": val(6)})
    ready = list(engine.start())
    grafts = 0
    while ready:
        nid = ready.pop(0)
        run = engine.nodes[nid]
        args = {k: b["val"]["v"] for k, b in engine.resolved_inputs(nid).items()}
        if run.spec.kind == "dynamic":
            if args["n"] < 2:
                ready += complete(engine, nid, 1, out(args["n"]))
            else:
                grafts += 1
                ready += graft(engine, nid, 1, fib_subgraph(args["n"]))
        else:
            ready += complete(engine, nid, 1, out(args["a"] + args["b"]))
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o": val(8)}
    assert grafts == 12  # calls with n >= 2: G(n) = G(n-1) + G(n-2) + 1, G(2) = 1
    assert "fib/fib/fib/fib/fib" in engine.nodes
    assert engine.nodes["fib/fib-1/fib"].parent == "fib/fib-1"


def test_subworkflow_node_opens_its_graph_without_being_dispatched():
    inner = graph([node("x", {"v": {"input": "a"}}), node("y", {"v": ref("x")})],
                  inputs={"a": INT}, outputs={"o0": (INT, ref("y"))}, name="inner")
    spec = graph([node("src"), node("sub", {"a": ref("src")}, kind="workflow", subgraph=inner),
                  node("after", {"x": ref("sub")})], outputs={"o": (INT, ref("after"))})
    engine = Engine(spec, {})
    assert engine.start() == ["src"]
    # the sub-workflow node itself is never released: its first node is
    assert complete(engine, "src", 1, out(1)) == ["sub/x"]
    assert engine.nodes["sub"].state == NodeState.RUNNING
    assert engine.resolved_inputs("sub/x") == {"v": val(1)}
    assert complete(engine, "sub/x", 1, out(2)) == ["sub/y"]
    assert complete(engine, "sub/y", 1, out(3)) == ["after"]
    assert engine.nodes["sub"].state == NodeState.SUCCEEDED
    assert engine.nodes["sub"].outputs == out(3)
    assert complete(engine, "sub", 1, out(3)) is None  # it was never queued
    complete(engine, "after", 1, out(4))
    assert engine.outputs == {"o": val(4)}


def test_chained_empty_subworkflows_finish_during_start():
    echo = graph([], inputs={"a": INT}, outputs={"o0": (INT, {"input": "a"})}, name="echo")
    spec = graph([node("e1", {"a": {"input": "n"}}, kind="workflow", subgraph=echo),
                  node("e2", {"a": ref("e1")}, kind="workflow", subgraph=echo)],
                 inputs={"n": INT}, outputs={"o": (INT, ref("e2"))})
    engine = Engine(spec, {"n": val(7)})
    assert engine.start() == []
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o": val(7)}


def test_graft_of_only_empty_subworkflows_finishes_the_dynamic():
    echo = graph([], inputs={"a": INT}, outputs={"o0": (INT, {"input": "a"})}, name="echo")
    sub = graph([node("echo", {"a": {"input": "k"}}, kind="workflow", subgraph=echo)],
                inputs={"k": INT}, outputs={"o0": (INT, ref("echo"))})
    engine = Engine(dynamic_graph(), {})
    engine.start()
    complete(engine, "src", 1, out(5))
    assert graft(engine, "dyn", 1, sub) == ["after"]
    assert engine.nodes["dyn"].outputs == out(5)


# ---- failure ------------------------------------------------------------------------------

def test_failure_fails_node_parents_and_execution_and_skips_pending():
    spec = graph([node("src"), node("dyn", {"k": ref("src")}, kind="dynamic"),
                  node("after", {"x": ref("dyn")}), node("other")],
                 outputs={"o": (INT, ref("after")), "p": (INT, ref("other"))})
    engine = Engine(spec, {})
    assert engine.start() == ["src", "other"]
    complete(engine, "src", 1, out(1))
    graft(engine, "dyn", 1, nested_subgraph(1))
    complete(engine, "dyn/work", 1, out(2))
    graft(engine, "dyn/deeper", 1, graph(
        [node("leaf", {"x": {"input": "k"}}), node("next", {"x": ref("leaf")})],
        inputs={"k": INT}, outputs={"o0": (INT, ref("next"))}))
    engine.drain_changes()
    error = {"type": "ValueError", "message": "boom", "traceback": "tb"}
    assert fail(engine, "dyn/deeper/leaf", 1, error) == []
    assert engine.state == ExecutionState.FAILED
    assert engine.done
    assert engine.failed == ["dyn/deeper/leaf"]
    assert engine.outputs is None
    leaf = engine.nodes["dyn/deeper/leaf"]
    assert leaf.state == NodeState.FAILED
    assert leaf.error == {"kind": "USER", **error}
    for parent in ("dyn/deeper", "dyn"):
        assert engine.nodes[parent].state == NodeState.FAILED
        assert engine.nodes[parent].error == {
            "kind": "USER", "type": "SubNodeFailed",
            "message": "sub-node 'dyn/deeper/leaf' failed"}
    assert engine.nodes["dyn/deeper/next"].state == NodeState.SKIPPED
    assert engine.nodes["after"].state == NodeState.SKIPPED
    assert engine.nodes["dyn/work"].state == NodeState.SUCCEEDED
    # released and maybe running somewhere: given up (its driver stops it)
    assert engine.nodes["other"].state == NodeState.CANCELLED
    assert engine.drain_changes() == {"dyn/deeper/leaf", "dyn/deeper", "dyn",
                                      "dyn/deeper/next", "after", "other"}
    # its late report changes nothing
    assert complete(engine, "other", 1, out(3)) is None
    assert engine.nodes["other"].state == NodeState.CANCELLED
    assert engine.state == ExecutionState.FAILED


def test_open_subgraphs_are_aborted_when_another_branch_fails():
    spec = graph([node("bad"), node("dyn", {"k": {"val": {"v": 2}}}, kind="dynamic")],
                 outputs={"a": (INT, ref("bad")), "b": (INT, ref("dyn"))})
    engine = Engine(spec, {})
    assert engine.start() == ["bad", "dyn"]
    graft(engine, "dyn", 1, fan_out_subgraph(2, name="open"))
    assert engine.nodes["dyn"].state == NodeState.RUNNING
    fail(engine, "bad", 1, {"message": "boom"}, retriable=False)
    # the dynamic can never finish now: it ends ABORTED, not RUNNING forever
    assert engine.nodes["dyn"].state == NodeState.ABORTED
    children = [n for n, r in engine.nodes.items()
                if n.startswith("dyn/") and r.state == NodeState.CANCELLED]
    assert children == ["dyn/sq-0", "dyn/sq-1"]
    assert engine.nodes["dyn/sum"].state == NodeState.SKIPPED
    assert complete(engine, children[0], 1, out(1)) is None  # a late report: ignored
    assert engine.nodes["dyn"].state == NodeState.ABORTED


def test_reports_arriving_after_the_execution_failed_change_nothing():
    spec = graph([node("bad"), node("flaky", retries=3), node("dyn", kind="dynamic"),
                  node("after", {"x": ref("dyn")})],
                 outputs={"a": (INT, ref("flaky")), "b": (INT, ref("after"))})
    engine = Engine(spec, {})
    assert engine.start() == ["bad", "flaky", "dyn"]
    fail(engine, "bad", 1, {"message": "boom"}, retriable=False)
    assert engine.state == ExecutionState.FAILED
    # what was running is given up: no retry, no late sub-graph merged
    assert fail(engine, "flaky", 1, {"message": "transient"}) is None
    assert engine.nodes["flaky"].state == NodeState.CANCELLED
    assert engine.nodes["flaky"].attempt == 1
    assert graft(engine, "dyn", 1, fan_out_subgraph(3, name="late")) is None
    assert engine.nodes["dyn"].state == NodeState.CANCELLED
    assert sorted(engine.nodes) == ["after", "bad", "dyn", "flaky"]
    assert engine.nodes["after"].state == NodeState.SKIPPED
    assert engine.failed == ["bad"]


def test_reported_outputs_that_do_not_match_fail_the_node():
    spec = graph([node("a", outputs={"x": INT, "y": INT})], outputs={"o": (INT, ref("a", "x"))})
    engine = Engine(spec, {})
    engine.start()
    assert complete(engine, "a", 1, {"x": val(1)}) == []
    assert engine.nodes["a"].state == NodeState.FAILED
    assert engine.nodes["a"].error == {
        "kind": "DATA", "type": "OutputMismatch",
        "message": "task a reported outputs ['x'] but declares ['x', 'y']"}
    assert engine.state == ExecutionState.FAILED


# ---- retries ------------------------------------------------------------------------------

def test_retry_releases_same_node_with_next_attempt():
    spec = graph([node("a", retries=2), node("b", {"x": ref("a")})], outputs={"o": (INT, ref("b"))})
    engine = Engine(spec, {})
    engine.start()
    assert fail(engine, "a", 1, {"type": "RuntimeError", "message": "one"}) == ["a"]
    assert engine.nodes["a"].attempt == 2
    assert engine.nodes["a"].state == NodeState.QUEUED
    assert engine.nodes["a"].error == {"kind": "USER", "type": "RuntimeError",
                                       "message": "one"}
    assert fail(engine, "a", 1, {"type": "RuntimeError", "message": "late"}) is None
    assert fail(engine, "a", 2, {"type": "RuntimeError", "message": "two"}) == ["a"]
    assert engine.nodes["a"].attempt == 3
    assert complete(engine, "a", 2, out(5)) is None  # a late report of attempt 2
    assert complete(engine, "a", 3, out(5)) == ["b"]
    assert engine.nodes["a"].error is None
    complete(engine, "b", 1, out(6))
    assert engine.state == ExecutionState.SUCCEEDED


def test_retries_exhausted_fail_the_execution():
    spec = graph([node("a", retries=1)], outputs={"o": (INT, ref("a"))})
    engine = Engine(spec, {})
    engine.start()
    assert fail(engine, "a", 1, {"message": "1"}) == ["a"]
    assert fail(engine, "a", 2, {"message": "2"}) == []
    assert engine.nodes["a"].state == NodeState.FAILED
    assert engine.nodes["a"].attempt == 2
    assert engine.nodes["a"].error == {"kind": "USER", "type": "Error", "message": "2"}
    assert engine.state == ExecutionState.FAILED


def test_non_retriable_failure_ignores_retries_left():
    spec = graph([node("a", retries=5)], outputs={"o": (INT, ref("a"))})
    engine = Engine(spec, {})
    engine.start()
    assert fail(engine, "a", 1, {"message": "bad input"}, retriable=False) == []
    assert engine.nodes["a"].state == NodeState.FAILED
    assert engine.nodes["a"].attempt == 1


# ---- idempotence --------------------------------------------------------------------------

def test_duplicate_and_late_reports_change_nothing():
    engine = Engine(diamond(), {})
    engine.start()
    complete(engine, "a", 1, out(1))
    engine.drain_changes()
    before = snapshot(engine)
    assert complete(engine, "a", 1, out(999)) is None  # duplicate delivery
    assert complete(engine, "b", 2, out(2)) is None  # wrong attempt
    assert complete(engine, "b", 0, out(2)) is None
    assert complete(engine, "c", 1, out(3)) is None  # still pending
    assert complete(engine, "nope", 1, out(3)) is None  # unknown node
    assert fail(engine, "a", 1, {"message": "late failure"}) is None
    assert graft(engine, "a", 1, nested_subgraph(0)) is None
    assert snapshot(engine) == before
    assert engine.nodes["a"].outputs == out(1)
    assert engine.drain_changes() == set()


def test_same_subgraph_reported_twice_is_merged_once():
    engine = Engine(dynamic_graph(), {})
    engine.start()
    complete(engine, "src", 1, out(1))
    assert graft(engine, "dyn", 1, fan_out_subgraph(2)) == ["dyn/sq-0", "dyn/sq-1"]
    before = snapshot(engine)
    assert graft(engine, "dyn", 1, fan_out_subgraph(2)) is None
    assert complete(engine, "dyn", 1, out(1)) is None
    assert snapshot(engine) == before


def test_reports_after_success_are_ignored():
    engine = Engine(graph([node("a")], outputs={"o": (INT, ref("a"))}), {})
    engine.start()
    complete(engine, "a", 1, out(1))
    assert engine.state == ExecutionState.SUCCEEDED
    assert complete(engine, "a", 1, out(2)) is None
    assert fail(engine, "a", 1, {"message": "x"}) is None
    assert engine.outputs == {"o": val(1)}
    assert engine.state == ExecutionState.SUCCEEDED


# ---- invalid sub-graphs -------------------------------------------------------------------

def raw_graph(nodes, outputs, inputs=None):
    """A graph that skips validation (the engine must do it)."""
    return GraphSpec("bad", inputs if inputs is not None else {"k": INT}, nodes,
                     [OutputSpec(k, t, b) for k, (t, b) in outputs.items()])


@pytest.mark.parametrize(("sub", "message"), [
    (raw_graph([node("t", {"x": ref("ghost")})], {"o0": (INT, ref("t"))}),
     "sub-graph of dynamic node 'dyn': node 't' input 'x': refers to unknown node 'ghost'"),
    (raw_graph([node("t")], {"o0": (INT, ref("t", "nope"))}),
     "output 'o0': node 't' has no output 'nope' (outputs: o0)"),
    (raw_graph([node("t")], {"other": (INT, ref("t"))}),
     "outputs ['other'] do not match the dynamic's declared outputs ['o0']"),
    (raw_graph([node("t", outputs={"o0": STR})], {"o0": (STR, ref("t"))}),
     "output 'o0' is str, declared int"),
    (raw_graph([node("t", {"x": ref("u")}), node("u", {"x": ref("t")})], {"o0": (INT, ref("t"))}),
     "cycle among nodes t, u"),
    (raw_graph([node("t", {"x": {"input": "zzz"}})], {"o0": (INT, ref("t"))},
               inputs={"zzz": INT}),
     "reads input(s) zzz, which the dynamic does not have (inputs: k)"),
])
def test_invalid_graft_fails_the_dynamic_as_data_and_inserts_nothing(sub, message):
    engine = Engine(dynamic_graph(), {})
    engine.start()
    complete(engine, "src", 1, out(1))
    engine.drain_changes()
    nodes_before = set(engine.nodes)
    assert graft(engine, "dyn", 1, sub) == []
    assert set(engine.nodes) == nodes_before
    run = engine.nodes["dyn"]
    assert run.state == NodeState.FAILED
    assert run.error["kind"] == "DATA" and run.error["type"] == "SpecError"
    assert message in run.error["message"]
    assert engine.state == ExecutionState.FAILED
    # a data failure is final: a second report for the attempt changes nothing
    assert graft(engine, "dyn", 1, fan_out_subgraph(1)) is None


def test_only_dynamic_nodes_may_graft():
    engine = Engine(diamond(), {})
    engine.start()
    assert graft(engine, "a", 1, fan_out_subgraph(1)) == []
    assert engine.nodes["a"].state == NodeState.FAILED
    assert "node 'a' is a task, not a dynamic" in engine.nodes["a"].error["message"]


# ---- cost per event -----------------------------------------------------------------------

def test_changes_track_only_touched_nodes():
    engine = Engine(diamond(), {})
    engine.start()
    assert engine.drain_changes() == {"a", "b", "c", "d", "e"}
    complete(engine, "a", 1, out(1))
    assert engine.drain_changes() == {"a"}
    complete(engine, "b", 1, out(1))
    assert engine.drain_changes() == {"b", "c"}


def test_one_report_in_a_10000_node_fan_out_touches_few_nodes():
    n = 10_000
    engine = Engine(dynamic_graph(), {})
    engine.start()
    complete(engine, "src", 1, out(3))
    started = time.perf_counter()
    released = graft(engine, "dyn", 1, fan_out_subgraph(n))
    assert len(released) == n
    assert len(engine.nodes) == n + 4
    engine.drain_changes()
    assert complete(engine, "dyn/sq-5000", 1, out(9)) == []
    assert engine.drain_changes() == {"dyn/sq-5000"}
    assert engine.nodes["dyn/sum"].waiting == n - 1
    for i in range(n):
        if i != 5000:
            complete(engine, f"dyn/sq-{i}", 1, out(9))
    assert engine.drain_changes() == {f"dyn/sq-{i}" for i in range(n) if i != 5000} | {"dyn/sum"}
    assert complete(engine, "dyn/sum", 1, out(9 * n)) == ["after"]
    assert engine.drain_changes() == {"dyn/sum", "dyn", "after"}
    # linear overall: a scan per event would make this ~10^8 steps
    assert time.perf_counter() - started < 10.0
    assert engine.resolved_inputs("after") == {"x": val(9 * n)}
