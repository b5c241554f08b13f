"""flytekit's context as graft's runners fill it in: `user_space_params` is
`current_context()`, and each attempt runs with file access of its own (a scratch folder
removed when the attempt ends, after its outputs are in the store).

The classes live in `sdk.values.flyte_context`; this module installs what the runtime and
authoring layers know into them, and is what the public faces import.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sdk.authoring.compilation  # noqa: F401  (installs compilation_state)
from sdk.runtime.context import ExecutionParameters, current_context
from sdk.values.file_access import FileAccessProvider, new_provider, process_sandbox
from sdk.values.flyte_context import (
    ExecutionState,
    FlyteContext,
    FlyteContextManager,
    provide,
)

__all__ = ["ExecutionState", "FileAccessProvider", "FlyteContext", "FlyteContextManager",
           "attempt_files"]


def _no_attempt() -> ExecutionState:
    return ExecutionState(os.getcwd(), None, user_space_params=current_context())


provide("user_space_params", current_context)
provide("execution_state", _no_attempt)


@contextmanager
def attempt_files(params: ExecutionParameters, in_process: bool) -> Iterator[FlyteContext]:
    """Run an attempt with its own scratch folder as `ctx.file_access` (removed afterwards)
    and its execution state in the context."""
    root = os.path.join(process_sandbox(), f"attempt-{uuid.uuid4().hex[:16]}")
    mode = ExecutionState.Mode.LOCAL_TASK_EXECUTION if in_process else \
        ExecutionState.Mode.TASK_EXECUTION
    # The folder itself, not its path: asking for the path would make it (`WorkingFolder`).
    state = ExecutionState(params.folder, mode, user_space_params=params)
    files = new_provider(root, lazy=True)
    builder = FlyteContextManager.current_context().new_builder()
    builder.with_file_access(files).with_execution_state(state)
    try:
        with FlyteContextManager.with_context(builder) as ctx:
            yield ctx
    finally:
        if files.made:
            shutil.rmtree(root, ignore_errors=True)
