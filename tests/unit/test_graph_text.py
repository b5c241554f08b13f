"""`graft graph`'s text: edges from the spec, boxes for nodes with children, colours by
state; the DOT output parses."""

from __future__ import annotations

import pydot
import pytest
from workflows.basic import chain

from sdk.remote.graph_text import edges, render


def _nodes():
    spec = chain.graph()
    nodes = {nid: {"task": n.task.name, "state": "SUCCEEDED", "kind": n.kind, "parent": None}
             for nid, n in spec.walk()}
    return spec, nodes


def test_edges_follow_the_data():
    spec, _ = _nodes()
    assert set(edges(spec)) == {("make_numbers", "square_all"),
                                ("square_all", "summarize"), ("summarize", "describe")}


def test_mermaid_and_dot_show_nodes_edges_boxes_and_states():
    spec, nodes = _nodes()
    nodes["square_all/0"] = {"task": "square", "state": "FAILED", "kind": "task",
                             "parent": "square_all"}
    mermaid = render(spec, nodes, "mermaid")
    assert mermaid.startswith("flowchart TD\n")
    assert 'subgraph n2_box["square_all (SUCCEEDED)"]' in mermaid
    assert '["0: square (FAILED)"]:::failed' in mermaid
    assert mermaid.count(" --> ") == 3 and "classDef failed fill:#f7c5c5" in mermaid
    dot = render(spec, nodes, "dot")
    [graph] = pydot.graph_from_dot_data(dot)
    assert len(graph.get_edges()) == 3
    [cluster] = graph.get_subgraphs()
    assert cluster.get_name() == "cluster_n2"
    assert [n.get_label() for n in cluster.get_nodes()] == ['"square_all (SUCCEEDED)"',
                                                            '"0: square (FAILED)"']


def test_an_unknown_format_is_refused():
    spec, nodes = _nodes()
    with pytest.raises(ValueError, match="unknown graph format 'svg'"):
        render(spec, nodes, "svg")


def test_a_dynamics_grafted_nodes_are_linked_by_their_board_inputs():
    spec, nodes = _nodes()
    nodes["square_all/n0"] = {"task": "square", "state": "SUCCEEDED", "parent": "square_all",
                              "inputs": {"x": {"val": {"v": 1}}}}
    nodes["square_all/n1"] = {"task": "add", "state": "RUNNING", "parent": "square_all",
                              "inputs": {"a": {"list": [{"ref": ["square_all/n0", "o0"]}]},
                                         "b": {"ref": ["make_numbers", "o0"]}}}
    mermaid = render(spec, nodes, "mermaid")
    names = {nid: f"n{i}" for i, nid in enumerate(sorted(nodes))}
    assert f"{names['square_all/n0']} --> {names['square_all/n1']}" in mermaid
    assert f"{names['make_numbers']} --> {names['square_all/n1']}" in mermaid
    assert mermaid.count(" --> ") == 5
