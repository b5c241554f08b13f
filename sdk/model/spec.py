"""The graph spec: plain data every workflow and every dynamic sub-graph compiles to.

Nodes bind their inputs with bindings (`sdk.model.bindings`); the validator checks a graph
before anything runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.typesys import TypeDesc, is_assignable, type_name

SPEC_VERSION = 1
NODE_KINDS = ("task", "dynamic", "workflow")


@dataclass(frozen=True)
class TaskRef:
    """Where a node's code lives: importable `module:qualname`, plus a code bundle id."""

    module: str
    qualname: str
    name: str
    bundle: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.module}:{self.qualname}"


@dataclass(frozen=True)
class NodeSpec:
    id: str
    kind: str
    task: TaskRef
    inputs_types: dict[str, TypeDesc]
    outputs_types: dict[str, TypeDesc]
    inputs: dict[str, Binding]
    requests: dict[str, Any] = field(default_factory=dict)
    limits: dict[str, Any] = field(default_factory=dict)
    cache: bool = False
    cache_version: str = ""
    retries: int = 0
    timeout_s: float | None = None
    subgraph: GraphSpec | None = None

    @property
    def max_attempts(self) -> int:
        return self.retries + 1

    @property
    def memory_bytes(self) -> int | None:
        """The memory a node needs: its limit, else its request, else None."""
        return self.limits.get("mem_bytes") or self.requests.get("mem_bytes")


@dataclass(frozen=True)
class OutputSpec:
    name: str
    type: TypeDesc
    binding: Binding


@dataclass(frozen=True)
class GraphSpec:
    """A graph: named inputs, nodes in insertion order, output bindings.

    `output_style` is how outputs come back to Python: "none", "single", "tuple" or
    "namedtuple" (then `output_ref` names the NamedTuple class).
    """

    name: str
    inputs: dict[str, TypeDesc]
    nodes: list[NodeSpec]
    outputs: list[OutputSpec]
    output_style: str = "single"
    output_ref: str | None = None

    def node_map(self) -> dict[str, NodeSpec]:
        return {n.id: n for n in self.nodes}

    def walk(self, prefix: str = "") -> Iterator[tuple[str, NodeSpec]]:
        """Every node with its absolute id, sub-workflows included (dynamic sub-graphs are not
        known until run time)."""
        for node in self.nodes:
            yield prefix + node.id, node
            if node.subgraph is not None:
                yield from node.subgraph.walk(f"{prefix}{node.id}/")

    def to_json(self) -> dict[str, Any]:
        return {"version": SPEC_VERSION, **_graph_to_json(self)}

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Any) -> GraphSpec:
        if not isinstance(data, dict):
            raise SpecError(f"a graph spec is a JSON object, got {type(data).__name__}")
        version = data.get("version", SPEC_VERSION)
        if version != SPEC_VERSION:
            raise SpecError(f"graph spec version {version!r} is not supported (expected 1)")
        try:
            return _graph_from_json(data)
        except SpecError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SpecError(f"malformed graph spec {data.get('name', '?')!r}: {exc!r}") from exc

    @classmethod
    def loads(cls, text: str | bytes) -> GraphSpec:
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SpecError(f"graph spec is not valid JSON: {exc}") from exc


def _graph_to_json(g: GraphSpec) -> dict[str, Any]:
    return {
        "name": g.name,
        "inputs": g.inputs,
        "nodes": [_node_to_json(n) for n in g.nodes],
        "outputs": [{"name": o.name, "type": o.type, "binding": o.binding} for o in g.outputs],
        "output_style": g.output_style,
        "output_ref": g.output_ref,
    }


def _node_to_json(n: NodeSpec) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "task": {"module": n.task.module, "qualname": n.task.qualname, "name": n.task.name,
                 "bundle": n.task.bundle},
        "interface": {"inputs": n.inputs_types, "outputs": n.outputs_types},
        "inputs": n.inputs,
        "resources": {"requests": n.requests, "limits": n.limits},
        "cache": {"enabled": n.cache, "version": n.cache_version},
        "retries": n.retries,
        "timeout_s": n.timeout_s,
        "subgraph": _graph_to_json(n.subgraph) if n.subgraph is not None else None,
    }


def _graph_from_json(d: dict[str, Any]) -> GraphSpec:
    return GraphSpec(
        name=str(d["name"]),
        inputs=dict(d.get("inputs") or {}),
        nodes=[_node_from_json(n) for n in d["nodes"]],
        outputs=[OutputSpec(o["name"], o["type"], o["binding"]) for o in d["outputs"]],
        output_style=d.get("output_style", "single"),
        output_ref=d.get("output_ref"),
    )


def _node_from_json(d: dict[str, Any]) -> NodeSpec:
    t, iface, res, cache = d["task"], d["interface"], d.get("resources") or {}, d.get("cache") or {}
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
        retries=int(d.get("retries", 0)),
        timeout_s=d.get("timeout_s"),
        subgraph=_graph_from_json(d["subgraph"]) if d.get("subgraph") else None,
    )


