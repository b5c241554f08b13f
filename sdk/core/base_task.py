"""`sdk.core.base_task`, as `flytekit.core.base_task`: task classes."""

from sdk.authoring.python_task import PythonTask, TaskMetadata
from sdk.values.structured_dataset import kwtypes

__all__ = ["PythonTask", "TaskMetadata", "kwtypes"]
