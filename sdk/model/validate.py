"""Checking a graph spec before anything runs it; SpecError names the node and binding at
fault."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sdk.model import bindings
from sdk.model.errors import SpecError
from sdk.model.spec import FAILURE_POLICIES, NODE_KINDS, GraphSpec, NodeSpec
from sdk.model.typesys import TypeDesc, is_assignable, step_type, type_name

_KIND_NAMES = {"workflow": "sub-workflow", "branch": "conditional"}
_NAME_CHARS = 255  # a gate's name: what a signal names
_VALID = "_graft_validated"


def validate(graph: GraphSpec, where: str = "",
             visit: Callable[[NodeSpec], None] | None = None) -> None:
    """Check a graph and every graph inside it.

    Checks: node ids unique and free of '/', kinds known and complete, every reference names
    an existing node and output, every `input` binding names a graph input, every path fits
    the type it reads, bound types fit, `after` names nodes of the graph, no cycles; map
    templates, conditional cases and the failure handler likewise.

    A graph found valid is marked so, and checking it again costs nothing: specs are not
    changed once built, and the scheduler checks a sub-graph in the thread that loads it, so
    that the engine's own check on its loop finds it done.

    A large graph whose nodes are parsed as they are read (`sdk.model.spec_lazy`) is read
    once, or twice when a node refers to one further on, and holds a small record per node
    meanwhile rather than its nodes. `visit`, when given, is called with each node of the top
    graph and its failure handler in that pass (the scheduler checks tiers there).
    """
    if getattr(graph, _VALID, False):
        return
    where = where or f"graph {graph.name!r}"
    if graph.failure_policy not in FAILURE_POLICIES:
        raise SpecError(f"{where}: unknown failure policy {graph.failure_policy!r}")
    # What a binding's check reads of the node it refers to is its outputs: a graph whose
    # nodes are parsed as they are read keeps one `_Outputs` per template, not its nodes.
    lazy = not isinstance(graph.nodes, list)
    outputs: dict[int, _Outputs] = {}
    nodes: dict[str, Any] = {}
    deps: dict[str, set[str]] = {}  # the nodes that wait for others

    def check(node: NodeSpec) -> None:
        waits = _check_node(node, graph, nodes, where)
        if waits:
            deps[node.id] = waits

    later: set[int] = set()  # nodes of a lazy graph that refer to nodes further on
    for i, node in enumerate(graph.nodes):
        if not node.id or "/" in node.id:
            raise SpecError(f"{where}: node id {node.id!r} must be non-empty and contain no '/'")
        if node.id in nodes:
            raise SpecError(f"{where}: node id {node.id!r} appears twice")
        _check_kind(node, where)
        if visit is not None:
            visit(node)
        if not lazy:
            nodes[node.id] = node
            continue
        key = id(node.outputs_types)
        nodes[node.id] = outputs.get(key) or outputs.setdefault(key, _Outputs(node.outputs_types))
        if all(src in nodes for src in _sources(node)):
            check(node)
        else:
            later.add(i)
    if not lazy:
        for node in graph.nodes:
            check(node)
    elif later:
        for i, node in enumerate(graph.nodes):
            if i in later:
                check(node)
    _check_outputs(graph, nodes, where)
    if graph.on_failure is not None:
        handler = graph.on_failure
        _check_kind(handler, where)
        if visit is not None:
            visit(handler)
        scope = GraphSpec(graph.name, {**graph.inputs, "err": {"t": "any"}}, [], [])
        _check_node(handler, scope, {}, f"{where} > failure handler")
    _check_acyclic(deps, where)
    object.__setattr__(graph, _VALID, True)  # a frozen dataclass: marked past its fields


def _check_outputs(graph: GraphSpec, nodes: dict[str, Any], where: str) -> None:
    """Check the graph's output bindings; a large spec's list bindings an item at a time
    (`LazyOutputs.list_items`), since a fan-out's lists every node and parsed whole took
    some 400 bytes a node."""
    outputs = graph.outputs
    sizes = getattr(outputs, "list_sizes", None)
    streamed = sizes() if sizes is not None else {}
    if streamed:
        types = outputs.types()  # type: ignore[attr-defined]
        for name in streamed:
            at = f"{where}: output {name!r}"
            item = _item_type("list", types[name])
            for i, sub in enumerate(outputs.list_items(name)):  # type: ignore[attr-defined]
                _check_binding(sub, item, graph, nodes, f"{at}[{i}]")
        outputs = outputs.without(streamed)  # type: ignore[attr-defined]
    for out in outputs:
        _check_binding(out.binding, out.type, graph, nodes, f"{where}: output {out.name!r}")


def _sources(node: NodeSpec) -> Iterator[str]:
    """The ids of the nodes `node` reads or runs after."""
    for binding in node.inputs.values():
        for src, _ in bindings.refs(binding):
            yield src
    yield from node.after


class _Outputs:
    """What checks read of a node another refers to."""

    __slots__ = ("outputs_types",)

    def __init__(self, outputs_types: dict[str, TypeDesc]):
        self.outputs_types = outputs_types


def _check_kind(node: NodeSpec, where: str) -> None:
    if node.kind not in NODE_KINDS:
        raise SpecError(f"{where}: node {node.id!r} has unknown kind {node.kind!r}")
    needs = {"workflow": node.subgraph, "map": node.map, "branch": node.branch,
             "gate": node.gate}
    if node.kind in needs and needs[node.kind] is None:
        what = "subgraph" if node.kind == "workflow" else node.kind
        raise SpecError(f"{where}: {_KIND_NAMES.get(node.kind, node.kind)} node {node.id!r} "
                        f"carries no {what}")
    if node.kind == "gate":
        _check_gate(node, where)


def _check_gate(node: NodeSpec, where: str) -> None:
    """A gate's interface fits what it waits for (`GateSpec`)."""
    gate = node.gate
    assert gate is not None
    at = f"{where}: gate node {node.id!r}"
    if not gate.name or len(gate.name) > _NAME_CHARS:
        raise SpecError(f"{at}: its name must be 1 to {_NAME_CHARS} characters")
    if gate.kind == "sleep":
        if gate.duration_s is None or gate.duration_s < 0 or node.inputs_types \
                or node.outputs_types:
            raise SpecError(f"{at}: a sleep has a duration >= 0 and no inputs or outputs")
    elif gate.kind == "signal":
        if gate.type is None or node.inputs_types or node.outputs_types != {"o0": gate.type}:
            raise SpecError(f"{at}: a signal gate has no inputs and one output o0 of its "
                            f"signal's type")
    elif len(node.inputs_types) != 1 or node.inputs_types != node.outputs_types:
        raise SpecError(f"{at}: an approval has one input, passed on as its one output")


