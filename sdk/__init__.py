"""graft: Flyte-style workflows run in-process or on Celery workers.

    from sdk import task, workflow, dynamic, Resources
    from sdk.types import File, Directory, JoblibSerializedFile
"""

from sdk.entities import DynamicDef, TaskDef, WorkflowDef, dynamic, task, workflow
from sdk.errors import (
    BrokerUnavailable,
    CompileError,
    ConfigError,
    ExecutionFailed,
    GraftError,
    NodeFailure,
    SpecError,
    StoreError,
    StoreObjectMissing,
    TaskError,
    TypeConversionError,
)
from sdk.resources import Resources

__all__ = [
    # authoring
    "task", "workflow", "dynamic", "Resources",
    "TaskDef", "DynamicDef", "WorkflowDef",
    # errors
    "GraftError", "CompileError", "SpecError", "ConfigError", "TypeConversionError",
    "StoreError", "StoreObjectMissing", "BrokerUnavailable", "TaskError", "ExecutionFailed",
    "NodeFailure",
]
