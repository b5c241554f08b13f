"""`sdk.extend`, as `flytekit.extend`: what extending graft's type system and tasks needs.

    from sdk.extend import TypeEngine, TypeTransformer      # a converter for a type of yours
    from sdk.extend import PythonTask, Interface            # a task class of yours
"""

from sdk.authoring.python_task import Interface, PythonTask
from sdk.core import context_manager
from sdk.runtime.flyte_context import ExecutionState
from sdk.runtime.secrets import SecretsManager
from sdk.values.builtin_transformers import DictTransformer
from sdk.values.file_access import FileAccessProvider
from sdk.values.type_engine import T, TypeEngine, TypeTransformer

__all__ = ["DictTransformer", "ExecutionState", "FileAccessProvider", "Interface", "PythonTask",
           "SecretsManager", "T", "TypeEngine", "TypeTransformer", "context_manager"]
