"""What the graph page draws (sdk/ui/graph.py): groups open or shut, counts, edges between
what is drawn, and a 10,000-node execution kept to a few hundred elements."""

from __future__ import annotations

import time

from sdk.ui.graph import Limits, children_summary, elements, natural_key


def node(state: str = "SUCCEEDED", kind: str = "task", parent: str | None = None,
         task: str = "t") -> dict:
    return {"state": state, "kind": kind, "parent": parent, "task": task}


def by_id(drawn: dict) -> dict[str, dict]:
    return {n["id"]: n for n in drawn["nodes"]}


def big_execution(width: int = 5000) -> tuple[dict, list]:
    """start -> fan (a dynamic of `width` tasks) -> items (a map of `width` items) -> end."""
    nodes = {"start": node(), "fan": node("RUNNING", "dynamic"),
             "items": node("RUNNING", "map"), "end": node("PENDING")}
    for i in range(width):
        nodes[f"fan/square-{i}" if i else "fan/square"] = node(
            "FAILED" if i == 7 else "SUCCEEDED" if i % 2 else "QUEUED", parent="fan")
        nodes[f"items/{i}"] = node("SUCCEEDED" if i < 100 else "QUEUED", parent="items")
    return nodes, [("start", "fan"), ("fan", "items"), ("items", "end")]


def test_ten_thousand_nodes_draw_as_a_handful_with_counts_by_state():
    nodes, links = big_execution()
    assert len(nodes) == 10_004
    started = time.perf_counter()
    drawn = elements(nodes, links)
    assert time.perf_counter() - started < 2.0
    shown = by_id(drawn)
    assert set(shown) == {"start", "fan", "items", "end"}
    assert shown["fan"]["group"] == "shut" and shown["fan"]["size"] == 5000
    assert shown["fan"]["counts"] == {"FAILED": 1, "SUCCEEDED": 2499, "QUEUED": 2500}
    assert shown["items"]["group"] == "shut"
    assert shown["items"]["counts"] == {"SUCCEEDED": 100, "QUEUED": 4900}
    assert shown["items"]["count_text"] == "4900 QUEUED, 100 SUCCEEDED"
    assert shown["items"]["p1"] == 2.0 and shown["items"]["p3"] == 98.0
    assert {(e["source"], e["target"]) for e in drawn["edges"]} == set(links)
    assert drawn["total"] == 10_004
    assert drawn["counts"]["QUEUED"] == 2500 + 4900


def test_opening_a_huge_group_draws_its_failed_then_first_children_and_one_for_the_rest():
    nodes, links = big_execution()
    drawn = elements(nodes, links, expand=["fan"], limits=Limits(shown_children=200))
    shown = by_id(drawn)
    assert shown["fan"]["group"] == "open"
    inside = [n for n in drawn["nodes"] if n.get("parent") == "fan" and "more" not in n]
    assert len(inside) == 200
    failed = [nid for nid, r in nodes.items() if r["parent"] == "fan" and r["state"] == "FAILED"]
    assert failed and [n["id"] for n in inside[:len(failed) + 2]] == \
        [*failed, "fan/square", "fan/square-1"]  # failed ones first, then in id order
    assert inside[-1]["id"] == "fan/square-199"
    assert shown["fan"]["count_text"] == "2500 QUEUED, 2499 SUCCEEDED, 1 FAILED"
    more = shown["fan#more"]
    assert more["parent"] == "fan" and more["more"] == 4800 and more["kind"] == "more"
    assert sum(more["counts"].values()) == 4800
    assert len(drawn["nodes"]) == 4 + 201
    # Edges to the group go to the group itself, not to its children.
    assert ("fan", "items") in {(e["source"], e["target"]) for e in drawn["edges"]}


def test_a_map_opens_only_on_request_and_only_when_small():
    nodes = {"m": node(kind="map"), **{f"m/{i}": node(parent="m") for i in range(12)}}
    assert by_id(elements(nodes, []))["m"]["group"] == "shut"
    opened = by_id(elements(nodes, [], expand=["m"]))
    assert opened["m"]["group"] == "open" and opened["m/11"]["parent"] == "m"
    assert opened["m/11"]["label"] == "11"
    too_big = elements(nodes, [], expand=["m"], limits=Limits(map_items=10))
    assert by_id(too_big)["m"]["group"] == "shut"


