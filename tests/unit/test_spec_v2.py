"""Spec v2 (sdk.model.spec_json): task templates kept once per document, nodes referring to
them; version 1 specs, written by main's serializer before v2 (tests/data/spec_v1_*.json),
still load."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from workflows import basic, control_flow, dynamics

from sdk.model import spec_v1
from sdk.model.errors import SpecError
from sdk.model.spec import GraphSpec, node_from_json, node_to_json
from sdk.model.validate import validate
from sdk.values.store import MemoryStore

DATA = Path(__file__).parent.parent / "data"
COMPILED = (control_flow.map_of_workflow, control_flow.nested, control_flow.fails_at_once,
            control_flow.fails_after_the_rest, control_flow.dynamic_cond, control_flow.tolerant,
            dynamics.nested_wf, basic.with_subworkflow, basic.dataclasses_wf)


def v1(name: str) -> Any:
    return json.loads((DATA / f"spec_v1_{name}.json").read_text())


def nodes_json(graph: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node object of a v2 graph's JSON, inner graphs included."""
    found = []
    for node in [*graph["nodes"], *([graph["on_failure"]] if graph.get("on_failure") else [])]:
        found.append(node)
        if node.get("subgraph"):
            found += nodes_json(node["subgraph"])
        if node.get("map"):
            found.append(node["map"]["template"])
        for case in (node.get("branch") or {}).get("cases", []):
            if case["graph"]:
                found += nodes_json(case["graph"])
    return found


# ---- v2 round trip ------------------------------------------------------------------------

def test_every_node_kind_round_trips_through_one_template_table():
    spec = GraphSpec.from_json(v1("all_kinds"))
    data = json.loads(spec.dumps())
    assert data["version"] == 2
    kinds = {t["kind"] for t in data["tasks"].values()}
    assert kinds == {"task", "dynamic", "workflow", "map", "branch"}
    found = nodes_json(data)
    assert {n["id"] for n in found} == {"prep", "fan", "sub", "sq", "sq-map", "item", "sq-1",
                                        "pick", "double", "cleanup"}
    for node in found:  # nested graphs refer to the top table, and carry no task definition
        assert node["task"] in data["tasks"]
        assert not {"kind", "interface", "resources", "cache", "retries"} & set(node)
    assert "tasks" not in data["nodes"][2]["subgraph"]
    back = GraphSpec.from_json(data)
    assert back == spec
    validate(back)
    assert back.dumps() == spec.dumps()
    assert back.on_failure is not None and back.on_failure.id == "cleanup"
    prep = back.node_map()["prep"]
    assert (prep.retries, prep.timeout_s, prep.image, prep.cache_ignored, prep.memory_bytes,
            prep.cache_serialize) == (2, 30.0, "python:3.12", ("n",), 2048, True)


@pytest.mark.parametrize("wf", COMPILED, ids=lambda wf: wf.name)
def test_compiled_workflows_round_trip_in_v2(wf):
    spec = wf.compile()
    text = spec.dumps()
    assert json.loads(text)["version"] == 2
    assert GraphSpec.loads(text) == spec
    assert GraphSpec.loads(text).dumps() == text


def test_equal_templates_are_one_entry_and_overrides_get_their_own():
    spec = GraphSpec.from_json(v1("all_kinds"))
    sq = spec.node_map()["sq"]
    tweaked = dataclasses.replace(sq, id="sq-2", retries=5)
    data = dataclasses.replace(spec, nodes=[*spec.nodes, tweaked]).to_json()
    ids = {n["id"]: n["task"] for n in data["nodes"]}
    assert ids["sq"] == ids["sq-1"] == "square"
    assert ids["sq-2"] not in ("square", "square-1") and ids["sq-2"].startswith("square-")
    assert data["tasks"][ids["sq-2"]]["retries"] == 5


def test_nodes_of_one_template_share_its_parsed_objects():
    spec = GraphSpec.loads(dynamics.fan_out.expand({"n": 50}, MemoryStore(), "b" * 64).dumps())
    first, *rest = spec.nodes
    assert len(rest) == 49
    for node in rest:
        assert node.task is first.task and node.inputs_types is first.inputs_types
        assert node.outputs_types is first.outputs_types and node.requests is first.requests


# ---- size ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1000])
def test_a_dynamic_fan_out_costs_its_bindings_per_node_not_its_task(n):
    sub = dynamics.fan_out.expand({"n": n}, MemoryStore(), "b" * 64)
    new = len(sub.dumps().encode())
    old = len(json.dumps({"version": 1, **spec_v1.graph_to_json(sub)},
                         separators=(",", ":")).encode())
    assert len(json.loads(sub.dumps())["tasks"]) == 1
    assert new / n < 120, f"{new / n:.0f} bytes a node"
    assert old / new > 4, f"v1 {old / n:.0f} bytes a node, v2 {new / n:.0f}"


