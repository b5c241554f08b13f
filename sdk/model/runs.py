"""The records of a running execution's nodes: a node's state, wiring and attempts (`NodeRun`),
a running map's progress (`MapProgress`) and a graph's outputs as written inside it
(`GraphOutputs`), with the id rules every part of the engine reads them by."""

from __future__ import annotations

from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.report import Failure, Report
from sdk.model.spec import NodeSpec, OutputSpec
from sdk.model.states import NodeState

FAILURE_HANDLER_ID = "on-failure"  # never a compiled node's id: those are task names


@dataclass(eq=False, slots=True)
class MapProgress:
    """A running map: how many items it has and how many must succeed, the resolved inputs
    its items are bound from, and its counts. Items are created in index order as their turn
    comes (`created` of them so far): those from `created` on exist nowhere yet."""

    items: int
    required: int
    inputs: dict[str, Binding]
    created: int = 0
    succeeded: int = 0
    failed: list[str] = field(default_factory=list)  # the ids of the items that failed

    @property
    def running(self) -> int:
        """Items created that have not ended (queued or running)."""
        return self.created - self.succeeded - len(self.failed)

    @property
    def never_started(self) -> int:
        """Items not created (yet, or ever, once the map ended)."""
        return self.items - self.created


@dataclass(frozen=True, slots=True)
class GraphOutputs:
    """A graph's outputs as written inside it, with where the graph sits: node ids go under
    `prefix`, graph inputs read `scope`. They are rebased and resolved in one pass when the
    graph completes (`Engine.resolve_outputs`), so inserting a sub-graph whose output lists
    its N nodes costs nothing in N (and a large spec's outputs are parsed only then)."""

    outputs: Sequence[OutputSpec]
    prefix: str
    scope: dict[str, Binding]

    @property
    def bindings(self) -> dict[str, Binding]:
        """The output bindings by name (parsed again at each read, for a large spec)."""
        return {o.name: o.binding for o in self.outputs}

    def list_sizes(self) -> dict[str, int]:
        """How many items each output bound to a list binding has, by name (a large spec's
        counted when it was loaded)."""
        sizes = getattr(self.outputs, "list_sizes", None)
        if sizes is not None:
            return dict(sizes())
        return {o.name: len(o.binding["list"]) for o in self.outputs if "list" in o.binding}

    def items(self, name: str) -> Iterator[Binding]:
        """The items of output `name`'s list binding, rebased (a large spec's parsed one at
        a time)."""
        read = getattr(self.outputs, "list_items", None)
        found = read(name) if read is not None else iter(
            next(o.binding for o in self.outputs if o.name == name)["list"])
        prefix, scope = self.prefix, self.scope
        return (bindings.rebase(b, prefix, scope) for b in found)

    def without(self, names: Container[str]) -> GraphOutputs:
        """These outputs but those named in `names` (a large spec's others parsed alone)."""
        rest = getattr(self.outputs, "without", None)
        outputs = rest(names) if rest is not None \
            else [o for o in self.outputs if o.name not in names]
        return GraphOutputs(outputs, self.prefix, self.scope)


@dataclass(eq=False, slots=True)
class NodeRun:
    """One node of a running execution. `bindings` use absolute ids or resolved values."""

    id: str
    spec: NodeSpec
    parent: str | None
    bindings: dict[str, Binding]
    state: NodeState = NodeState.PENDING
    attempt: int = 1
    waiting: int = 0
    dependents: list[str] = field(default_factory=list)
    children_left: int = 0
    out_bindings: GraphOutputs | None = None
    outputs: dict[str, Binding] | None = None
    error: dict[str, Any] | None = None
    user_failures: int = 0
    system_failures: int = 0
    retry_delay_s: float = 0.0  # set when released again after a SYSTEM failure
    cached: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)  # one record per attempt
    map: MapProgress | None = None
    first_failed: str | None = None  # a failing sub-workflow: the node whose failure it carries
    readers: int = 0  # nodes inserted, not ended, whose inputs read this one's outputs
    counted: bool = False  # this node's reads are counted in its sources' `readers`

    def record(self, report: Report, failure: Failure | None = None) -> None:
        """Add the attempt `report` tells of to `history`: its outcome, the failure if it
        failed, where it ran and what the driver added (`report.extra`)."""
        record: dict[str, Any] = {"attempt": report.attempt, "outcome": report.outcome.value}
        if failure is not None:
            record.update(kind=failure.kind.value, type=failure.type, message=failure.message)
        if report.worker:
            record["worker"] = report.worker
        if report.duration_s is not None:
            record["duration_s"] = report.duration_s
        if report.peak_memory_bytes is not None:
            record["peak_memory_bytes"] = report.peak_memory_bytes
        if report.ended_at is not None:
            record["ended_at"] = report.ended_at
        record.update(report.extra)
        self.history.append(record)


def reads(run: NodeRun) -> set[str]:
    """The ids of the nodes whose outputs `run`'s inputs read."""
    return {src for b in run.bindings.values() for src, _ in bindings.refs(b)}


def is_handler(node_id: str) -> bool:
    """Whether a node is a failure handler or inside one (these run after a stop)."""
    return FAILURE_HANDLER_ID in node_id.split("/")
