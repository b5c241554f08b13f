"""Large specs whose top graph's nodes are parsed as they are read (`sdk.model.spec_lazy`):
the same graph as a whole parse, a fraction of its memory, the same errors."""

import dataclasses
import json
import tracemalloc

import pytest
from test_engine import complete, graph, node, ref, val

from sdk.model import spec_lazy
from sdk.model.engine import Engine
from sdk.model.errors import SpecError
from sdk.model.report import Report
from sdk.model.spec import GraphSpec, OutputSpec
from sdk.model.states import ExecutionState
from sdk.model.validate import validate

INT = {"t": "int"}
INTS = {"t": "list", "of": INT}


@pytest.fixture(autouse=True)
def small_is_large(monkeypatch):
    """Documents of 1,000 characters or more are read lazily here."""
    monkeypatch.setattr(spec_lazy, "LAZY_CHARS", 1000)


def fan(n, extra=()):
    children = [dataclasses.replace(node("c", {"x": val(i)}), id=f"c{i}") for i in range(n)]
    children += extra  # one task template for the n children, as a dynamic's fan-out has
    return GraphSpec("fan", {}, children,
                     [OutputSpec("o0", INTS, {"list": [ref(f"c{i}") for i in range(n)]})])


def lazy(spec):
    loaded = GraphSpec.loads(" \n" + spec.dumps().replace(",", ", ") + "\n")
    assert spec_lazy.is_lazy(loaded)
    return loaded


def test_a_large_spec_reads_as_the_same_graph():
    spec = fan(50)
    loaded = lazy(spec)
    assert loaded == GraphSpec.from_json(json.loads(spec.dumps())) == spec
    assert len(loaded.nodes) == 50 and loaded.outputs == spec.outputs
    nodes = loaded.nodes
    assert nodes[10:13] == spec.nodes[10:13]  # from the start
    assert nodes[13:20] == spec.nodes[13:20]  # on from where the last read ended
    assert nodes[2:4] == spec.nodes[2:4]  # back: from the start again
    assert nodes[-1] == spec.nodes[-1] and nodes[7] == spec.nodes[7]
    assert nodes[::10] == spec.nodes[::10] and nodes[40:] == spec.nodes[40:]
    assert nodes[30:30] == [] and list(nodes) == spec.nodes
    with pytest.raises(IndexError):
        nodes[50]


def test_small_specs_other_versions_and_bad_text_are_parsed_whole():
    small = GraphSpec.loads(fan(2).dumps().replace("fan", "f"))
    assert isinstance(small.nodes, list)
    data = json.loads(fan(50).dumps())
    data["version"] = 3
    with pytest.raises(SpecError, match="version 3 is not supported"):
        GraphSpec.loads(json.dumps(data))
    with pytest.raises(SpecError, match="not valid JSON"):
        GraphSpec.loads(fan(50).dumps()[:-40])
    data["version"], data["tasks"] = 2, []
    with pytest.raises(SpecError, match='"tasks" must be an object'):
        GraphSpec.loads(json.dumps(data))


def test_malformed_outputs_fail_the_load():
    data = json.loads(fan(50).dumps())
    del data["outputs"][0]["name"]
    with pytest.raises(SpecError, match="graph spec 'fan': malformed outputs: KeyError"):
        GraphSpec.loads(json.dumps(data))


def test_a_bad_node_is_named_when_it_is_read():
    data = json.loads(fan(50).dumps())
    data["nodes"][30]["task"] = "nothing"
    loaded = GraphSpec.loads(json.dumps(data))
    with pytest.raises(SpecError, match="node 'c30': unknown task template 'nothing'"):
        validate(loaded)


@pytest.mark.parametrize("change, error", [
    (lambda nodes: nodes.append(node("c3")), "node id 'c3' appears twice"),
    (lambda nodes: nodes.append(node("z", {"x": ref("nope")})),
     "refers to unknown node 'nope'"),
    (lambda nodes: nodes.insert(0, node("z", {"x": ref("c5", "o9")})),
     "node 'c5' has no output 'o9'"),
    (lambda nodes: nodes.extend([node("y", {"x": ref("z")}), node("z", {"x": ref("y")})]),
     "cycle among nodes y, z"),
])
def test_a_lazy_graph_fails_validation_as_the_whole_one_does(change, error):
    spec = fan(50)
    nodes = list(spec.nodes)
    change(nodes)
    bad = GraphSpec(spec.name, {}, nodes, spec.outputs)
    for parsed in (GraphSpec.from_json(json.loads(bad.dumps())), lazy(bad)):
        with pytest.raises(SpecError, match=error):
            validate(parsed)


