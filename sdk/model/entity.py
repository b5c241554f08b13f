"""What the runners need of a task, dynamic or workflow, and where defined ones are found.

The authoring layer makes these objects (`@task`, `@dynamic`, `@workflow`); the runtime
layer runs them. Both meet here, so the runtime never depends on authoring's classes, and
authoring reaches the in-process runner only through the hook below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from sdk.model.errors import GraftError
from sdk.model.interface import Interface
from sdk.model.spec import GraphSpec
from sdk.model.store import Store

TASK, DYNAMIC, WORKFLOW = "task", "dynamic", "workflow"


@runtime_checkable
class Runnable(Protocol):
    """A task, dynamic or workflow as the runners see it."""

    kind: str
    name: str
    interface: Interface

    @property
    def ref(self) -> str:
        """`module:qualname`, how specs name it."""

    def bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """A call's arguments as input values by name, defaults filled in; CompileError
        names a missing, unknown or doubled input."""

    def graph(self) -> GraphSpec:
        """The graph a run of it executes: a workflow's, or one node for a task."""

    def run(self, values: dict[str, Any]) -> Any:
        """Call a task's function with its input values and return what it returned."""

    def expand(self, values: dict[str, Any], store: Store, bundle: str | None) -> GraphSpec:
        """Run a dynamic's body with real input values; return the sub-graph it built."""


_REGISTRY: dict[str, Runnable] = {}


def register(entity: Runnable) -> None:
    """Record a defined entity under its reference (a later definition replaces it)."""
    _REGISTRY[entity.ref] = entity


def defined() -> list[Runnable]:
    """Every entity defined in this process so far, in definition order."""
    return list(_REGISTRY.values())


def lookup(ref: str) -> Runnable | None:
    """The task, dynamic or workflow defined in this process under `module:qualname`."""
    return _REGISTRY.get(ref)


_local_runner: list[Callable[[Runnable, tuple, dict[str, Any]], Any]] = []


def set_local_runner(runner: Callable[[Runnable, tuple, dict[str, Any]], Any]) -> None:
    """Install the in-process runner (the runtime layer does, on import)."""
    _local_runner[:] = [runner]


def run_locally(entity: Runnable, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Run `entity` in this process through the installed runner."""
    if not _local_runner:
        raise GraftError("no in-process runner is installed; import sdk first")
    return _local_runner[0](entity, args, kwargs)
