"""The graph spec: plain data every workflow and every dynamic sub-graph compiles to.

Nodes bind their inputs with bindings (`sdk.model.bindings`); `sdk.model.validate` checks a
graph before anything runs it. Node kinds:

    task      runs a task's function on a worker
    dynamic   runs a body on a worker that returns a sub-graph, grafted under the node
    workflow  a sub-workflow, opened in place (its `subgraph`)
    map       runs `map.template` once per item of its list inputs, as `<node>/<index>`
    branch    a conditional: the first case whose condition holds opens its sub-graph under
              `<node>/<case>`; the others' nodes show as SKIPPED
    gate      sleeps, or waits for a signal (its `gate`); it runs on no worker: its driver
              holds it (the scheduler, or the in-process runner, which asks the terminal)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sdk.model.bindings import Binding
from sdk.model.errors import SpecError
from sdk.model.typesys import TypeDesc

SPEC_VERSION = 2  # what to_json writes; from_json reads 1 and 2
NODE_KINDS = ("task", "dynamic", "workflow", "map", "branch", "gate")
FAIL_IMMEDIATELY = "fail_immediately"
FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = "fail_after_executable_nodes_complete"
FAILURE_POLICIES = (FAIL_IMMEDIATELY, FAIL_AFTER_EXECUTABLE_NODES_COMPLETE)


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
class MapSpec:
    """How a map node runs its template: once per item of the `mapped` list inputs (the
    others are bound to every item), at most `concurrency` at once, and failing only when
    fewer than `min_successes` (default: all) items succeed; a failed item's outputs are
    None."""

    template: NodeSpec
    mapped: tuple[str, ...]
    concurrency: int | None = None
    min_success_ratio: float = 1.0
    min_successes: int | None = None

    def required(self, items: int) -> int:
        """How many of `items` must succeed."""
        if self.min_successes is not None:
            return min(items, self.min_successes)
        # Rounded first: 100 * 0.07 is 7.000000000000001 in binary floating point.
        return min(items, math.ceil(round(items * self.min_success_ratio, 9)))


@dataclass(frozen=True)
class Case:
    """One case of a conditional: a condition (None for the `else_`), and either the
    sub-graph it runs or the message it fails with."""

    label: str
    when: dict[str, Any] | None
    graph: GraphSpec | None = None
    fail: str | None = None


@dataclass(frozen=True)
class BranchSpec:
    """A conditional named `name`: its cases in order, the last one the `else_`."""

    name: str
    cases: tuple[Case, ...]


GATE_KINDS = ("sleep", "signal", "approve")


@dataclass(frozen=True)
class GateSpec:
    """What a gate node waits for, as flytekit's `sleep`, `wait_for_input` and `approve`:

    - "sleep": `duration_s` to pass; no inputs, no outputs;
    - "signal": a signal named `name` carrying a value of type `type`, its one output `o0`;
    - "approve": a signal named `name` saying yes (True) or no (False); its one input is
      passed on as its one output once approved.

    A signal gate fails when no signal came within its node's `timeout_s`."""

    kind: str
    name: str
    duration_s: float | None = None
    type: TypeDesc | None = None


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
    cache_serialize: bool = False
    cache_ignored: tuple[str, ...] = ()
    retries: int = 0
    timeout_s: float | None = None
    subgraph: GraphSpec | None = None
    after: tuple[str, ...] = ()
    map: MapSpec | None = None
    branch: BranchSpec | None = None
    image: str | None = None
    # flytekit's output aliases, `with_overrides(aliases={"o0": "total"})`: recorded only
    # (bindings name outputs, never aliases, in graft as in flytekit's Promises)
    aliases: tuple[tuple[str, str], ...] = ()
    gate: GateSpec | None = None

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
    "namedtuple" (then `output_ref` names the NamedTuple class). `failure_policy` says what a
    failed node does to the rest (the top graph's counts), and `on_failure` is the node run
    once when the execution fails. `timeout_s` bounds a whole execution of the graph (the
    top graph's counts).
    """

    name: str
    inputs: dict[str, TypeDesc]
    nodes: Sequence[NodeSpec]  # a list, or a large graph's `spec_lazy.LazyNodes`
    outputs: Sequence[OutputSpec]  # a list, or a large graph's `spec_lazy.LazyOutputs`
    output_style: str = "single"
    output_ref: str | None = None
    failure_policy: str = FAIL_IMMEDIATELY
    on_failure: NodeSpec | None = None
    timeout_s: float | None = None

    def output_types(self) -> dict[str, TypeDesc]:
        """The graph's output types by name (without parsing a large spec's bindings)."""
        types = getattr(self.outputs, "types", None)
        return types() if types is not None else {o.name: o.type for o in self.outputs}

    def node_map(self) -> dict[str, NodeSpec]:
        return {n.id: n for n in self.nodes}

    def walk(self, prefix: str = "") -> Iterator[tuple[str, NodeSpec]]:
        """Every node with its absolute id, the nodes of sub-workflows, map templates and
        conditional cases included (dynamic sub-graphs are not known until run time)."""
        for node in self.nodes:
            yield from walk_node(node, prefix)
        if self.on_failure is not None:
            yield from walk_node(self.on_failure, prefix)

    def to_json(self) -> dict[str, Any]:
        """The graph's JSON form (version 2: `sdk.model.spec_json`)."""
        return _codec().graph_to_json(self)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"))

    def write(self, write: Callable[[str], Any]) -> None:
        """Write the text `dumps()` returns to `write`, in pieces of about a node each (a
        large graph's JSON is never held whole: `sdk.model.spec_json.write_graph`)."""
        _codec().write_graph(self, write)

    @classmethod
    def from_json(cls, data: Any) -> GraphSpec:
        """Parse a spec of version 1 or 2; SpecError when malformed or of another version."""
        return _codec().graph_from_json(data)

    @classmethod
    def loads(cls, text: str | bytes) -> GraphSpec:
        """Parse a spec's JSON text (a large one's nodes as they are read, when the codec
        can: `sdk.model.spec_lazy`)."""
        large = getattr(_codec(), "graph_from_text", None)
        graph = large(text) if large is not None else None
        if graph is not None:
            return graph
        try:
            return cls.from_json(json.loads(text))
        except json.JSONDecodeError as exc:
            raise SpecError(f"graph spec is not valid JSON: {exc}") from exc


def walk_node(node: NodeSpec, prefix: str = "") -> Iterator[tuple[str, NodeSpec]]:
    """`node` with its id under `prefix`, then the nodes inside it, as `GraphSpec.walk`."""
    yield prefix + node.id, node
    yield from _inner(node, f"{prefix}{node.id}/")


def _inner(node: NodeSpec, prefix: str) -> Iterator[tuple[str, NodeSpec]]:
    if node.subgraph is not None:
        yield from node.subgraph.walk(prefix)
    if node.map is not None:
        yield prefix + "*", node.map.template
        yield from _inner(node.map.template, prefix + "*/")
    if node.branch is not None:
        for case in node.branch.cases:
            if case.graph is not None:
                yield from case.graph.walk(f"{prefix}{case.label}/")


def map_nodes(graph: GraphSpec, fn: Any, graph_fn: Any = None) -> GraphSpec:
    """`graph` with `fn(node)` applied to every node, inner ones (sub-workflows, map
    templates, conditional cases, the failure handler) first; and `graph_fn(graph)`, when
    given, to every graph, inner ones too, once its nodes are done."""

    def inner(g: GraphSpec) -> GraphSpec:
        return map_nodes(g, fn, graph_fn)

    def node(n: NodeSpec) -> NodeSpec:
        sub = inner(n.subgraph) if n.subgraph is not None else None
        mapped = replace(n.map, template=node(n.map.template)) if n.map is not None else None
        branch = None
        if n.branch is not None:
            branch = replace(n.branch, cases=tuple(
                replace(c, graph=inner(c.graph) if c.graph is not None else None)
                for c in n.branch.cases))
        return fn(replace(n, subgraph=sub, map=mapped, branch=branch))

    done = replace(graph, nodes=[node(n) for n in graph.nodes],
                   on_failure=node(graph.on_failure) if graph.on_failure is not None else None)
    return graph_fn(done) if graph_fn is not None else done


def with_bundle(graph: GraphSpec, bundle: str) -> GraphSpec:
    """`graph` with code bundle `bundle` on every node (inner ones included) that has none."""
    return map_nodes(graph, lambda n: n if n.task.bundle is not None
                     else replace(n, task=replace(n.task, bundle=bundle)))


# ---- JSON: sdk.model.spec_json (version 2) and sdk.model.spec_v1 ----------------------------
#
# The JSON forms live in modules that import this one. `sdk.model.spec_json` installs itself
# here when imported, and `sdk.model`'s package import does that, so a spec can always be
# written and read while this module imports neither.

_CODECS: list[Any] = []


def install_codec(codec: Any) -> None:
    """Set what writes and reads specs: an object with `graph_to_json`, `graph_from_json`,
    `node_to_json` and `node_from_json`."""
    _CODECS[:] = [codec]


def _codec() -> Any:
    if not _CODECS:
        raise SpecError("no graph spec codec is installed (import sdk.model.spec_json)")
    return _CODECS[0]


def node_to_json(node: NodeSpec) -> dict[str, Any]:
    """One node's self-contained JSON form, its task definition included (what a task message
    carries to a worker: the version 1 node form, which workers of every version read)."""
    return _codec().node_to_json(node)


def node_from_json(data: dict[str, Any]) -> NodeSpec:
    """Parse one node's self-contained JSON form; SpecError when malformed."""
    try:
        return _codec().node_from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SpecError(f"malformed node spec: {exc!r}") from exc
