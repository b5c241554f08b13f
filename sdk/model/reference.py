"""Reference entities in a spec: what a `reference_task`, `reference_launch_plan` or
`reference_workflow` compiles to, before a client resolves it.

A call to a reference makes a task node whose task reference names no module, only what is
registered: `<reference>:<kind>:<project>:<domain>:<name>:<version>` (each part quoted, so a
name may hold a colon). Submitting to a cluster replaces each such node by the entity
registered under that name and version (`sdk.remote.references`); nothing can import the
module `<reference>`, so one that is not replaced runs nowhere, and an in-process run refuses
it up front unless a mock replaces it (`sdk.runtime.mocks.check_references`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote

from sdk.model.errors import ReferenceNotRunnable
from sdk.model.spec import TaskRef

REFERENCE_MODULE = "<reference>"
KINDS = ("task", "workflow", "launch_plan")
_WHAT = {"task": "task", "workflow": "workflow", "launch_plan": "launch plan"}


@dataclass(frozen=True)
class Reference:
    """What a reference names: a registered entity of `kind` ("task", "workflow" or
    "launch_plan"), by name and version. Project and domain are kept as given (graft has one
    namespace: they are not matched)."""

    kind: str
    project: str
    domain: str
    name: str
    version: str

    @property
    def qualname(self) -> str:
        """The qualname of the task reference of its node (see the module's docstring)."""
        return ":".join(quote(part, safe="") for part in (
            self.kind, self.project, self.domain, self.name, self.version))

    @property
    def what(self) -> str:
        """`task`, `workflow` or `launch plan`."""
        return _WHAT[self.kind]

    def describe(self) -> str:
        """`reference task 'pkg.tasks.add' version 'v1'`."""
        return f"reference {self.what} {self.name!r} version {self.version!r}"


def reference_of(task: TaskRef) -> Reference | None:
    """The reference a node's task reference names, or None for any other node."""
    if task.module != REFERENCE_MODULE:
        return None
    parts = task.qualname.split(":")
    if len(parts) != 5 or parts[0] not in KINDS:
        return None
    return Reference(*(unquote(p) for p in parts))


def not_runnable(reference: Reference, stub: str) -> ReferenceNotRunnable:
    """The error of running reference `reference` (its stub function named `stub`) in this
    process: flytekit's NotImplementedError and its words, then what to do instead."""
    return ReferenceNotRunnable(
        f"Remote reference entities cannot be run locally. You must mock this out: "
        f"{reference.describe()} (the stub {stub}) names code registered on a cluster "
        f"(graft register), which an in-process run does not have. Submit the workflow to a "
        f"cluster, or in tests replace it with sdk.testing.task_mock({stub}) or "
        f"@patch({stub})")
