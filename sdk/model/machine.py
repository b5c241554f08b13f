"""What a scope and the engine ask of each other: the engine's transitions as the scopes drive
them (`Machine`), and what a node with children does for its kind (`Scope`).

A node's end is reported to the scope of its parent, picked by the parent's `NodeSpec.kind`
(the top graph's nodes report to the execution itself, `scopes.Root`), once the engine's
generic checks are done: a failure handler's end and a parent no longer RUNNING are the
engine's own. A new kind of node with children is one more `Scope` and one more entry in the
engine's registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, Protocol

from sdk.model.bindings import Binding
from sdk.model.gather import ItemsOf
from sdk.model.report import Failure, Outcome, Report
from sdk.model.runs import GraphOutputs, NodeRun
from sdk.model.spec import GraphSpec
from sdk.model.states import ExecutionState, NodeState


class Machine(Protocol):
    """The engine as its scopes see it: its execution's records and the transitions that
    move nodes (`sdk.model.engine.Engine` is one)."""

    spec: GraphSpec
    inputs: dict[str, Binding]
    nodes: dict[str, NodeRun]
    state: ExecutionState
    outputs: dict[str, Binding] | None
    failed: list[str]
    active: int
    stopped: bool  # a failure stopped new work: only failure handlers are released
    replaying: bool  # rebuilding the state from recorded reports (`Engine.replay`)

    @property
    def done(self) -> bool: ...

    def add(self, run: NodeRun) -> None:
        """Hold a new node (counted among the active ones if it is)."""
        ...

    def set_state(self, run: NodeRun, state: NodeState) -> None: ...

    def release(self, run: NodeRun) -> None:
        """Queue a node whose upstream nodes are done (or open it, a sub-workflow)."""
        ...

    def insert(self, graph: GraphSpec, prefix: str, parent: str | None,
               scope: dict[str, Binding]) -> None:
        """Add `graph`'s nodes under `prefix`, with `parent`, its inputs bound to `scope`."""
        ...

    def succeed(self, run: NodeRun, outputs: dict[str, Binding]) -> None: ...

    def gather(self, run: NodeRun | None, sizes: Callable[[], dict[str, int]], items: ItemsOf,
               rest: Callable[[set[str]], dict[str, Binding]] | None = None) -> bool:
        """Whether `run`'s completed outputs (None: the execution's) are left to the driver
        to gather into the store (`sdk.model.gather`), rather than completed now."""
        ...

    def gather_graph(self, run: NodeRun | None, outs: GraphOutputs) -> bool:
        """`gather` for a completed graph's outputs."""
        ...

    def fail(self, run: NodeRun, failure: Failure, report: Report | None) -> None:
        """A failed attempt (`report`), or a failure the engine finds itself (None)."""
        ...

    def node_failed(self, run: NodeRun, failure: Failure) -> None:
        """A node failed for good: its failure goes up to its parent's scope."""
        ...

    def propagate(self, child: NodeRun, leaf: str, kind: str) -> None:
        """`child` failed for good with the failure of node `leaf`, of kind `kind`."""
        ...

    def cut_off(self, run: NodeRun) -> None:
        """Skip every node that waits, directly or not, for `run`."""
        ...

    def child_ended(self, run: NodeRun) -> None:
        """`run` ended without outputs: its parent's scope hears of it."""
        ...

    def stop(self, prefix: str = "") -> None:
        """FAIL_IMMEDIATELY: stop what runs (under `prefix`, a sub-workflow's)."""
        ...

    def resolved_inputs(self, node_id: str) -> dict[str, Binding]: ...

    def resolve_outputs(self, outs: GraphOutputs) -> dict[str, Binding]: ...

    def read_outputs(self, ids: list[str]) -> list[dict[str, Binding] | None]:
        """The outputs of nodes `ids`, those dropped from memory read back in one call."""
        ...


class Scope(ABC):
    """What a node with children does for its kind: how it opens, and what the end of one of
    its children does to it. One instance per engine and kind, told the parent node each time.

    `kind` is the `NodeSpec.kind` it serves; `opened_by` the outcome of the report that opens
    it (None: the engine opens it when it is released). `cuts_off` says whether a child that
    failed for good has dependents to skip (then every node of a graph partly inserted must
    be in first)."""

    kind: ClassVar[str]
    opened_by: ClassVar[Outcome | None]
    cuts_off: ClassVar[bool] = True

    def __init__(self, machine: Machine) -> None:
        self.machine = machine

    @abstractmethod
    def open(self, run: NodeRun, report: Report | None) -> None:
        """Open node `run` as `report` says (SpecError, before any change, when it cannot)."""

    @abstractmethod
    def succeeded(self, parent: NodeRun, child: NodeRun) -> None:
        """`child` of RUNNING `parent` succeeded."""

    @abstractmethod
    def failed(self, parent: NodeRun, child: NodeRun, leaf: str, kind: str) -> None:
        """`child` of RUNNING `parent` failed for good, carrying the failure of node `leaf`
        (of kind `kind`)."""

    @abstractmethod
    def skipped(self, parent: NodeRun, child: NodeRun) -> None:
        """`child` of RUNNING `parent` ended without outputs (it was skipped, or failed for
        want of a child's)."""

    def halted(self, run: NodeRun, why: str) -> None:  # noqa: B027 (a hook: most need none)
        """RUNNING `run` of this kind was aborted by a cancel or a stop, for reason `why`."""