def test_small_groups_open_nested_and_the_user_can_shut_them():
    nodes = {"outer": node("RUNNING", "dynamic"),
             "outer/inner": node("RUNNING", "dynamic", parent="outer"),
             "outer/inner/a": node("QUEUED", parent="outer/inner"),
             "outer/inner/b": node("SUCCEEDED", parent="outer/inner"),
             "outer/c": node("PENDING", parent="outer")}
    links = [("outer/inner", "outer/c")]
    shown = by_id(elements(nodes, links))
    assert shown["outer"]["group"] == shown["outer/inner"]["group"] == "open"
    assert shown["outer/inner/a"]["parent"] == "outer/inner"
    assert shown["outer/inner"]["parent"] == "outer" and shown["outer/inner"]["label"] == "inner"
    shut = elements(nodes, links, collapse=["outer/inner"])
    assert set(by_id(shut)) == {"outer", "outer/inner", "outer/c"}
    assert by_id(shut)["outer/inner"]["counts"] == {"QUEUED": 1, "SUCCEEDED": 1}
    all_shut = elements(nodes, links, collapse=["outer"])
    assert set(by_id(all_shut)) == {"outer"} and all_shut["edges"] == []


def test_groups_stop_opening_by_themselves_past_the_budget():
    nodes = {}
    for g in range(30):
        nodes[f"d{g}"] = node(kind="dynamic")
        nodes.update({f"d{g}/t-{i}": node(parent=f"d{g}") for i in range(20)})
    drawn = elements(nodes, [], limits=Limits(budget=100))
    groups = [n for n in drawn["nodes"] if "group" in n]
    opened = [n["id"] for n in groups if n["group"] == "open"]
    assert 0 < len(opened) < 30 and len(drawn["nodes"]) <= 100 + 20
    assert opened == [f"d{g}" for g in range(len(opened))]  # the first ones, in order


def test_deep_recursion_does_not_recurse():
    nodes, parent = {}, None
    for _ in range(3000):
        nid = f"{parent}/fib" if parent else "fib"
        nodes[nid] = node(kind="dynamic", parent=parent)
        parent = nid
    drawn = elements(nodes, [])
    assert [n["id"] for n in drawn["nodes"]] == ["fib"]
    assert drawn["nodes"][0]["counts"] == {"SUCCEEDED": 1}


def test_children_summary_lists_failed_children_first():
    nodes, _ = big_execution(50)
    summary = children_summary(nodes, "fan", limit=5)
    assert summary["total"] == 50 and len(summary["children"]) == 5
    assert summary["children"][0] == {"id": "fan/square-7", "state": "FAILED", "task": "t",
                                      "kind": "task"}
    assert summary["children"][1]["state"] == "QUEUED"


def test_natural_order():
    ids = ["m/10", "m/2", "m/1", "t-10", "t-9", "t"]
    assert sorted(ids, key=natural_key) == ["m/1", "m/2", "m/10", "t", "t-9", "t-10"]


def test_a_waiting_gate_says_what_it_waits_for_and_counts_with_the_queued():
    def gate(state: str, kind: str, name: str, parent: str | None = None) -> dict:
        return {**node(state, "gate", parent, name), "gate": {"kind": kind, "name": name}}

    nodes = {"n": gate("WAITING", "signal", "title"), "ok": gate("WAITING", "approve", "ok"),
             "nap": gate("WAITING", "sleep", "sleep-gate"),
             "done": gate("SUCCEEDED", "signal", "x"),
             "sub": node("RUNNING", "workflow"), "sub/n": gate("WAITING", "signal", "n", "sub"),
             "sub/t": node("QUEUED", parent="sub")}
    shown = by_id(elements(nodes, [], collapse=["sub"]))
    assert shown["n"]["waiting"] == "waiting for signal 'title'"
    assert shown["ok"]["waiting"] == "waiting for approval 'ok'"
    assert shown["nap"]["waiting"] == "sleeping"
    assert "waiting" not in shown["done"] and shown["n"]["state"] == "WAITING"
    assert shown["sub"]["counts"] == {"WAITING": 1, "QUEUED": 1}
    assert shown["sub"]["p3"] == 100.0  # the pie's queued slice holds the waiting gate
    assert children_summary(nodes, "sub")["children"][0]["id"] == "sub/n"
