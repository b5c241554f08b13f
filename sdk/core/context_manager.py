"""`sdk.core.context_manager`, as `flytekit.core.context_manager`."""

from sdk.runtime.context import Checkpoint, ExecutionParameters, current_context
from sdk.runtime.flyte_context import ExecutionState, FlyteContext, FlyteContextManager
from sdk.runtime.secrets import SecretsManager

__all__ = ["Checkpoint", "ExecutionParameters", "ExecutionState", "FlyteContext",
           "FlyteContextManager", "SecretsManager", "current_context"]
