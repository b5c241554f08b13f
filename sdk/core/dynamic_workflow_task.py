"""`sdk.core.dynamic_workflow_task`, as `flytekit.core.dynamic_workflow_task`."""

from sdk.authoring.entities import dynamic

__all__ = ["dynamic"]
