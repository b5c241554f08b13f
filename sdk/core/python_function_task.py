"""`sdk.core.python_function_task`, as `flytekit.core.python_function_task`."""

from sdk.authoring.entities import TaskDef
from sdk.authoring.python_task import PythonInstanceTask

PythonFunctionTask = TaskDef

__all__ = ["PythonFunctionTask", "PythonInstanceTask"]
