"""What the execution page draws: cytoscape.js elements built from the status board's node
records and the spec's edges, with the large parts of the graph collapsed. Pure: no I/O.

A node with children (a dynamic's sub-graph, a map's items, a sub-workflow, a branch's cases)
is a *group*. A group is drawn either open, as a compound node around its children, or shut,
as one node with the counts of its leaf descendants by state. Maps start shut (their items are
alike: the counts say all); other groups start open while they hold at most
`Limits.group_nodes` descendants and the page has not drawn `Limits.budget` nodes yet, widest
first. The page's clicks override that per group (`expand`, `collapse`). An open group draws at
most `Limits.shown_children` children; the rest are one "more" node with their counts. So a
page draws a few hundred nodes whatever the execution's size, and every node stays reachable
through its group's panel (`children`).
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Order of the slices of a shut group's pie (cytoscape's pie-1 ... pie-6); waiting gates
# count with the queued nodes (released, not running on a worker).
PIE = ("SUCCEEDED", "RUNNING", "QUEUED", "PENDING", "FAILED", "OTHER")
OTHER = ("SKIPPED", "CANCELLED", "ABORTED")
SLICE_OF = {"WAITING": "QUEUED"}
MORE = "#more"  # suffix of the id of an open group's "more children" node
# An open group draws its children failed ones first, then those running or waiting, then
# the rest, each in id order (a stable sort): what needs a look is never among the "more".
FIRST = {"FAILED": 0, "RUNNING": 1, "WAITING": 1}


@dataclass(frozen=True)
class Limits:
    """How much the page draws (node counts)."""

    group_nodes: int = 30  # a group with more descendants than this starts shut
    shown_children: int = 60  # an open group draws at most this many children
    map_items: int = 200  # a map with more items than this cannot be opened
    budget: int = 400  # groups stop opening by themselves once this many nodes are drawn


def natural_key(node_id: str) -> list[Any]:
    """Sort key putting `m/2` before `m/10` and `t-2` before `t-10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", node_id)]


class Tree:
    """The board's nodes as a tree (a node whose parent is not on the board is a root), with
    each node's count of descendants and its leaf descendants' states."""

    def __init__(self, nodes: Mapping[str, Mapping[str, Any]]):
        self.nodes = nodes
        self.children: dict[str | None, list[str]] = {}
        for nid in nodes:
            parent = nodes[nid].get("parent")
            self.children.setdefault(parent if parent in nodes else None, []).append(nid)
        for kids in self.children.values():
            kids.sort(key=natural_key)
        self.size: dict[str, int] = {}
        self.counts: dict[str, Counter[str]] = {}
        order: list[str] = []
        queue = deque(self.children.get(None, []))
        while queue:  # breadth first, then leaves up: no recursion, however deep dynamics nest
            nid = queue.popleft()
            order.append(nid)
            queue.extend(self.children.get(nid, []))
        for nid in reversed(order):
            kids = self.children.get(nid)
            if not kids:
                self.size[nid] = 0
                self.counts[nid] = Counter({state_of(nodes[nid]): 1})
                continue
            self.size[nid] = sum(1 + self.size[k] for k in kids)
            total: Counter[str] = Counter()
            for k in kids:
                total.update(self.counts[k])
            self.counts[nid] = total

    def roots(self) -> list[str]:
        return self.children.get(None, [])


def state_of(node: Mapping[str, Any]) -> str:
    return str(node.get("state") or "PENDING")


def count_text(counts: Mapping[str, int]) -> str:
    """"3 SUCCEEDED, 1 FAILED", biggest first."""
    return ", ".join(f"{n} {state}" for state, n in
                     sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def pie(counts: Mapping[str, int]) -> dict[str, float]:
    """`p1`..`p6`: the percentage of each PIE slice."""
    total = sum(counts.values()) or 1
    merged: Counter[str] = Counter()
    for state, n in counts.items():
        merged[SLICE_OF.get(state, state)] += n
    slices = [merged.get(s, 0) for s in PIE[:-1]] + [sum(merged.get(s, 0) for s in OTHER)]
    return {f"p{i + 1}": round(100.0 * n / total, 3) for i, n in enumerate(slices)}


def waiting_for(node: Mapping[str, Any]) -> str | None:
    """What a waiting gate waits for, as its drawing says it ("waiting for signal 'title'");
    None for any other node."""
    if node.get("kind") != "gate" or state_of(node) != "WAITING":
        return None
    gate = node.get("gate") or {}
    name = gate.get("name") or node.get("task") or ""
    if gate.get("kind") == "sleep":
        return "sleeping"
    what = "approval" if gate.get("kind") == "approve" else "signal"
    return f"waiting for {what} {name!r}"


def short_name(node_id: str, parent: str | None) -> str:
    if parent and node_id.startswith(parent + "/"):
        return node_id[len(parent) + 1:]
    return node_id.rsplit("/", 1)[-1]


def elements(nodes: Mapping[str, Mapping[str, Any]], links: Iterable[tuple[str, str]],
             expand: Iterable[str] = (), collapse: Iterable[str] = (),
             limits: Limits = Limits()) -> dict[str, Any]:
    """The elements to draw: `{"nodes": [data], "edges": [data], "counts": {state: n},
    "total": n}`.

    `nodes`: node id -> board record (`state`, `kind`, `task`, `parent`); `links`: (from, to)
    dependencies between node ids (ids that are not on the board are ignored); `expand` and
    `collapse`: groups the user opened or shut. Each node's data has `id`, `label`, `state`,
    `kind`, `task`, `parent` (its compound node, when drawn inside one), for a waiting gate
    `waiting` (what it waits for: `waiting_for`, read from the record's `gate`) and, for a group,
    `group` ("open" or "shut"), `size` (descendants), `counts` and pie slices; a "more" node
    (`<group>#more`) has `more` (how many children it stands for) and `counts`.
    """
    tree = Tree(nodes)
    opened, shut = set(expand), set(collapse)
    drawn: list[dict[str, Any]] = []
    shown: dict[str, str] = {}  # node id -> id of the element that stands for it
    queue: deque[tuple[str, str | None]] = deque((r, None) for r in tree.roots())
    while queue:  # breadth first, so that the budget opens the outer groups first
        nid, parent = queue.popleft()
        record = nodes[nid]
        data: dict[str, Any] = {"id": nid, "label": short_name(nid, record.get("parent")),
                                "state": state_of(record), "kind": record.get("kind", "task"),
                                "task": record.get("task", "")}
        if parent is not None:
            data["parent"] = parent
        note = waiting_for(record)
        if note is not None:
            data["waiting"] = note
        drawn.append(data)
        shown[nid] = nid
        kids = tree.children.get(nid)
        if not kids:
            continue
        data["size"] = tree.size[nid]
        if _is_open(nid, record, tree, opened, shut, len(drawn) + len(queue), limits):
            data["group"] = "open"
            data["count_text"] = count_text(tree.counts[nid])
            kids = sorted(kids, key=lambda k: FIRST.get(_worst(tree, k), len(FIRST)))
            for kid in kids[:limits.shown_children]:
                queue.append((kid, nid))
            rest = kids[limits.shown_children:]
            if rest:
                counts: Counter[str] = Counter()
                for kid in rest:
                    counts.update(tree.counts[kid])
                    _stand_in(tree, kid, nid + MORE, shown)
                drawn.append({"id": nid + MORE, "label": f"{len(rest)} more",
                              "state": "MORE", "kind": "more", "task": "", "parent": nid,
                              "more": len(rest), "counts": dict(counts),
                              "count_text": count_text(counts), **pie(counts)})
        else:
            data["group"] = "shut"
            data["counts"] = dict(tree.counts[nid])
            data["count_text"] = count_text(tree.counts[nid])
            data.update(pie(tree.counts[nid]))
            for kid in kids:
                _stand_in(tree, kid, nid, shown)
    edges: dict[tuple[str, str], dict[str, str]] = {}
    for a, b in links:
        source, target = shown.get(a), shown.get(b)
        if source is None or target is None or source == target:
            continue
        edges.setdefault((source, target), {"id": f"{source}->{target}", "source": source,
                                            "target": target})
    return {"nodes": drawn, "edges": list(edges.values()),
            "counts": dict(Counter(state_of(r) for r in nodes.values())), "total": len(nodes)}


def _worst(tree: Tree, nid: str) -> str:
    """The state a node sorts by among its siblings: a group's most urgent leaf state."""
    counts = tree.counts[nid]
    return min(counts, key=lambda state: FIRST.get(state, len(FIRST)))


