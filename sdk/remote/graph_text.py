"""An execution's graph as text for Mermaid or Graphviz (`graft graph ID --format mermaid|dot`).

Vertices are the execution's nodes as the status board has them, labelled with their task and
state and coloured by state; a node with children (a dynamic's sub-graph, a map's items, a
sub-workflow, a conditional's cases) is a box around them. Edges are the ordering
dependencies the submitted spec declares and the data dependencies of every node's input
bindings as the board has them, so the nodes of a dynamic's sub-graph, generated at run time,
are linked as they were grafted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sdk.model import bindings
from sdk.model.spec import GraphSpec

COLOURS = {"SUCCEEDED": "#c8f7c5", "FAILED": "#f7c5c5", "RUNNING": "#c5daf7",
           "QUEUED": "#f7f0c5", "WAITING": "#f7dcc5", "PENDING": "#eeeeee", "SKIPPED": "#dddddd",
           "CANCELLED": "#e0c5f7", "ABORTED": "#e0c5f7"}


def edges(spec: GraphSpec) -> Iterator[tuple[str, str]]:
    """(from, to) absolute node ids for every dependency the spec declares."""
    for node_id, node in spec.walk():
        scope = node_id.rsplit("/", 1)[0] + "/" if "/" in node_id else ""
        sources = {ref for b in node.inputs.values() for ref, _ in bindings.refs(b)}
        sources.update(node.after)
        for source in sorted(sources):
            yield scope + source, node_id


def board_edges(nodes: dict[str, dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(from, to) for every output a node's input bindings read, from its board record."""
    for node_id, node in nodes.items():
        inputs = node.get("inputs")
        if isinstance(inputs, dict):
            for source in sorted({ref for b in inputs.values() for ref, _ in bindings.refs(b)}):
                yield source, node_id


def _tree(nodes: dict[str, dict[str, Any]]) -> dict[str | None, list[str]]:
    children: dict[str | None, list[str]] = {}
    for nid in sorted(nodes):
        parent = nodes[nid].get("parent")
        children.setdefault(parent if parent in nodes else None, []).append(nid)
    return children


def render(spec: GraphSpec, nodes: dict[str, dict[str, Any]], fmt: str) -> str:
    """`nodes`: node id -> {"task", "state", "kind", "parent", "inputs"}; `fmt`: "mermaid"
    or "dot"."""
    names = {nid: f"n{i}" for i, nid in enumerate(sorted(nodes))}
    children = _tree(nodes)
    links = graph_edges(spec, nodes)
    if fmt == "mermaid":
        return _mermaid(nodes, names, children, links)
    if fmt == "dot":
        return _dot(spec.name, nodes, names, children, links)
    raise ValueError(f"unknown graph format {fmt!r} (mermaid or dot)")


def graph_edges(spec: GraphSpec, nodes: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """The edges (upstream id, downstream id) between the nodes on the board, sorted: the
    spec's and those of grafted sub-graphs (read from the nodes' input bindings)."""
    found = [*edges(spec), *board_edges(nodes)]
    return sorted({(a, b) for a, b in found if a in nodes and b in nodes})


def _label(nid: str, node: dict[str, Any]) -> str:
    short = nid.rsplit("/", 1)[-1]
    task = node.get("task") or ""
    head = short if task in ("", short) else f"{short}: {task}"
    return f"{head} ({node.get('state', '?')})"


def _mermaid(nodes: dict[str, dict[str, Any]], names: dict[str, str],
             children: dict[str | None, list[str]], links: list[tuple[str, str]]) -> str:
    lines = ["flowchart TD"]

    def emit(parent: str | None, depth: int) -> None:
        pad = "  " * depth
        for nid in children.get(parent, []):
            label = _label(nid, nodes[nid]).replace('"', "#quot;")
            if nid in children:
                lines.append(f'{pad}subgraph {names[nid]}_box["{label}"]')
                lines.append(f'{pad}  {names[nid]}["{label}"]:::{_css(nodes[nid])}')
                emit(nid, depth + 1)
                lines.append(f"{pad}end")
            else:
                lines.append(f'{pad}{names[nid]}["{label}"]:::{_css(nodes[nid])}')

    emit(None, 1)
    lines += [f"  {names[a]} --> {names[b]}" for a, b in links]
    lines += [f"  classDef {state.lower()} fill:{colour}" for state, colour in COLOURS.items()]
    return "\n".join(lines) + "\n"


def _css(node: dict[str, Any]) -> str:
    state = str(node.get("state") or "PENDING")
    return state.lower() if state in COLOURS else "pending"


def _dot(title: str, nodes: dict[str, dict[str, Any]], names: dict[str, str],
         children: dict[str | None, list[str]], links: list[tuple[str, str]]) -> str:
    lines = [f"digraph {json.dumps(title)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica"];']

    def emit(parent: str | None, depth: int) -> None:
        pad = "  " * depth
        for nid in children.get(parent, []):
            node = nodes[nid]
            colour = COLOURS.get(str(node.get("state")), COLOURS["PENDING"])
            vertex = (f'{pad}{names[nid]} [label={json.dumps(_label(nid, node))}, '
                      f'fillcolor="{colour}"];')
            if nid in children:
                lines.append(f"{pad}subgraph cluster_{names[nid]} {{")
                lines.append(f"{pad}  label={json.dumps(_label(nid, node))};")
                lines.append("  " + vertex)
                emit(nid, depth + 1)
                lines.append(f"{pad}}}")
            else:
                lines.append(vertex)

    emit(None, 1)
    lines += [f"  {names[a]} -> {names[b]};" for a, b in links]
    lines.append("}")
    return "\n".join(lines) + "\n"
