"""`sdk.testing`, as `flytekit.testing`: helpers for unit tests of workflows.

    from sdk.testing import SecretsManager, patch, task_mock

`task_mock(t)` (a context manager) and `patch(t)` (a test decorator) replace a task, dynamic or
workflow with a MagicMock in in-process runs (`sdk.runtime.mocks`); `SecretsManager` names the
variables and files secrets are read from (`sdk.runtime.secrets`).
"""

from sdk.runtime.mocks import patch, task_mock
from sdk.runtime.secrets import SecretsManager

__all__ = ["SecretsManager", "patch", "task_mock"]
