"""`ShellTask` (`sdk.extras.tasks.shell`), as flytekit 1.16's: a script templated with its
inputs and output locations, run with a shell in the attempt's working directory, its output
files and folders returned as FlyteFile / FlyteDirectory. What flytekit does was read off runs
of the same programs under flytekit 1.16; where graft differs, the test says so."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

import pytest
from workflows import not_python as np_wf

from sdk import ExecutionFailed, TaskMetadata, TaskTimeout, kwtypes
from sdk.exceptions import FlyteRecoverableException
from sdk.extras.tasks.shell import (
    OutputLocation,
    RawShellTask,
    ShellTask,
    get_raw_shell_task,
    subproc_execute,
)
from sdk.types.directory import FlyteDirectory
from sdk.types.file import FlyteFile


def raised(call) -> BaseException:
    """What a call raised, seen through ExecutionFailed to the task's own exception."""
    with pytest.raises(Exception) as info:
        call()
    exc = info.value
    while isinstance(exc, ExecutionFailed) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def test_inputs_and_output_locations_are_templated_and_debug_prints_the_script(capsys):
    assert np_wf.stamp_wf(word="hi", n=3) == "hi x3 at 2024-01-02T03:04:05\n"
    printed = capsys.readouterr().out
    # flytekit's debug frame around the script; a datetime is its ISO form
    assert "==============================================\n\n\n    set -e\n    echo \"hi x3 " \
           "at 2024-01-02T03:04:05\" > stamp_3.txt" in printed


def test_a_direct_call_returns_the_output_file_of_its_type():
    out = np_wf.stamp(word="w", n=1, when=datetime.datetime(2020, 5, 6))
    assert isinstance(out, FlyteFile) and os.path.basename(out) == "stamp_1.txt"
    assert Path(out).read_text() == "w x1 at 2020-05-06T00:00:00\n"


def test_input_files_are_private_copies_named_by_relative_paths():
    # pack appends to its copy of notes and tars its copy of the folder by its relative path;
    # unpack extracts that over its own copy of the same folder, as flytesnacks' example does
    names, notes = np_wf.pack_wf(word="second")
    assert names == "keep\nnotes.txt\n" and notes == "first\nsecond\n"
    # graft's stored copy of the input was not touched by the script that appended to it
    notes_in, _ = np_wf.make_inputs()
    assert Path(notes_in).read_text() == "first\n"


def test_several_outputs_files_and_folders(tmp_path):
    two = ShellTask(name="two_outputs",
                    script="mkdir -p {outputs.d}; echo a > {outputs.d}/a; echo b > {outputs.f}",
                    output_locs=[OutputLocation(var="d", var_type=FlyteDirectory, location="dd"),
                                 OutputLocation(var="f", var_type=FlyteFile,
                                                location="ff.txt")])
    d, f = two()
    assert isinstance(d, FlyteDirectory) and sorted(os.listdir(d)) == ["a"]
    assert isinstance(f, FlyteFile) and Path(f).read_text() == "b\n"
    assert two.python_interface.outputs == {"d": FlyteDirectory, "f": FlyteFile}
    assert two.task_type == "python-task"  # flytekit's, with no task_config


def test_no_outputs_returns_none_and_result_keeps_the_process():
    quiet = ShellTask(name="quiet", script="echo one; echo two")
    assert quiet() is None
    # flytekit keeps the printed lines without their line ends
    assert quiet.result is not None and quiet.result.returncode == 0
    assert quiet.result.output == "onetwo"


def test_script_file_is_read_beside_the_module(tmp_path):
    text = tmp_path / "words.txt"
    text.write_text("one two three\n")
    assert np_wf.count_wf(text=str(text)) == "3\n"
    assert np_wf.count_words.script_file == str(
        Path(np_wf.__file__).parent / "shell_scripts" / "count_words.sh")


def test_a_failing_script_raises_flytekits_error_with_its_stderr():
    exc = raised(lambda: np_wf.fails_wf(what="x"))
    if isinstance(exc, ExecutionFailed):  # graft's in-process runner without the user's type
        assert exc.failures[0].error_type == "FlyteRecoverableException"
    else:
        assert isinstance(exc, FlyteRecoverableException)
    assert "Failed to Execute Script, return-code 3" in str(exc)
    assert "StdOut: partial" in str(exc) and "StdErr: no such thing: x" in str(exc)


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie has stopped


def test_a_timeout_stops_the_script_and_its_children(tmp_path):
    pid_file = tmp_path / "pid"
    slow = ShellTask(name="slow", script=f"sleep 30 & echo $! > {pid_file}; wait",
                     metadata=TaskMetadata(timeout=1))
    started = time.monotonic()
    exc = raised(slow)
    assert time.monotonic() - started < 20
    assert "TaskTimeout" in str(exc) or isinstance(exc, TaskTimeout)
    time.sleep(0.2)
    assert not _running(int(pid_file.read_text()))


def test_a_template_naming_no_input_raises_attribute_error_as_flytekit():
    miss = ShellTask(name="miss", script="echo {inputs.nope}", inputs=kwtypes(x=int))
    exc = raised(lambda: miss(x=1))
    assert "'AttrDict' object has no attribute 'nope'" in str(exc)


def test_construction_is_checked_as_flytekit_checks_it():
    with pytest.raises(ValueError, match="Either a script or script_file is needed"):
        ShellTask(name="x1")
    with pytest.raises(ValueError, match="Only either of script or script_file can be"):
        ShellTask(name="x2", script="a", script_file="b")
    with pytest.raises(ValueError, match=r"FileNotFound: the specified Script file at path "
                                         r"nonexist\.sh cannot be loaded"):
        ShellTask(name="x3", script_file="nonexist.sh")
    with pytest.raises(ValueError, match="only outputs of type FlyteFile/FlyteDirectory"):
        ShellTask(name="x4", script="a",
                  output_locs=[OutputLocation(var="o", var_type=int, location="x")])
    with pytest.raises(ValueError, match="TaskConfig can either be empty"):
        ShellTask(name="x5", script="a", task_config=object())


def test_a_raw_shell_task_runs_a_script_given_at_run_time(tmp_path):
    script = tmp_path / "hello.sh"
    script.write_text('echo "$GREETING $1" > greeting.txt\n')
    raw = get_raw_shell_task("raw")
    assert isinstance(raw, RawShellTask)
    out = raw(env={"GREETING": "hello"}, script_args="world", script_file=str(script))
    assert isinstance(out, FlyteDirectory)
    assert Path(out, "greeting.txt").read_text() == "hello world\n"


def test_subproc_execute_captures_or_raises_with_stderr():
    assert subproc_execute(["echo", "hi"]).output == "hi\n"
    with pytest.raises(RuntimeError, match="Failed with return code 2:\nboom"):
        subproc_execute("echo boom >&2; exit 2", shell=True)
    with pytest.raises(RuntimeError, match="the executable could not be found"):
        subproc_execute(["graft-no-such-program"])


def test_the_code_bundle_carries_the_script_files_to_the_workers():
    import io
    import zipfile

    from sdk.runtime.bundle import module_bundle

    name, data = module_bundle("workflows.not_python")
    assert name == "workflows.not_python" and data is not None
    held = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "workflows/shell_scripts/count_words.sh" in held
    assert "workflows/not_python.py" in held
    assert not [n for n in held if n.startswith("data/")]  # other files stay out
