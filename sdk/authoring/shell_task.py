"""Shell scripts as tasks, as flytekit's `ShellTask` (`sdk.extras.tasks.shell`):

    t2 = ShellTask(
        name="task_2",
        script='''
        cp {inputs.x} {inputs.y}
        tar -zcvf {outputs.j} {inputs.y}
        ''',
        inputs=kwtypes(x=FlyteFile, y=FlyteDirectory),
        output_locs=[OutputLocation(var="j", var_type=FlyteFile, location="{inputs.y}.tar.gz")],
    )

The script is a `str.format` template: `{inputs.x}` is an input (a file or folder: its path;
a datetime: its ISO form), `{outputs.j}` the location of output `j` (itself a template of the
inputs), `{ctx.working_directory}` the attempt's. It runs with `shell` (`/bin/sh`) in the
attempt's working directory, in-process and on a worker alike; the files at the output
locations (relative ones in that directory) become the task's outputs, `File`s or
`Directory`s, put in the store by content. A script that ends with a non-zero code raises
`FlyteRecoverableException` with its output and standard error, as flytekit's does.

Files and folders given as inputs are copied into the working directory before the script
runs (under their own name; the next input of the same name under a folder named after the
input) and the script names them by that relative path: a script may change them without
touching the copy graft keeps for other tasks, and what one script packs relative paths of
(`tar`) another unpacks over its own inputs, as a flytekit program run locally expects.
A script that changes directory before it uses an input should make the path absolute first
(`x=$(realpath {inputs.x})`).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import shutil
import signal
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sdk.authoring.python_task import Interface, PythonInstanceTask, _caller_module
from sdk.model.flyte_errors import FlyteRecoverableException
from sdk.values.files import Directory, File
from sdk.values.flyte_context import FlyteContextManager

_log = logging.getLogger("graft.shell")
T = TypeVar("T")

# Script files ShellTasks read, so that the code bundle of their module carries them to the
# workers (sdk.runtime.bundle).
SCRIPT_FILES: set[Path] = set()


@dataclass
class ProcessResult:
    """A finished process: its return code, standard output and standard error."""

    returncode: int
    output: str
    error: str


@dataclass
class OutputLocation:
    """Output `var` of type `var_type` (File or Directory, or a subclass) is the file or
    folder at `location`, a template of the inputs (`"{inputs.v}.tar.gz"`)."""

    var: str
    var_type: type
    location: os.PathLike | str


def subproc_execute(command: list[str] | str, **kwargs: Any) -> ProcessResult:
    """Run `command` and capture its output (flytekit's helper for Python tasks). Raises
    RuntimeError with the standard error when it fails or its program is missing."""
    kwargs = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True,
              "check": True, **kwargs}
    if kwargs.get("shell"):
        if "|" in command:
            _log.warning("Found a pipe in the command and shell=True. This can lead to "
                         "silent failures if subsequent commands succeed despite previous "
                         "failures.")
        if isinstance(command, list):
            _log.warning("Found `command` formatted as a list instead of a string with "
                         "shell=True: the first member of the list is run and the others "
                         "are passed to the shell, not to it.")
    try:
        result = subprocess.run(command, **kwargs)
        result.check_returncode()
        return ProcessResult(result.returncode, result.stdout, result.stderr)
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"Command: {e.cmd}\nFailed with return code {e.returncode}:\n"
                           f"{e.stderr}") from e
    except FileNotFoundError as e:
        raise RuntimeError(f"Process failed because the executable could not be found.\n{e}"
                           ) from e


class AttrDict(dict):
    """A dict whose keys are also attributes (`inputs.x` in a template)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.__dict__ = self


class _Formatter(string.Formatter):
    """Renders a template: a file or folder input is copied into `workdir` on first use and
    named by its path relative to it; a datetime is its ISO form."""

    def __init__(self, workdir: str):
        super().__init__()
        self.workdir = workdir
        self.copies: dict[int, str] = {}  # id(input value) -> its path relative to workdir

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        obj, first = super().get_field(field_name, args, kwargs)
        if isinstance(obj, (File, Directory)) and field_name.startswith("inputs."):
            obj = self._copy(obj, field_name.split(".")[1].split("[")[0])
        return obj, first

    def format_field(self, value: Any, format_spec: str) -> Any:
        if isinstance(value, (File, Directory)):
            return value.download()
        if isinstance(value, datetime.datetime):
            return value.isoformat()
        return super().format_field(value, format_spec)

    def _copy(self, value: File | Directory, name: str) -> str:
        if id(value) in self.copies:
            return self.copies[id(value)]
        source = value.download()
        base = os.path.basename(source.rstrip("/")) or name
        taken = set(self.copies.values())
        rel = next(r for r in (base, os.path.join(name, base), os.path.join(f".{name}", base))
                   if r not in taken and not os.path.lexists(os.path.join(self.workdir, r)))
        target = os.path.join(self.workdir, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.isdir(source):
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copyfile(source, target)
        self.copies[id(value)] = rel
        return rel


class _PythonFStringInterpolizer:
    """Fills in `str.format` templates with `inputs`, `outputs` and `ctx` (flytekit's)."""

    def __init__(self, workdir: str | None = None):
        self._formatter = _Formatter(workdir or os.getcwd())

    def interpolate(self, tmpl: str, inputs: dict[str, Any] | None = None,
                    outputs: dict[str, str] | None = None) -> str:
        consolidated = {"inputs": AttrDict(inputs or {}), "outputs": AttrDict(outputs or {}),
                        "ctx": _user_params()}
        try:
            return self._formatter.format(tmpl, **consolidated)
        except KeyError as e:
            raise ValueError(f"Variable {e} in Query not found in inputs "
                             f"{consolidated.keys()}") from None


def _user_params() -> Any:
    return FlyteContextManager.current_context().user_space_params


def _working_directory() -> str:
    params = _user_params()
    return str(getattr(params, "working_directory", None) or os.getcwd())


def _run_script(script: str, shell: str, cwd: str) -> ProcessResult:
    """Run `script` with `shell` in `cwd`; its standard output is printed line by line (and
    kept without line ends, as flytekit keeps it). The script's processes are killed when
    the task is stopped (a timeout)."""
    process = subprocess.Popen(script, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               bufsize=0, shell=True, text=True, executable=shell, cwd=cwd,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate()
    except BaseException:
        _kill_group(process)
        raise
    out = ""
    for line in stdout.splitlines():
        print(line)
        out += line
    return ProcessResult(process.wait(), out, stderr)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


class ShellTask(PythonInstanceTask[T]):
    """A task that runs a shell script (flytekit's `ShellTask`): `script` or `script_file`,
    templated with `inputs` and the locations of `output_locs`."""

    def __init__(self, name: str, debug: bool = False, script: str | None = None,
                 script_file: str | None = None, task_config: T | None = None,
                 shell: str = "/bin/sh", inputs: dict[str, type] | None = None,
                 output_locs: list[OutputLocation] | None = None, **kwargs: Any):
        if script and script_file:
            raise ValueError("Only either of script or script_file can be provided")
        if not script and not script_file:
            raise ValueError("Either a script or script_file is needed")
        if script_file:
            creator = sys.modules.get(_caller_module(self))
            script_file = _find_script(script_file, getattr(creator, "__file__", None))
        if task_config is not None:
            raise ValueError("TaskConfig can either be empty - indicating simple container "
                             "task or a PodConfig (graft runs no pods: leave it empty).")
        self._script = script
        self._script_file = script_file
        self._debug = debug
        self._shell = shell
        self._output_locs = list(output_locs) if output_locs else []
        outputs = self._validate_output_locs()
        self._process_result: ProcessResult | None = None
        super().__init__(name, task_config, task_type="python-task",
                         interface=Interface(inputs=inputs, outputs=outputs), **kwargs)

    def _validate_output_locs(self) -> dict[str, type]:
        outputs = {}
        for v in self._output_locs:
            if v is None:
                raise ValueError("OutputLocation cannot be none")
            if not isinstance(v, OutputLocation):
                raise ValueError("Every output type should be an output location on the "
                                 "file-system")
            if v.location is None:
                raise ValueError(f"Output Location not provided for output var {v.var}")
            if not (isinstance(v.var_type, type) and issubclass(v.var_type, (File, Directory))):
                raise ValueError("Currently only outputs of type FlyteFile/FlyteDirectory and "
                                 "their derived types are supported")
            outputs[v.var] = v.var_type
        return outputs

    @property
    def result(self) -> ProcessResult | None:
        """The last run's process (in the process that ran it)."""
        return self._process_result

    @property
    def script(self) -> str | None:
        return self._script

    @property
    def script_file(self) -> str | None:
        return self._script_file

    def _render(self, kwargs: dict[str, Any], workdir: str) -> tuple[str, dict[str, str]]:
        """The script with its inputs and output locations filled in, and the locations."""
        if self._script_file:
            with open(self._script_file) as f:
                self._script = f.read()
        interpolizer = _PythonFStringInterpolizer(workdir)
        outputs = {v.var: interpolizer.interpolate(str(v.location), inputs=kwargs)
                   for v in self._output_locs}
        script = interpolizer.interpolate(self._script or "", inputs=kwargs, outputs=outputs)
        if self._debug:
            print("\n==============================================\n")
            print(script)
            print("\n==============================================\n")
        return script, outputs

    def _outputs(self, outputs: dict[str, str], workdir: str) -> Any:
        final: list[Any] = []
        for v in self._output_locs:
            path = os.path.join(workdir, outputs[v.var])  # an absolute location stays itself
            final.append(File(path) if issubclass(v.var_type, File) else Directory(path))
        if len(final) == 1:
            return final[0]
        return tuple(final) if final else None

    def execute(self, **kwargs: Any) -> Any:
        """Run the script in the working directory; its output files, or
        FlyteRecoverableException with its standard error when it fails."""
        _log.info("Running shell script as type %s", self.task_type)
        workdir = _working_directory()
        script, outputs = self._render(kwargs, workdir)
        self._process_result = _run_script(script, self._shell, workdir)
        if self._process_result.returncode != 0:
            files = os.listdir(workdir)
            fstr = "\n-".join(files)
            error = (f"Failed to Execute Script, return-code "
                     f"{self._process_result.returncode} \n"
                     f"Current directory contents: .\n-{fstr}\n"
                     f"StdOut: {self._process_result.output}\n"
                     f"StdErr: {self._process_result.error}\n")
            _log.error(error)
            raise FlyteRecoverableException(error)
        return self._outputs(outputs, workdir)


class RawShellTask(ShellTask[T]):
    """A ShellTask for a 'raw' script given at run time (flytekit's; made by
    `get_raw_shell_task`): input `env` (a dict) is exported by `{inputs.export_env}`, and the
    script runs with `subprocess.check_call` (a failure raises CalledProcessError)."""

    def __init__(self, name: str, debug: bool = False, script: str | None = None,
                 script_file: str | None = None, task_config: T | None = None,
                 inputs: dict[str, type] | None = None,
                 output_locs: list[OutputLocation] | None = None, **kwargs: Any):
        super().__init__(name=name, debug=debug, script=script, script_file=script_file,
                         task_config=task_config, inputs=inputs, output_locs=output_locs,
                         **kwargs)

    def make_export_string_from_env_dict(self, d: dict[str, str]) -> str:
        return "\n".join(f"export {k}={v}" for k, v in d.items())

    def execute(self, **kwargs: Any) -> Any:
        _log.info("Running shell script as type %s", self.task_type)
        if "env" in kwargs and isinstance(kwargs["env"], dict):
            kwargs["export_env"] = self.make_export_string_from_env_dict(kwargs["env"])
        workdir = _working_directory()
        script, outputs = self._render(kwargs, workdir)
        try:
            subprocess.check_call(script, shell=True, cwd=workdir)
        except subprocess.CalledProcessError as e:
            files = "\n-".join(os.listdir(workdir))
            _log.error("Failed to Execute Script, return-code %s \nStdErr: %s\nStdOut: %s\n "
                       "Current directory contents: .\n-%s", e.returncode, e.stderr, e.stdout,
                       files)
            raise
        return self._outputs(outputs, workdir)


def get_raw_shell_task(name: str) -> RawShellTask:
    """A RawShellTask that runs the script file `script_file` with `script_args`, with the
    variables of `env` exported; its output `out` is the working directory."""
    from sdk.values.structured_dataset import kwtypes

    return RawShellTask(
        name=name,
        debug=True,
        inputs=kwtypes(env=dict[str, str], script_args=str, script_file=str),
        output_locs=[OutputLocation(var="out", var_type=Directory,
                                    location="{ctx.working_directory}")],
        script="""
#!/bin/bash

set -uex

cd {ctx.working_directory}

{inputs.export_env}

bash {inputs.script_file} {inputs.script_args}
""",
    )


def _find_script(script_file: str, module_file: str | None) -> str:
    """The absolute path of a script file: relative to the current directory (flytekit's),
    else to the folder of the module creating the task (where a worker finds it, in the code
    bundle). ValueError when it is in neither."""
    candidates = [Path(script_file)]
    if module_file and not os.path.isabs(script_file):
        candidates.append(Path(module_file).resolve().parent / script_file)
    for path in candidates:
        if path.is_file():
            found = path.resolve()
            SCRIPT_FILES.add(found)
            return str(found)
    raise ValueError(f"FileNotFound: the specified Script file at path {script_file} cannot "
                     f"be loaded")
