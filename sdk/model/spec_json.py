"""The graph spec's JSON form, version 2: task templates kept once, nodes referring to them.

    {"version": 2,
     "tasks": {"noop": {"kind": "task", "task": {"module": "m", "qualname": "noop"},
                        "interface": {"inputs": {"x": INT}, "outputs": {"o0": INT}}}},
     "name": "fan", "inputs": {...}, "outputs": [...], "output_style": "single", ...
     "nodes": [{"id": "noop-7", "task": "noop", "inputs": {"x": {"val": {"v": 7}}}}, ...]}

A template is everything a node has from its task: kind, task reference, interface, resources,
cache settings, retries, timeout and image (fields at their default are left out). Nodes with
equal templates share one entry, so a node costs its id, its bindings and its `after` list; a
`with_overrides()` that changes a node's resources gives that node a template of its own.
Template ids are readable: the task's name, then `name-1`, `name-2`... for other templates
of the same name, in the order nodes first use them.

One table per document: the graphs inside it (sub-workflows, conditional cases, map item
templates, the failure handler) refer to the top table. A dynamic node's sub-graph is a
document of its own (the worker stores it under `subgraphs/`), so it has its own table.

Parsing shares one set of objects (TaskRef, type and resource dicts) among the nodes of a
template: nodes must treat them as read-only, as they treat every part of a spec.
Version 1 specs are read by `sdk.model.spec_v1`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sdk.model import spec_lazy, spec_v1
from sdk.model.errors import SpecError
from sdk.model.spec import (
    FAIL_IMMEDIATELY,
    GATE_KINDS,
    NODE_KINDS,
    SPEC_VERSION,
    BranchSpec,
    Case,
    GateSpec,
    GraphSpec,
    MapSpec,
    NodeSpec,
    OutputSpec,
    TaskRef,
    install_codec,
)

VERSION = SPEC_VERSION
READABLE_VERSIONS = (1, 2)


# ---- writing ------------------------------------------------------------------------------

def graph_to_json(graph: GraphSpec) -> dict[str, Any]:
    """`graph` as a version 2 document."""
    writer = _Writer()
    body = writer.graph(graph)
    return {"version": VERSION, "tasks": writer.tasks, **body}


_dumps = json.JSONEncoder(separators=(",", ":")).encode  # json.dumps(.., separators=..)


def write_graph(graph: GraphSpec, write: Callable[[str], Any]) -> None:
    """Write `graph`'s version 2 document, the text `json.dumps(graph_to_json(graph),
    separators=(",", ":"))` would be, to `write` a node at a time: a graph of 1,000,000 nodes
    never exists whole as JSON, neither as dicts nor as one string. The template table comes
    first in the text, so the nodes are read twice: once to find their templates (in the
    order `graph_to_json` finds them), once to write them. Outputs that keep their bindings
    as JSON text (`json_items()`, a body's outputs: pieces of it) are written from it."""
    writer = _Writer()
    for node in graph.nodes:
        writer.node(node)
    if graph.on_failure is not None:
        writer.node(graph.on_failure)
    write(f'{{"version":{VERSION},"tasks":{_dumps(writer.tasks)},"name":{_dumps(graph.name)},'
          f'"inputs":{_dumps(graph.inputs)},"nodes":[')
    for i, node in enumerate(graph.nodes):
        write(("," if i else "") + _dumps(writer.node(node)))
    write('],"outputs":[')
    items = getattr(graph.outputs, "json_items", None)
    outputs = items() if items is not None else (
        (o.name, o.type, [_dumps(o.binding)]) for o in graph.outputs)
    for i, (name, type_, binding) in enumerate(outputs):
        write(f'{"," if i else ""}{{"name":{_dumps(name)},"type":{_dumps(type_)},'
              f'"binding":')
        for piece in binding:
            write(piece)
        write("}")
    body = writer.graph_fields(graph)
    write("]," + _dumps(body)[1:])  # its fields are never none: output_style comes first


class _Writer:
    def __init__(self) -> None:
        self.tasks: dict[str, dict[str, Any]] = {}
        self._by_content: dict[str, str] = {}
        # Nodes of one task usually share their dicts: finding them by identity first spares a
        # canonical dump per node. The graph being written keeps them alive meanwhile.
        self._by_identity: dict[tuple[Any, ...], str] = {}
        self._names: dict[str, int] = {}
        self._alive: list[tuple[Any, ...]] = []

    def graph(self, g: GraphSpec) -> dict[str, Any]:
        return {
            "name": g.name,
            "inputs": g.inputs,
            "nodes": [self.node(n) for n in g.nodes],
            "outputs": [{"name": o.name, "type": o.type, "binding": o.binding}
                        for o in g.outputs],
            **self.graph_fields(g),
        }

    def graph_fields(self, g: GraphSpec) -> dict[str, Any]:
        """A graph's fields after its outputs."""
        out: dict[str, Any] = {"output_style": g.output_style, "output_ref": g.output_ref}
        if g.failure_policy != FAIL_IMMEDIATELY:
            out["failure_policy"] = g.failure_policy
        if g.on_failure is not None:
            out["on_failure"] = self.node(g.on_failure)
        if g.timeout_s is not None:
            out["timeout_s"] = g.timeout_s
        return out

    def node(self, n: NodeSpec) -> dict[str, Any]:
        out: dict[str, Any] = {"id": n.id, "task": self.template_id(n)}
        if n.inputs:
            out["inputs"] = n.inputs
        if n.after:
            out["after"] = list(n.after)
        if n.aliases:
            out["aliases"] = dict(n.aliases)
        if n.subgraph is not None:
            out["subgraph"] = self.graph(n.subgraph)
        if n.map is not None:
            m = n.map
            mapped: dict[str, Any] = {"template": self.node(m.template), "mapped": list(m.mapped)}
            if m.concurrency is not None:
                mapped["concurrency"] = m.concurrency
            if m.min_success_ratio != 1.0:
                mapped["min_success_ratio"] = m.min_success_ratio
            if m.min_successes is not None:
                mapped["min_successes"] = m.min_successes
            out["map"] = mapped
        if n.branch is not None:
            out["branch"] = {"name": n.branch.name, "cases": [
                {"label": c.label, "when": c.when, "fail": c.fail,
                 "graph": self.graph(c.graph) if c.graph is not None else None}
                for c in n.branch.cases]}
        if n.gate is not None:
            out["gate"] = gate_to_json(n.gate)
        return out

    def template_id(self, n: NodeSpec) -> str:
        identity = (n.kind, n.task, id(n.inputs_types), id(n.outputs_types), id(n.requests),
                    id(n.limits), n.cache, n.cache_version, n.cache_serialize, n.cache_ignored,
                    n.retries, n.timeout_s, n.image)
        found = self._by_identity.get(identity)
        if found is not None:
            return found
        # What the key names by id stays alive, so that no other dict takes its id (nodes
        # built as they are read, `sdk.model.spec_lazy` or a body's records, are dropped).
        self._alive.append((n.inputs_types, n.outputs_types, n.requests, n.limits))
        template = _template_to_json(n)
        content = json.dumps(template, sort_keys=True, separators=(",", ":"))
        found = self._by_content.get(content)
        if found is None:
            found = self._new_id(n.task.name or n.task.qualname)
            self.tasks[found] = template
            self._by_content[content] = found
        self._by_identity[identity] = found
        return found

    def _new_id(self, base: str) -> str:
        while True:
            n = self._names.get(base, 0)
            self._names[base] = n + 1
            tid = base if n == 0 else f"{base}-{n}"
            if tid not in self.tasks:
                return tid


def _template_to_json(n: NodeSpec) -> dict[str, Any]:
    task: dict[str, Any] = {"module": n.task.module, "qualname": n.task.qualname}
    if n.task.name != n.task.qualname:
        task["name"] = n.task.name
    if n.task.bundle is not None:
        task["bundle"] = n.task.bundle
    out: dict[str, Any] = {"kind": n.kind, "task": task,
                           "interface": {"inputs": n.inputs_types, "outputs": n.outputs_types}}
    if n.requests:
        out["requests"] = n.requests
    if n.limits:
        out["limits"] = n.limits
    cache = spec_v1.cache_to_json(n, full=False)
    if cache:
        out["cache"] = cache
    if n.retries:
        out["retries"] = n.retries
    if n.timeout_s is not None:
        out["timeout_s"] = n.timeout_s
    if n.image:
        out["image"] = n.image
    return out


# ---- reading ------------------------------------------------------------------------------

def graph_from_json(data: Any) -> GraphSpec:
    """Parse a graph spec document of either version; SpecError naming what is wrong (the
    node, for a version 2 node or template)."""
    if not isinstance(data, dict):
        raise SpecError(f"a graph spec is a JSON object, got {type(data).__name__}")
    version = data.get("version", VERSION if "tasks" in data else 1)
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise SpecError(f"graph spec version {version!r} is not supported (expected 1 or 2)")
    name = data.get("name", "?")
    try:
        if version == 1:
            return spec_v1.graph_from_json(data)
        tasks = data.get("tasks")
        if not isinstance(tasks, dict):
            raise SpecError(f"graph spec {name!r}: \"tasks\" must be an object of task "
                            f"templates by id, got {type(tasks).__name__}")
        return _Reader(tasks, f"graph spec {name!r}").graph(data, "")
    except SpecError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecError(f"malformed graph spec {name!r}: {exc!r}") from exc


def graph_from_text(text: str | bytes) -> GraphSpec | None:
    """A large version 2 document (`spec_lazy.LAZY_CHARS` or more) parsed but for its top
    graph's nodes and outputs, which are parsed as they are read (`spec_lazy.LazyNodes`,
    `LazyOutputs`); None for any other text, to be parsed whole."""
    if len(text) < spec_lazy.LAZY_CHARS:
        return None
    if isinstance(text, (bytes, bytearray)):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None
    found = spec_lazy.scan(text)
    if found is None:
        return None
    fields, (start, _, count), (first, end, outputs) = found
    tasks = fields.get("tasks")
    if fields.get("version") != VERSION or not isinstance(tasks, dict):
        return None
    name = fields.get("name", "?")
    reader = _Reader(tasks, f"graph spec {name!r}")
    nodes = spec_lazy.LazyNodes(text, start, count, lambda d, i: reader.node(d, "", i))
    try:
        outs = spec_lazy.LazyOutputs(text, first, end, outputs, reader.where)
        return reader.graph({**fields, "nodes": [], "outputs": []}, "", (nodes, outs))
    except SpecError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecError(f"malformed graph spec {name!r}: {exc!r}") from exc


@dataclass(frozen=True)
class _Template:
    kind: str
    task: TaskRef
    inputs_types: dict[str, Any]
    outputs_types: dict[str, Any]
    requests: dict[str, Any]
    limits: dict[str, Any]
    cache: bool
    cache_version: str
    cache_serialize: bool
    cache_ignored: tuple[str, ...]
    retries: int
    timeout_s: float | None
    image: str | None


class _Reader:
    """Parses the graphs of one document; each template once, shared by its nodes."""

    def __init__(self, tasks: dict[str, Any], where: str):
        self.raw = tasks
        self.where = where
        self.templates: dict[str, _Template] = {}

    def graph(self, d: Any, prefix: str,
              lazy: tuple[Sequence[NodeSpec], Sequence[OutputSpec]] | None = None) -> GraphSpec:
        """The graph `d`; with `lazy`, its nodes and outputs are those (`d`'s own lists left
        unread)."""
        if not isinstance(d, dict):
            raise SpecError(f"{self.where}: the graph at {prefix or 'the top'!r} is not an "
                            f"object")
        nodes = d["nodes"]
        if not isinstance(nodes, list):
            raise SpecError(f"{self.where}: \"nodes\" of graph {d.get('name')!r} is not a list")
        return GraphSpec(
            name=str(d["name"]),
            inputs=dict(d.get("inputs") or {}),
            nodes=lazy[0] if lazy is not None
            else [self.node(n, prefix, i) for i, n in enumerate(nodes)],
            outputs=lazy[1] if lazy is not None
            else [OutputSpec(o["name"], o["type"], o["binding"]) for o in d["outputs"]],
            output_style=d.get("output_style", "single"),
            output_ref=d.get("output_ref"),
            failure_policy=str(d.get("failure_policy") or FAIL_IMMEDIATELY),
            on_failure=self.node(d["on_failure"], prefix, "on_failure")
            if d.get("on_failure") else None,
            timeout_s=float(d["timeout_s"]) if d.get("timeout_s") is not None else None,
        )

    def node(self, d: Any, prefix: str, index: int | str) -> NodeSpec:
        node_id = d.get("id") if isinstance(d, dict) else None
        if not isinstance(node_id, str):
            raise SpecError(f"{self.where}: node #{index} under {prefix or 'the top'!r} has no "
                            f"string id")
        path = prefix + node_id
        try:
            return self._node(d, path)
        except SpecError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SpecError(f"{self.where}: node {path!r} is malformed: {exc!r}") from exc

    def _node(self, d: dict[str, Any], path: str) -> NodeSpec:
        at = f"{self.where}: node {path!r}"
        t = self.template(d.get("task"), at)
        inputs = d.get("inputs", {})
        if not isinstance(inputs, dict) or not all(isinstance(b, dict) for b in inputs.values()):
            raise SpecError(f"{at}: \"inputs\" must map input names to bindings, got "
                            f"{str(inputs)[:200]}")
        after = d.get("after") or []
        if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
            raise SpecError(f"{at}: \"after\" must be a list of node ids, got {after!r}")
        aliases = d.get("aliases") or {}
        if not isinstance(aliases, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
            raise SpecError(f"{at}: \"aliases\" must map output names to aliases, got "
                            f"{aliases!r}")
        mapped, branch = d.get("map"), d.get("branch")
        gate = gate_from_json(d["gate"], at) if d.get("gate") is not None else None
        return NodeSpec(
            id=d["id"], kind=t.kind, task=t.task, inputs_types=t.inputs_types,
            outputs_types=t.outputs_types, inputs=inputs, requests=t.requests,
            limits=t.limits, cache=t.cache, cache_version=t.cache_version,
            cache_serialize=t.cache_serialize, cache_ignored=t.cache_ignored,
            retries=t.retries, timeout_s=t.timeout_s, image=t.image,
            subgraph=self.graph(d["subgraph"], path + "/") if d.get("subgraph") else None,
            after=tuple(after), aliases=tuple(aliases.items()),
            map=MapSpec(self.node(mapped["template"], path + "/", "template"),
                        tuple(str(m) for m in mapped["mapped"]), mapped.get("concurrency"),
                        float(mapped.get("min_success_ratio", 1.0)),
                        mapped.get("min_successes")) if mapped else None,
            branch=BranchSpec(str(branch["name"]), tuple(
                Case(str(c["label"]), c.get("when"),
                     self.graph(c["graph"], f"{path}/{c['label']}/") if c.get("graph")
                     else None, c.get("fail"))
                for c in branch["cases"])) if branch else None,
            gate=gate,
        )

    def template(self, tid: Any, at: str) -> _Template:
        if not isinstance(tid, str):
            raise SpecError(f"{at}: \"task\" must be the id of a task template, got {tid!r}")
        found = self.templates.get(tid)
        if found is None:
            raw = self.raw.get(tid)
            if raw is None:
                raise SpecError(f"{at}: unknown task template {tid!r} (the spec's \"tasks\" "
                                f"table has no such id)")
            found = self.templates[tid] = _template(raw, f"{at}: task template {tid!r}")
        return found


def _template(d: Any, at: str) -> _Template:
    def want(value: Any, types: Any, what: str) -> Any:
        allowed = types if isinstance(types, tuple) else (types,)
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise SpecError(f"{at}: {what} is malformed: {str(value)[:200]}")
        return value

    want(d, dict, "the template")
    kind = d.get("kind")
    if kind not in NODE_KINDS:
        raise SpecError(f"{at}: unknown kind {kind!r} (one of {', '.join(NODE_KINDS)})")
    task = want(d.get("task"), dict, "\"task\"")
    module = want(task.get("module"), str, "task.module")
    qualname = want(task.get("qualname"), str, "task.qualname")
    name = want(task.get("name", qualname), str, "task.name")
    bundle = want(task.get("bundle"), (str, type(None)), "task.bundle")
    iface = want(d.get("interface"), dict, "\"interface\"")
    types = {}
    for side in ("inputs", "outputs"):
        descs = want(iface.get(side), dict, f"interface.{side}")
        for key, desc in descs.items():
            want(desc, dict, f"the type of {side[:-1]} {key!r}")
        types[side] = descs
    cache = want(d.get("cache", {}), dict, "\"cache\"")
    ignored = want(cache.get("ignored", []), list, "cache.ignored")
    timeout = want(d.get("timeout_s"), (int, float, type(None)), "timeout_s")
    retries = want(d.get("retries", 0), int, "retries")
    if retries < 0:
        raise SpecError(f"{at}: retries must not be negative, got {retries}")
    return _Template(
        kind=kind, task=TaskRef(module, qualname, name, bundle),
        inputs_types=types["inputs"], outputs_types=types["outputs"],
        requests=want(d.get("requests", {}), dict, "requests"),
        limits=want(d.get("limits", {}), dict, "limits"),
        cache=want(cache.get("enabled", False), bool, "cache.enabled"),
        cache_version=want(cache.get("version", ""), str, "cache.version"),
        cache_serialize=want(cache.get("serialize", False), bool, "cache.serialize"),
        cache_ignored=tuple(want(x, str, "cache.ignored") for x in ignored),
        retries=retries,
        timeout_s=float(timeout) if timeout is not None else None,
        image=want(d.get("image"), (str, type(None)), "image"),
    )


def gate_to_json(gate: GateSpec) -> dict[str, Any]:
    """A gate's JSON form (a node's `"gate"`), fields at their default left out."""
    out: dict[str, Any] = {"kind": gate.kind, "name": gate.name}
    if gate.duration_s is not None:
        out["duration_s"] = gate.duration_s
    if gate.type is not None:
        out["type"] = gate.type
    return out


def gate_from_json(d: Any, at: str) -> GateSpec:
    """Parse a node's `"gate"`; SpecError naming `at` when malformed."""
    if not isinstance(d, dict) or d.get("kind") not in GATE_KINDS \
            or not isinstance(d.get("name"), str):
        raise SpecError(f"{at}: \"gate\" must be an object with a kind (one of "
                        f"{', '.join(GATE_KINDS)}) and a name, got {str(d)[:200]}")
    duration = d.get("duration_s")
    if duration is not None and (not isinstance(duration, (int, float))
                                 or isinstance(duration, bool)):
        raise SpecError(f"{at}: gate duration_s must be a number, got {duration!r}")
    desc = d.get("type")
    if desc is not None and not isinstance(desc, dict):
        raise SpecError(f"{at}: gate type must be a type descriptor, got {str(desc)[:200]}")
    return GateSpec(d["kind"], d["name"], float(duration) if duration is not None else None,
                    desc)


class _Codec:
    """What `sdk.model.spec` writes and reads specs with: whole graphs in version 2, single
    nodes (task messages) in the self-contained version 1 node form."""

    graph_to_json = staticmethod(graph_to_json)
    write_graph = staticmethod(write_graph)
    graph_from_json = staticmethod(graph_from_json)
    graph_from_text = staticmethod(graph_from_text)
    node_to_json = staticmethod(spec_v1.node_to_json)
    node_from_json = staticmethod(spec_v1.node_from_json)


install_codec(_Codec())
