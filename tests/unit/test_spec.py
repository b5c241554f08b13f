"""The graph spec (sdk.model.spec): JSON round-trip and validation messages."""

import json

import pytest
from workflows import basic, dynamics, files

from sdk.model.errors import SpecError
from sdk.model.spec import SPEC_VERSION, GraphSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.validate import validate

INT = {"t": "int"}
STR = {"t": "str"}
FLOAT = {"t": "float"}


def node(id_, inputs=None, *, types=None, outputs=None, kind="task", subgraph=None):
    inputs = inputs or {}
    return NodeSpec(id=id_, kind=kind, task=TaskRef("tests.fake", id_, id_),
                    inputs_types={n: (types or {}).get(n, INT) for n in inputs},
                    outputs_types={"o0": INT} if outputs is None else outputs,
                    inputs=inputs, subgraph=subgraph)


def graph(nodes, outputs=None, inputs=None, name="g"):
    return GraphSpec(name, inputs or {}, nodes,
                     [OutputSpec(k, t, b) for k, (t, b) in (outputs or {}).items()])


def ref(n, o="o0"):
    return {"ref": [n, o]}


def full_node():
    return NodeSpec(
        id="train", kind="dynamic", task=TaskRef("pkg.mod", "Outer.train", "train", "bundle-1"),
        inputs_types={"xs": {"t": "list", "of": FLOAT}, "k": INT},
        outputs_types={"o0": STR},
        inputs={"xs": {"list": [{"val": {"v": 1.5}}, {"val": {"u": "values/abc"}}]},
                "k": {"input": "k"}},
        requests={"cpu": 0.5, "mem_bytes": 1024}, limits={"mem_bytes": 2048},
        cache=True, cache_version="0.3", retries=2, timeout_s=30.0,
    )


# ---- round-trip ---------------------------------------------------------------------------

def test_json_round_trip_keeps_every_field():
    spec = GraphSpec("g", {"k": INT}, [full_node()],
                     [OutputSpec("o0", STR, ref("train"))], "namedtuple", "pkg.mod:Result")
    data = spec.to_json()
    assert data["version"] == SPEC_VERSION
    assert data["nodes"][0]["task"] == "train"
    template = data["tasks"]["train"]
    assert template["task"] == {"module": "pkg.mod", "qualname": "Outer.train",
                                "name": "train", "bundle": "bundle-1"}
    assert (template["requests"], template["limits"]) == ({"cpu": 0.5, "mem_bytes": 1024},
                                                          {"mem_bytes": 2048})
    assert template["cache"] == {"enabled": True, "version": "0.3"}
    back = GraphSpec.from_json(json.loads(json.dumps(data)))
    assert back == spec
    assert back.nodes[0].task.ref == "pkg.mod:Outer.train"
    assert back.nodes[0].retries == 2
    assert back.nodes[0].memory_bytes == 2048
    assert GraphSpec.loads(spec.dumps()) == spec
    assert GraphSpec.loads(spec.dumps().encode()) == spec


@pytest.mark.parametrize("wf", [basic.chain, basic.tuples, basic.containers,
                                basic.dataclasses_wf, basic.with_subworkflow,
                                dynamics.nested_wf, dynamics.dynamic_subworkflow_wf,
                                files.dir_wf])
def test_compiled_workflows_round_trip(wf):
    spec = wf.compile()
    text = spec.dumps()
    back = GraphSpec.loads(text)
    assert back == spec
    assert back.dumps() == text
    validate(back)


def test_sub_workflow_round_trips_with_its_subgraph():
    spec = basic.with_subworkflow.compile()
    back = GraphSpec.loads(spec.dumps())
    sub = back.node_map()["square_sum"]
    assert sub.kind == "workflow"
    assert sub.subgraph == basic.square_sum.compile()
    assert [nid for nid, _ in back.walk()] == [
        "square_sum", "square_sum/make_numbers", "square_sum/square_all", "square_sum/total",
        "add", "square_sum-1", "square_sum-1/make_numbers", "square_sum-1/square_all",
        "square_sum-1/total", "add-1", "echo"]