def validate(graph: GraphSpec, where: str = "") -> None:
    """Check a graph and its sub-workflows; SpecError names the node and binding at fault.

    Checks: node ids unique and free of '/', kinds known, every reference names an existing
    node and output, every `input` binding names a graph input, bound types fit, no cycles.
    """
    where = where or f"graph {graph.name!r}"
    nodes: dict[str, NodeSpec] = {}
    for node in graph.nodes:
        if not node.id or "/" in node.id:
            raise SpecError(f"{where}: node id {node.id!r} must be non-empty and contain no '/'")
        if node.id in nodes:
            raise SpecError(f"{where}: node id {node.id!r} appears twice")
        if node.kind not in NODE_KINDS:
            raise SpecError(f"{where}: node {node.id!r} has unknown kind {node.kind!r}")
        if node.kind == "workflow" and node.subgraph is None:
            raise SpecError(f"{where}: sub-workflow node {node.id!r} carries no subgraph")
        nodes[node.id] = node
    deps: dict[str, set[str]] = {}
    for node in graph.nodes:
        missing = set(node.inputs_types) - set(node.inputs)
        if missing:
            raise SpecError(f"{where}: node {node.id!r} has no binding for input(s) "
                            f"{', '.join(sorted(missing))}")
        deps[node.id] = set()
        for name, binding in node.inputs.items():
            if name not in node.inputs_types:
                raise SpecError(f"{where}: node {node.id!r} binds unknown input {name!r}")
            at = f"{where}: node {node.id!r} input {name!r}"
            _check_binding(binding, node.inputs_types[name], graph, nodes, at)
            deps[node.id].update(src for src, _ in bindings.refs(binding))
        if node.subgraph is not None:
            validate(node.subgraph, f"{where} > sub-workflow {node.id!r}")
    for out in graph.outputs:
        _check_binding(out.binding, out.type, graph, nodes, f"{where}: output {out.name!r}")
    _check_acyclic(deps, where)


def _check_binding(b: Any, want: TypeDesc | None, graph: GraphSpec,
                   nodes: dict[str, NodeSpec], at: str) -> None:
    kind, body = bindings.split(b, at)
    if kind == "ref":
        src_id, out = body
        src = nodes.get(src_id)
        if src is None:
            raise SpecError(f"{at}: refers to unknown node {src_id!r}")
        if out not in src.outputs_types:
            raise SpecError(f"{at}: node {src_id!r} has no output {out!r} "
                            f"(outputs: {', '.join(src.outputs_types) or 'none'})")
        _check_types(src.outputs_types[out], want, at, f"{src_id}.{out}")
    elif kind == "input":
        if body not in graph.inputs:
            raise SpecError(f"{at}: refers to unknown graph input {body!r}")
        _check_types(graph.inputs[body], want, at, f"input {body}")
    elif kind in bindings.CONTAINERS:
        item = _item_type(kind, want)
        for label, _, sub in bindings.children(kind, body):
            _check_binding(sub, item, graph, nodes, at + label)


def _item_type(kind: str, want: TypeDesc | None) -> TypeDesc | None:
    """The type each item of a list or dict binding must fit, when `want` says."""
    if want is not None and want["t"] == "optional":
        want = want["of"]
    if want is not None and want["t"] == kind:
        return want["of"]
    return None


def _check_types(src: TypeDesc, want: TypeDesc | None, at: str, what: str) -> None:
    if want is not None and not is_assignable(src, want):
        raise SpecError(f"{at}: {what} is {type_name(src)}, which does not fit {type_name(want)}")


def _check_acyclic(deps: dict[str, set[str]], where: str) -> None:
    indegree = {n: len(d) for n, d in deps.items()}
    users: dict[str, list[str]] = {n: [] for n in deps}
    for n, d in deps.items():
        for src in d:
            users[src].append(n)
    ready = [n for n, k in indegree.items() if k == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for user in users[n]:
            indegree[user] -= 1
            if indegree[user] == 0:
                ready.append(user)
    if seen != len(deps):
        stuck = sorted(n for n, k in indegree.items() if k > 0)
        raise SpecError(f"{where}: cycle among nodes {', '.join(stuck[:10])}")


def with_bundle(graph: GraphSpec, bundle: str) -> GraphSpec:
    """`graph` with code bundle `bundle` on every node (sub-workflows included) that has none."""

    def node(n: NodeSpec) -> NodeSpec:
        task = n.task if n.task.bundle is not None else replace(n.task, bundle=bundle)
        sub = with_bundle(n.subgraph, bundle) if n.subgraph is not None else None
        return replace(n, task=task, subgraph=sub)

    return replace(graph, nodes=[node(n) for n in graph.nodes])


def node_to_json(node: NodeSpec) -> dict[str, Any]:
    """One node's JSON form (what a task message carries)."""
    return _node_to_json(node)


def node_from_json(data: dict[str, Any]) -> NodeSpec:
    """Parse one node's JSON form; SpecError when malformed."""
    try:
        return _node_from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecError(f"malformed node spec: {exc!r}") from exc
