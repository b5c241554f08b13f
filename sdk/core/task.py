"""`sdk.core.task`, as `flytekit.core.task`."""

from sdk.authoring.echo import Echo
from sdk.authoring.entities import TaskDef, task

PythonFunctionTask = TaskDef

__all__ = ["Echo", "PythonFunctionTask", "TaskDef", "task"]
