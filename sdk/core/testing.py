"""`sdk.core.testing`, as `flytekit.core.testing`."""

from sdk.runtime.mocks import patch, task_mock

__all__ = ["patch", "task_mock"]
