"""`sdk.core.task`, as `flytekit.core.task`."""

from sdk.authoring.echo import Echo
from sdk.authoring.entities import TaskDef, task
from sdk.authoring.reference import ReferenceTask, reference_task
from sdk.model.security import Secret

PythonFunctionTask = TaskDef

__all__ = ["Echo", "PythonFunctionTask", "ReferenceTask", "Secret", "TaskDef", "reference_task",
           "task"]
