"""`sdk.extras.tasks.shell`, as `flytekit.extras.tasks.shell`: shell scripts as tasks
(`sdk.authoring.shell_task`).

    from sdk.extras.tasks.shell import OutputLocation, ShellTask
"""

from sdk.authoring.shell_task import (
    AttrDict,
    OutputLocation,
    ProcessResult,
    RawShellTask,
    ShellTask,
    get_raw_shell_task,
    subproc_execute,
)

__all__ = ["AttrDict", "OutputLocation", "ProcessResult", "RawShellTask", "ShellTask",
           "get_raw_shell_task", "subproc_execute"]
