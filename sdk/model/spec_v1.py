"""Version 1 of the graph spec's JSON form: every node carries its whole task definition.

graft writes version 2 (`sdk.model.spec_json`) since spec v2; this module reads the version 1
specs still stored in SQL and the store (specs, launch plans, the sub-graphs older workers
wrote under `subgraphs/`), and writes the one-node form a task message carries to workers
(`node_to_json`), which version 2 keeps: a message holds one node, so there is nothing to
share, and workers of either version read it.
"""

from __future__ import annotations

from typing import Any

from sdk.model.spec import (
    FAIL_IMMEDIATELY,
    BranchSpec,
    Case,
    GateSpec,
    GraphSpec,
    MapSpec,
    NodeSpec,
    OutputSpec,
    TaskRef,
)


def node_to_json(n: NodeSpec) -> dict[str, Any]:
    """One node's self-contained (version 1) JSON form, inner nodes and graphs included."""
    out: dict[str, Any] = {
        "id": n.id,
        "kind": n.kind,
        "task": {"module": n.task.module, "qualname": n.task.qualname, "name": n.task.name,
                 "bundle": n.task.bundle},
        "interface": {"inputs": n.inputs_types, "outputs": n.outputs_types},
        "inputs": n.inputs,
        "resources": {"requests": n.requests, "limits": n.limits},
        "cache": cache_to_json(n, full=True),
        "retries": n.retries,
        "timeout_s": n.timeout_s,
        "subgraph": graph_to_json(n.subgraph) if n.subgraph is not None else None,
    }
    if n.after:
        out["after"] = list(n.after)
    if n.image:
        out["image"] = n.image
    if n.map is not None:
        m = n.map
        out["map"] = {"template": node_to_json(m.template), "mapped": list(m.mapped),
                      "concurrency": m.concurrency, "min_success_ratio": m.min_success_ratio,
                      "min_successes": m.min_successes}
    if n.branch is not None:
        out["branch"] = {"name": n.branch.name, "cases": [
            {"label": c.label, "when": c.when, "fail": c.fail,
             "graph": graph_to_json(c.graph) if c.graph is not None else None}
            for c in n.branch.cases]}
    if n.gate is not None:
        out["gate"] = {"kind": n.gate.kind, "name": n.gate.name,
                       "duration_s": n.gate.duration_s, "type": n.gate.type}
    return out


def graph_to_json(g: GraphSpec) -> dict[str, Any]:
    """A graph's version 1 form (without its `version`)."""
    out = {
        "name": g.name,
        "inputs": g.inputs,
        "nodes": [node_to_json(n) for n in g.nodes],
        "outputs": [{"name": o.name, "type": o.type, "binding": o.binding} for o in g.outputs],
        "output_style": g.output_style,
        "output_ref": g.output_ref,
    }
    if g.failure_policy != FAIL_IMMEDIATELY:
        out["failure_policy"] = g.failure_policy
    if g.on_failure is not None:
        out["on_failure"] = node_to_json(g.on_failure)
    if g.timeout_s is not None:
        out["timeout_s"] = g.timeout_s
    return out


def cache_to_json(n: NodeSpec, full: bool) -> dict[str, Any]:
    """A node's cache settings; `full` writes `enabled` and `version` even when unset."""
    out: dict[str, Any] = {"enabled": n.cache, "version": n.cache_version} if full or n.cache \
        or n.cache_version else {}
    if n.cache_serialize:
        out["serialize"] = True
    if n.cache_ignored:
        out["ignored"] = list(n.cache_ignored)
    return out


def graph_from_json(d: dict[str, Any]) -> GraphSpec:
    """Parse a version 1 graph (KeyError, TypeError... when malformed)."""
    return GraphSpec(
        name=str(d["name"]),
        inputs=dict(d.get("inputs") or {}),
        nodes=[node_from_json(n) for n in d["nodes"]],
        outputs=[OutputSpec(o["name"], o["type"], o["binding"]) for o in d["outputs"]],
        output_style=d.get("output_style", "single"),
        output_ref=d.get("output_ref"),
        failure_policy=str(d.get("failure_policy") or FAIL_IMMEDIATELY),
        on_failure=node_from_json(d["on_failure"]) if d.get("on_failure") else None,
        timeout_s=float(d["timeout_s"]) if d.get("timeout_s") is not None else None,
    )


def node_from_json(d: dict[str, Any]) -> NodeSpec:
    """Parse a version 1 node (KeyError, TypeError... when malformed)."""
    t, iface, res, cache = d["task"], d["interface"], d.get("resources") or {}, d.get("cache") or {}
    mapped = d.get("map")
    branch = d.get("branch")
    gate = d.get("gate")
    return NodeSpec(
        id=str(d["id"]),
        kind=d["kind"],
        task=TaskRef(t["module"], t["qualname"], t.get("name") or t["qualname"], t.get("bundle")),
        inputs_types=dict(iface["inputs"]),
        outputs_types=dict(iface["outputs"]),
        inputs=dict(d["inputs"]),
        requests=dict(res.get("requests") or {}),
        limits=dict(res.get("limits") or {}),
        cache=bool(cache.get("enabled", False)),
        cache_version=str(cache.get("version", "")),
        cache_serialize=bool(cache.get("serialize", False)),
        cache_ignored=tuple(str(x) for x in cache.get("ignored") or ()),
        retries=int(d.get("retries", 0)),
        timeout_s=d.get("timeout_s"),
        subgraph=graph_from_json(d["subgraph"]) if d.get("subgraph") else None,
        after=tuple(str(a) for a in d.get("after") or ()),
        image=d.get("image"),
        map=MapSpec(node_from_json(mapped["template"]), tuple(mapped["mapped"]),
                    mapped.get("concurrency"), float(mapped.get("min_success_ratio", 1.0)),
                    mapped.get("min_successes")) if mapped else None,
        branch=BranchSpec(str(branch["name"]), tuple(
            Case(str(c["label"]), c.get("when"),
                 graph_from_json(c["graph"]) if c.get("graph") else None, c.get("fail"))
            for c in branch["cases"])) if branch else None,
        gate=GateSpec(str(gate["kind"]), str(gate["name"]), gate.get("duration_s"),
                      gate.get("type")) if gate else None,
    )
