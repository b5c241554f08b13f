"""`sdk.models.core.execution`, as `flytekit.models.core.execution`: the phases notifications
name."""

from sdk.authoring.notification import WorkflowExecutionPhase

__all__ = ["WorkflowExecutionPhase"]
