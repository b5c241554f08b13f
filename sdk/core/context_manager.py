"""`sdk.core.context_manager`, as `flytekit.core.context_manager`."""

from sdk.runtime.context import Checkpoint, ExecutionParameters, current_context

__all__ = ["Checkpoint", "ExecutionParameters", "current_context"]