def test_a_node_may_refer_to_one_further_on_and_the_visit_sees_each_node_once():
    spec = fan(50)
    forward = GraphSpec(spec.name, {}, [node("first", {"x": ref("c49")}), *spec.nodes],
                        spec.outputs)
    seen = []
    validate(lazy(forward), visit=lambda n: seen.append(n.id))
    assert seen == ["first"] + [f"c{i}" for i in range(50)]


def test_it_holds_a_fraction_of_the_parsed_graphs_memory():
    text = fan(20_000).dumps()

    def held(parse):
        tracemalloc.start()
        kept = parse(text)
        size = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del kept
        return size

    whole = held(lambda t: GraphSpec.from_json(json.loads(t)))
    assert held(GraphSpec.loads) < whole / 10  # the text


def test_an_engine_grafts_a_lazy_sub_graph_in_slices():
    top = graph([node("d", kind="dynamic", outputs={"o0": INTS})],
                outputs={"o0": (INTS, ref("d"))})
    engine = Engine(top, {}, graft_slice=7)
    engine.start()
    ready = engine.apply(Report.grafted("d", 1, lazy(fan(50))))
    while ready or engine.grafting:
        ready += engine.graft_more()
        nid = ready.pop(0)
        ready += complete(engine, nid, 1, {"o0": val(int(nid[3:]) * 2)})
    assert engine.state == ExecutionState.SUCCEEDED
    assert engine.outputs == {"o0": {"list": [val(i * 2) for i in range(50)]}}


def test_grafting_reads_the_output_types_without_parsing_the_output_list(monkeypatch):
    top = graph([node("d", kind="dynamic", outputs={"o0": INTS})],
                outputs={"o0": (INTS, ref("d"))})
    engine = Engine(top, {}, graft_slice=7)
    engine.start()
    sub = lazy(fan(50))
    validate(sub)  # as the scheduler's loading thread does, off its loop
    assert sub.output_types() == {"o0": INTS}
    parsed = []
    monkeypatch.setattr(spec_lazy.LazyOutputs, "_parse",
                        lambda self: parsed.append(1) or [])
    assert len(engine.apply(Report.grafted("d", 1, sub))) == 7
    assert parsed == []


def test_loading_and_checking_a_fan_out_never_parses_its_output_list_whole():
    """A fan-out's output lists every node: parsed whole (by the load's scan, then by the
    check of the outputs) it cost some 400 bytes a node, at 1,000,000 nodes the scheduler's
    peak (issue 26). Read an item at a time, each step's peak is the text and a small record
    per node."""
    n = 20_000
    data = fan(n).dumps().encode()  # as the store hands it over

    def peak(step):
        tracemalloc.start()
        try:
            kept = step()
            return tracemalloc.get_traced_memory()[1], kept
        finally:
            tracemalloc.stop()

    loaded_peak, loaded = peak(lambda: GraphSpec.loads(data))
    assert spec_lazy.is_lazy(loaded)
    checked_peak, _ = peak(lambda: validate(loaded))
    assert loaded_peak / n < len(data) / n + 60, f"loading: {loaded_peak / n:.0f} B a node"
    assert checked_peak / n < 150, f"checking: {checked_peak / n:.0f} B a node"


@pytest.mark.parametrize("item, error", [
    (ref("nope"), r"output 'o0'\[7\]: refers to unknown node 'nope'"),
    (ref("c3", "o9"), r"output 'o0'\[7\]: node 'c3' has no output 'o9'"),
])
def test_a_bad_item_of_a_lazy_output_list_is_named_as_in_the_whole_graph(item, error):
    spec = fan(50)
    items = list(spec.outputs[0].binding["list"])
    items[7] = item
    bad = GraphSpec(spec.name, {}, spec.nodes, [OutputSpec("o0", INTS, {"list": items})])
    for parsed in (GraphSpec.from_json(json.loads(bad.dumps())), lazy(bad)):
        with pytest.raises(SpecError, match=error):
            validate(parsed)