def _check_node(node: NodeSpec, graph: GraphSpec, nodes: dict[str, NodeSpec],
                where: str) -> set[str]:
    """Check one node; return the ids of the nodes it waits for."""
    missing = set(node.inputs_types) - set(node.inputs)
    if missing:
        raise SpecError(f"{where}: node {node.id!r} has no binding for input(s) "
                        f"{', '.join(sorted(missing))}")
    deps: set[str] = set()
    for name, binding in node.inputs.items():
        if name not in node.inputs_types:
            raise SpecError(f"{where}: node {node.id!r} binds unknown input {name!r}")
        at = f"{where}: node {node.id!r} input {name!r}"
        _check_binding(binding, node.inputs_types[name], graph, nodes, at)
        deps.update(src for src, _ in bindings.refs(binding))
    for before in node.after:
        if before not in nodes:
            raise SpecError(f"{where}: node {node.id!r} runs after unknown node {before!r}")
        deps.add(before)
    inner = f"{where} > {_KIND_NAMES.get(node.kind, node.kind)} {node.id!r}"
    if node.subgraph is not None:
        validate(node.subgraph, inner)
    if node.map is not None:
        _check_map(node, inner)
    if node.branch is not None:
        _check_branch(node, inner)
    return deps


def _check_map(node: NodeSpec, where: str) -> None:
    assert node.map is not None
    template = node.map.template
    if template.kind not in ("task", "workflow"):
        raise SpecError(f"{where}: a map runs tasks or workflows, not a {template.kind}")
    _check_kind(template, where)
    if template.subgraph is not None:
        validate(template.subgraph, f"{where} > template")
    for name, want in template.inputs_types.items():
        have = node.inputs_types.get(name)
        expected = {"t": "list", "of": want} if name in node.map.mapped else want
        if have is None or not is_assignable(have, expected):
            raise SpecError(f"{where}: input {name!r} is {type_name(have) if have else 'absent'},"
                            f" expected {type_name(expected)}")
    ratio = node.map.min_success_ratio
    if not 0.0 <= ratio <= 1.0:
        raise SpecError(f"{where}: min_success_ratio {ratio} is not between 0 and 1")