def test_defaults_fill_optional_fields():
    data = {"name": "g", "nodes": [{"id": "a", "kind": "task",
                                    "task": {"module": "m", "qualname": "f"},
                                    "interface": {"inputs": {}, "outputs": {"o0": INT}},
                                    "inputs": {}}],
            "outputs": [{"name": "o", "type": INT, "binding": ref("a")}]}
    spec = GraphSpec.from_json(data)
    a = spec.nodes[0]
    assert (a.task.name, a.task.bundle, a.retries, a.cache, a.cache_version, a.timeout_s,
            a.requests, a.limits, a.subgraph) == ("f", None, 0, False, "", None, {}, {}, None)
    assert a.memory_bytes is None
    assert spec.output_style == "single"
    assert spec.inputs == {}


@pytest.mark.parametrize(("data", "message"), [
    ([], "a graph spec is a JSON object, got list"),
    ({"version": 3, "name": "g", "nodes": [], "outputs": []},
     "graph spec version 3 is not supported (expected 1 or 2)"),
    ({"version": "1", "name": "g", "nodes": [], "outputs": []},
     "graph spec version '1' is not supported (expected 1 or 2)"),
    ({"version": True, "name": "g", "nodes": [], "outputs": []},
     "graph spec version True is not supported (expected 1 or 2)"),
    ({"name": "g", "outputs": []}, "malformed graph spec 'g': KeyError('nodes')"),
    ({"name": "g", "nodes": [{"id": "a"}], "outputs": []},
     "malformed graph spec 'g': KeyError('task')"),
    ({"name": "g", "nodes": [], "outputs": [{"name": "o"}]},
     "malformed graph spec 'g': KeyError('type')"),
])
def test_malformed_json_is_refused(data, message):
    with pytest.raises(SpecError) as info:
        GraphSpec.from_json(data)
    assert str(info.value) == message


def test_invalid_json_text_is_refused():
    with pytest.raises(SpecError, match="graph spec is not valid JSON: Expecting value"):
        GraphSpec.loads("[1, ")


# ---- validation ---------------------------------------------------------------------------

def test_valid_graph_passes():
    validate(graph([node("a"), node("b", {"x": ref("a")}), node("c", {"x": {"input": "n"}})],
                   outputs={"o": (INT, ref("b"))}, inputs={"n": INT}))