def _is_open(nid: str, record: Mapping[str, Any], tree: Tree, opened: set[str],
             shut: set[str], drawn: int, limits: Limits) -> bool:
    if nid in shut:
        return False
    if record.get("kind") == "map":
        return nid in opened and len(tree.children[nid]) <= limits.map_items
    if nid in opened:
        return True
    return tree.size[nid] <= limits.group_nodes and drawn + tree.size[nid] <= limits.budget


def _stand_in(tree: Tree, top: str, element: str, shown: dict[str, str]) -> None:
    """`element` stands for `top` and all its descendants."""
    stack = [top]
    while stack:
        nid = stack.pop()
        shown[nid] = element
        stack.extend(tree.children.get(nid, ()))


def children_summary(nodes: Mapping[str, Mapping[str, Any]], group: str,
                     limit: int = 500) -> dict[str, Any]:
    """A group's children for its panel: counts of its leaf descendants by state and its
    first `limit` children, failed ones first (`{"id", "state", "task", "kind"}`)."""
    tree = Tree(nodes)
    kids = tree.children.get(group, [])
    rank = {"FAILED": 0, "RUNNING": 1, "WAITING": 1, "QUEUED": 2}
    ordered = sorted(kids, key=lambda k: rank.get(state_of(nodes[k]), 3))
    return {"counts": dict(tree.counts.get(group, {})), "total": len(kids),
            "children": [{"id": k, "state": state_of(nodes[k]), "task": nodes[k].get("task", ""),
                          "kind": nodes[k].get("kind", "task")} for k in ordered[:limit]]}