# ---- version 1 still loads ----------------------------------------------------------------

def test_v1_spec_with_every_node_kind_loads_and_validates():
    spec = GraphSpec.from_json(v1("all_kinds"))
    validate(spec)
    assert [(i, n.kind) for i, n in spec.walk()] == [
        ("prep", "task"), ("fan", "dynamic"), ("sub", "workflow"), ("sub/sq", "task"),
        ("sq-map", "map"), ("sq-map/*", "task"), ("sq", "task"), ("sq-1", "task"),
        ("pick", "branch"), ("pick/a/double", "task"), ("cleanup", "task")]
    # the v1 writer kept for task messages still writes exactly what main wrote
    assert {"version": 1, **spec_v1.graph_to_json(spec)} == v1("all_kinds")


@pytest.mark.parametrize("wf", COMPILED, ids=lambda wf: wf.name)
def test_v1_specs_compiled_by_main_load_as_todays_compile(wf):
    assert GraphSpec.from_json(v1("compiled")[wf.name]) == wf.compile()


def test_v1_dynamic_subgraph_from_an_older_worker_loads():
    text = (DATA / "spec_v1_dynamic_subgraph.json").read_text()
    sub = GraphSpec.loads(text)
    assert len(sub.nodes) == 20 and sub.nodes[0].task.bundle == "bundle-2"
    assert sub.nodes[19].inputs == {"x": {"val": {"v": 19}}}
    validate(sub)


def test_task_message_node_stays_in_the_self_contained_v1_form():
    payload = v1("node_payload")
    node = node_from_json(payload)
    assert node.retries == 2 and node.memory_bytes == 2048
    spec = GraphSpec.loads(GraphSpec.from_json(v1("all_kinds")).dumps())
    sent = node_to_json(dataclasses.replace(spec.node_map()["prep"], inputs={}, subgraph=None))
    assert sent == payload


# ---- forged or malformed v2 ---------------------------------------------------------------

def _doc(**changes: Any) -> dict[str, Any]:
    data = GraphSpec.from_json(v1("all_kinds")).to_json()
    data = json.loads(json.dumps(data))
    for path, value in changes.items():
        target = data
        *steps, last = path.split(".")
        for step in steps:
            target = target[int(step)] if isinstance(target, list) else target[step]
        target[last] = value
    return data


@pytest.mark.parametrize(("changes", "message"), [
    ({"nodes.0.task": "nope"}, "graph spec 'fixture': node 'prep': unknown task template "
                               "'nope' (the spec's \"tasks\" table has no such id)"),
    ({"nodes.2.subgraph.nodes.0.task": "gone"}, "node 'sub/sq': unknown task template 'gone'"),
    ({"nodes.3.map.template.task": "gone"}, "node 'sq-map/item': unknown task template"),
    ({"nodes.6.branch.cases.0.graph.nodes.0.task": "gone"},
     "node 'pick/a/double': unknown task template 'gone'"),
    ({"on_failure.task": "gone"}, "node 'cleanup': unknown task template 'gone'"),
    ({"nodes.0.task": {"module": "os", "qualname": "system"}},
     "node 'prep': \"task\" must be the id of a task template, got {'module': 'os'"),
    ({"nodes.1.inputs": ["n"]}, "node 'fan': \"inputs\" must map input names to bindings"),
    ({"nodes.1.after": "prep"}, "node 'fan': \"after\" must be a list of node ids"),
    ({"tasks.prep.retries": "3"}, "node 'prep': task template 'prep': retries is malformed"),
    ({"tasks.prep.retries": True}, "node 'prep': task template 'prep': retries is malformed"),
    ({"tasks.prep.kind": "shell"}, "node 'prep': task template 'prep': unknown kind 'shell'"),
    ({"tasks.fan.interface": {"inputs": [], "outputs": {}}},
     "node 'fan': task template 'fan': interface.inputs is malformed"),
    ({"tasks.fan.task": {"module": 1, "qualname": "fan"}},
     "node 'fan': task template 'fan': task.module is malformed"),
    ({"tasks.fan.limits": "2Gi"}, "node 'fan': task template 'fan': limits is malformed"),
    ({"nodes.4.id": 7}, "node #4 under 'the top' has no string id"),
    ({"tasks": None}, "graph spec 'fixture': \"tasks\" must be an object of task templates"),
    ({"nodes.3.map": {"mapped": ["x"]}}, "node 'sq-map' is malformed: KeyError('template')"),
])
def test_forged_or_malformed_v2_spec_is_refused_naming_the_node(changes, message):
    with pytest.raises(SpecError) as info:
        GraphSpec.from_json(_doc(**changes))
    assert message in str(info.value)