@pytest.mark.parametrize(("spec", "message"), [
    (graph([node("a"), node("b", {"x": ref("ghost")})]),
     "graph 'g': node 'b' input 'x': refers to unknown node 'ghost'"),
    (graph([node("a")], outputs={"o": (INT, ref("ghost"))}),
     "graph 'g': output 'o': refers to unknown node 'ghost'"),
    (graph([node("a", outputs={"total": INT, "label": STR}), node("b", {"x": ref("a", "mean")})]),
     "graph 'g': node 'b' input 'x': node 'a' has no output 'mean' (outputs: total, label)"),
    (graph([node("a", outputs={}), node("b", {"x": ref("a")})]),
     "graph 'g': node 'b' input 'x': node 'a' has no output 'o0' (outputs: none)"),
    (graph([node("a", {"x": ref("c")}), node("b", {"x": ref("a")}), node("c", {"x": ref("b")}),
            node("d")]),
     "graph 'g': cycle among nodes a, b, c"),
    (graph([node("a", {"x": ref("a")})]), "graph 'g': cycle among nodes a"),
    (graph([node("a", outputs={"o0": STR}), node("b", {"x": ref("a")})]),
     "graph 'g': node 'b' input 'x': a.o0 is str, which does not fit int"),
    (graph([node("a", outputs={"o0": {"t": "list", "of": FLOAT}}),
            node("b", {"x": ref("a")}, types={"x": {"t": "list", "of": INT}})]),
     "graph 'g': node 'b' input 'x': a.o0 is List[float], which does not fit List[int]"),
    (graph([node("a", {"x": {"list": [ref("b"), {"val": {"v": 1}}]}},
                  types={"x": {"t": "list", "of": INT}}),
            node("b", outputs={"o0": STR})]),
     "graph 'g': node 'a' input 'x'[0]: b.o0 is str, which does not fit int"),
    (graph([node("a", {"x": {"dict": {"k": {"input": "s"}}}},
                  types={"x": {"t": "dict", "key": STR, "of": INT}})], inputs={"s": STR}),
     "graph 'g': node 'a' input 'x'['k']: input s is str, which does not fit int"),
    (graph([node("a", outputs={"o0": STR})], outputs={"o": (INT, ref("a"))}),
     "graph 'g': output 'o': a.o0 is str, which does not fit int"),
    (graph([node("a", {"x": {"input": "zz"}})], inputs={"n": INT}),
     "graph 'g': node 'a' input 'x': refers to unknown graph input 'zz'"),
    (graph([node("a", {"x": {"ref": "a.o0"}})]),
     "graph 'g': node 'a' input 'x': malformed reference 'a.o0'"),
    (graph([node("a", {"x": {"ref": ["b", "o0"], "val": {"v": 1}}})]),
     "graph 'g': node 'a' input 'x': malformed binding {'ref': ['b', 'o0'], 'val': {'v': 1}}"),
    (graph([node("a", {"x": 5})]), "graph 'g': node 'a' input 'x': malformed binding 5"),
    (graph([node("a", {"x": {"value": 5}})]),
     "graph 'g': node 'a' input 'x': unknown binding kind 'value'"),
    (graph([node("a", {"x": {"val": 5}})]),
     "graph 'g': node 'a' input 'x': malformed value reference 5"),
    (graph([node("a"), node("a")]), "graph 'g': node id 'a' appears twice"),
    (graph([node("a/b")]), "graph 'g': node id 'a/b' must be non-empty and contain no '/'"),
    (graph([node("")]), "graph 'g': node id '' must be non-empty and contain no '/'"),
    (graph([node("a", kind="teleport")]), "graph 'g': node 'a' has unknown kind 'teleport'"),
    (graph([node("a", kind="map")]), "graph 'g': map node 'a' carries no map"),
    (graph([node("a", kind="workflow")]),
     "graph 'g': sub-workflow node 'a' carries no subgraph"),
    (graph([NodeSpec("a", "task", TaskRef("m", "a", "a"), {"x": INT, "y": INT}, {"o0": INT},
                     {})]),
     "graph 'g': node 'a' has no binding for input(s) x, y"),
    (graph([NodeSpec("a", "task", TaskRef("m", "a", "a"), {}, {"o0": INT},
                     {"x": {"val": {"v": 1}}})]),
     "graph 'g': node 'a' binds unknown input 'x'"),
    (graph([node("sw", {"n": {"input": "n"}}, kind="workflow",
                  subgraph=graph([node("t", {"x": ref("nope")})], inputs={"n": INT},
                                 name="inner"))],
           inputs={"n": INT}),
     "graph 'g' > sub-workflow 'sw': node 't' input 'x': refers to unknown node 'nope'"),
])
def test_validation_errors_name_the_fault(spec, message):
    with pytest.raises(SpecError) as info:
        validate(spec)
    assert str(info.value) == message


def test_int_output_fits_float_input_and_optional():
    validate(graph([node("a"), node("b", {"x": ref("a"), "y": ref("a")},
                                    types={"x": FLOAT, "y": {"t": "optional", "of": INT}})]))
    with pytest.raises(SpecError, match=r"a\.o0 is float, which does not fit int"):
        validate(graph([node("a", outputs={"o0": FLOAT}), node("b", {"x": ref("a")})]))
    with pytest.raises(SpecError, match=r"a\.o0 is Optional\[int\], which does not fit int"):
        validate(graph([node("a", outputs={"o0": {"t": "optional", "of": INT}}),
                        node("b", {"x": ref("a")})]))


def test_a_graph_found_valid_is_not_checked_again_but_a_changed_copy_is(monkeypatch):
    import dataclasses

    import sdk.model.validate as checks

    good = graph([node("a"), node("b", {"x": ref("a")})])
    validate(good)
    calls = []
    monkeypatch.setattr(checks, "_check_acyclic", lambda *a: calls.append(a))
    validate(good)
    assert calls == []  # marked valid: nothing checked again
    assert good == graph([node("a"), node("b", {"x": ref("a")})])  # the mark is no field
    monkeypatch.undo()
    changed = dataclasses.replace(good, nodes=[node("a", {"x": ref("b")}),
                                               node("b", {"x": ref("a")})])
    with pytest.raises(SpecError, match="cycle among nodes a, b"):
        validate(changed)
    with pytest.raises(SpecError, match="cycle among nodes a, b"):
        validate(changed)  # an invalid graph is never marked


def test_validation_runs_on_loaded_specs():
    text = graph([node("a", {"x": ref("b")}), node("b", {"x": ref("a")})]).dumps()
    spec = GraphSpec.loads(text)  # loading only parses
    with pytest.raises(SpecError, match="cycle among nodes a, b"):
        validate(spec)