def _check_branch(node: NodeSpec, where: str) -> None:
    assert node.branch is not None
    cases = node.branch.cases
    if len(cases) < 2 or cases[-1].when is not None or any(c.when is None for c in cases[:-1]):
        raise SpecError(f"{where}: a conditional needs if_ cases and a final else_")
    scope = GraphSpec(node.id, dict(node.inputs_types), [], [])
    for case in cases:
        at = f"{where} > case {case.label!r}"
        if case.when is not None:
            _check_condition(case.when, scope, at)
        if (case.graph is None) == (case.fail is None):
            raise SpecError(f"{at}: a case either runs a graph or fails with a message")
        if case.graph is None:
            continue
        unknown = set(case.graph.inputs) - set(node.inputs_types)
        if unknown:
            raise SpecError(f"{at}: reads {', '.join(sorted(unknown))}, which the conditional "
                            f"does not take")
        validate(case.graph, at)
        outs = {o.name: o.type for o in case.graph.outputs}
        for name, want in node.outputs_types.items():
            if name not in outs or not is_assignable(outs[name], want):
                raise SpecError(f"{at}: output {name!r} does not fit {type_name(want)}")


def _check_condition(expr: Any, scope: GraphSpec, at: str) -> None:
    if not isinstance(expr, dict) or len(expr) != 1:
        raise SpecError(f"{at}: malformed condition {str(expr)[:200]}")
    kind, body = next(iter(expr.items()))
    if kind in ("and", "or"):
        if not isinstance(body, list) or len(body) != 2:
            raise SpecError(f"{at}: {kind} takes two conditions")
        for sub in body:
            _check_condition(sub, scope, at)
    elif kind == "cmp":
        if not (isinstance(body, list) and len(body) == 3
                and body[0] in ("==", "!=", "<", "<=", ">", ">=")):
            raise SpecError(f"{at}: malformed comparison {str(body)[:200]}")
        for operand in body[1:]:
            _check_binding(operand, None, scope, {}, at)
    else:
        raise SpecError(f"{at}: unknown condition {kind!r}")


def binding_type(b: Any, graph: GraphSpec, nodes: dict[str, NodeSpec], at: str
                 ) -> TypeDesc | None:
    """The type a binding produces, when it can be told without running (None otherwise)."""
    kind, body = bindings.split(b, at)
    if kind == "ref":
        src = nodes.get(body[0])
        return src.outputs_types.get(body[1]) if src is not None else None
    if kind == "input":
        return graph.inputs.get(body)
    if kind == "path":
        desc = binding_type(body["of"], graph, nodes, at)
        for step in body["steps"]:
            if desc is None:
                return None
            desc = step_type(desc, step)
        return desc
    return None


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
    elif kind == "path":
        _check_binding(body["of"], None, graph, nodes, at)
        have = binding_type(body["of"], graph, nodes, at)
        for step in body["steps"]:
            if have is None:
                break
            part = step_type(have, step)
            if part is None:
                raise SpecError(f"{at}: a {type_name(have)} has no part "
                                f"{bindings.describe_steps([step])}")
            have = part
        if have is not None:
            _check_types(have, want, at, f"{body.get('from') or 'value'}"
                         f"{bindings.describe_steps(body['steps'])}")
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
    """`deps`: the nodes that wait for others, and those they wait for (all existing)."""
    indegree = {n: len(d) for n, d in deps.items()}
    users: dict[str, list[str]] = {}
    for n, d in deps.items():
        for src in d:
            users.setdefault(src, []).append(n)
    ready = [n for n in users if n not in deps]
    while ready:
        for user in users.get(ready.pop(), ()):
            indegree[user] -= 1
            if indegree[user] == 0:
                ready.append(user)
    stuck = sorted(n for n, k in indegree.items() if k > 0)
    if stuck:
        raise SpecError(f"{where}: cycle among nodes {', '.join(stuck[:10])}")
