"""The in-process runner (sdk.runtime.local): `wf()` on every test workflow, direct task and dynamic
calls, failures, retries and the local cache."""

import os
import pathlib
import shutil
import threading
import traceback
import typing

import pytest
from workflows import basic, cached, dynamics, failing, files, robust
from workflows.basic import Stats
from workflows.cases import CASES
from workflows.failing import count

from sdk import CompileError, TypeConversionError, task, workflow
from sdk.exceptions.user import FlyteRecoverableException
from sdk.types import Directory, File


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_workflow_gives_expected_result(case):
    result = case.workflow(**case.kwargs)
    assert result == case.expected
    if type(case.expected) is tuple:  # several unnamed outputs: as flytekit returns them
        assert type(result).__name__ == "DefaultNamedTupleOutput"
        assert result._fields == tuple(f"o{i}" for i in range(len(result)))
    else:
        assert type(result) is type(case.expected)


def test_results_keep_their_python_types():
    st = basic.stats_wf(n=3)
    assert isinstance(st, Stats)
    assert (st.total, st.mean, st.label) == (14, 14 / 3, "squares")
    _, _, half, none, _, inverted, _ = basic.containers(name=None)
    assert isinstance(half, float) and none is None
    assert list(inverted) == [1, 2] and all(isinstance(k, int) for k in inverted)
    seg, length, color, weight = basic.dataclasses_wf()
    assert type(seg).__name__ == "Segment" and type(seg.a).__name__ == "Point"
    assert (length, color.value, weight) == (5.0, "green", 1.5)


def test_positional_call_of_a_workflow():
    assert basic.chain(3) == "squares=14"


def test_same_workflow_runs_twice():
    assert dynamics.nested_wf(width=2) == dynamics.nested_wf(width=2) == 44844


# ---- calling tasks and dynamics outside a workflow ----------------------------------------

def test_tasks_called_directly():
    assert basic.add(a=2, b=3) == 5
    assert basic.add(2, b=3) == 5
    assert basic.div_mod(a=7, b=2) == (3, "r1")
    assert basic.min_max(xs=[3.0, -1.0, 2.0]) == (-1.0, 3.0)
    assert basic.summarize(xs=[1, 2, 3]) == Stats(6, 2.0, "squares")
    assert basic.greet() == "hello nobody"
    assert basic.maybe_half(x=3) is None
    assert basic.invert(d={"a": 1}) == {1: "a"}
    assert basic.transpose(m=[[1.0, 2.0]]) == [[1.0], [2.0]]
    assert basic.add_floats(a=1, b=2) == 3.0  # int literal accepted for a float input


def test_dynamics_called_directly():
    assert dynamics.fan_out(n=4) == [0, 1, 4, 9]
    assert dynamics.fib(n=7) == 13
    assert dynamics.fib(n=1) == 1
    assert dynamics.countdown(n=3, seen=[9]) == [9, 3, 2, 1]
    assert dynamics.level3(base=1, width=3) == 1 + 4 + 9
    assert dynamics.sums_of_squares(ns=[2, 4]) == [5, 30]


def test_task_without_outputs_returns_none(tmp_path):
    target = tmp_path / "touched"

    @task
    def touch(path: str):
        open(path, "w").close()

    assert touch(path=str(target)) is None
    assert target.exists()


def test_wrong_inputs_at_the_top_level():
    with pytest.raises(TypeConversionError) as info:
        basic.chain(n="4")
    assert str(info.value) == "input 'n' of workflow 'chain': expected int, got str"
    with pytest.raises(CompileError, match=r"workflow 'chain' has no input 'm'; its inputs are: n"):
        basic.chain(m=4)
    with pytest.raises(CompileError, match=r"call to task 'add' is missing input 'b' \(int\)"):
        basic.add(a=1)


def test_any_values_json_cannot_hold_come_back_as_they_were_sent():
    assert robust.any_out(kind="json") == {"json": [1, 2.5, None, "x"]}
    back = robust.any_out(kind="pickled")
    assert back == (robust.When.EPOCH, {1: "one"}, {2.5}) and type(back) is tuple


def test_an_any_output_nothing_can_encode_fails_its_node_naming_output_and_task():
    """In-process the call raises the node's TypeConversionError, as flytekit raises its
    TypeTransformerFailedError (the cluster's ExecutionFailed: tests/integration)."""
    with pytest.raises(TypeConversionError) as info:
        robust.any_out(kind="lock")
    assert str(info.value).startswith("output 'o0' of task 'anything' (node 'anything'): cannot "
                                      "encode a _thread.lock value as Any: ")
    assert info.value.__notes__ == [
        "graft: raised by task 'anything' in node 'anything' of workflow 'any_out'"]
    with pytest.raises(TypeConversionError) as info:
        robust.any_in_containers(kind="generator")
    assert str(info.value).startswith("output 'o0' of task 'any_items' (node 'any_items'), key "
                                      "'items', item 1: cannot encode a generator value as Any: ")


def test_an_any_input_nothing_can_encode_is_refused_before_anything_runs():
    with pytest.raises(TypeConversionError, match=r"^input 'x' of task 'echo_any': cannot encode "
                                                  r"a _thread.lock value as Any: "):
        robust.echo_any(x=threading.Lock())

    @workflow
    def binds_a_lock() -> typing.Any:
        return robust.echo_any(x=threading.Lock())

    with pytest.raises(CompileError, match=r"input 'x'.*: cannot encode a _thread.lock value"):
        binds_a_lock()


# ---- files --------------------------------------------------------------------------------

def test_file_outputs_can_be_opened_afterwards(graft_dirs):
    text, name, upper = files.file_wf(text="hello file")
    assert (text, name) == ("hello file", "greeting.txt")
    assert isinstance(upper, File)
    assert os.path.basename(upper) == "upper-greeting.txt"
    assert str(upper).startswith(str(graft_dirs["cache"]))
    with open(upper) as fh:
        assert fh.read() == "HELLO FILE"
    with upper.open() as fh:
        assert fh.read() == b"HELLO FILE"


def test_file_task_called_directly():
    f = files.write_text(text="direct", name="note.md")
    assert isinstance(f, File)
    assert os.path.basename(str(f)) == "note.md"
    with open(f) as fh:
        assert fh.read() == "direct"
    assert files.read_text(f=f) == "direct"
    assert files.read_text(f=str(f)) == "direct"


def test_directory_outputs(graft_dirs):
    listing, size, d = files.dir_wf(n=3)
    assert listing == ["part-0.txt", "part-1.txt", "part-2.txt", "sub/nested.txt"]
    assert size == 1 + 2 + 3 + 4
    assert isinstance(d, Directory)
    assert os.path.basename(str(d)) == "data"
    assert pathlib.Path(d, "sub", "nested.txt").read_text() == "deep"
    assert pathlib.Path(d, "part-2.txt").read_text() == "222"


def test_missing_output_file_fails_the_node(tmp_path):
    @task(retries=3)
    def lost(counter_dir: str) -> File:
        failing.bump(counter_dir, "lost")
        return os.path.join(counter_dir, "never-written.txt")

    with pytest.raises(TypeConversionError) as info:
        lost(counter_dir=str(tmp_path))
    message = str(info.value)
    assert message.startswith("output 'o0' of task 'lost' (node 'lost'): file ")
    assert "never-written.txt' cannot be read (No such file or directory" in message
    assert count(str(tmp_path), "lost") == 1


def test_output_directory_with_a_broken_symlink_fails_the_node(tmp_path):
    @task(retries=2)
    def linked(counter_dir: str) -> Directory:
        failing.bump(counter_dir, "linked")
        out = pathlib.Path(counter_dir, "out")
        out.mkdir()
        (out / "ok.txt").write_text("ok")
        (out / "dangling").symlink_to(out / "gone.txt")
        return Directory(str(out))

    with pytest.raises(TypeConversionError) as info:
        linked(counter_dir=str(tmp_path))
    dangling = str(tmp_path / "out" / "dangling")
    assert str(info.value) == (
        f"output 'o0' of task 'linked' (node 'linked'): file {dangling!r} in directory "
        f"{str(tmp_path / 'out')!r} cannot be read (No such file or directory; a broken "
        f"symlink?)")
    assert count(str(tmp_path), "linked") == 1


# ---- failures -----------------------------------------------------------------------------

def test_a_failing_task_raises_its_own_exception_noting_node_and_task():
    """As flytekit's local run: the task's exception itself leaves the workflow call, its
    traceback going down to the user's line; graft notes the node and the task on it."""
    with pytest.raises(ValueError) as info:
        failing.failing_wf(x=1)
    err = info.value
    assert type(err) is ValueError and str(err) == "cannot handle x=2"
    assert err.__notes__ == [
        "graft: raised by task 'explode' in node 'explode' of workflow 'failing_wf'"]
    shown = "".join(traceback.format_exception(err))
    assert 'raise ValueError(f"cannot handle x={x}")' in shown
    assert "workflows/failing.py" in shown
    assert shown.rstrip().endswith("ValueError: cannot handle x=2\n"
                                   "graft: raised by task 'explode' in node 'explode' of "
                                   "workflow 'failing_wf'")


def test_passing_run_of_a_workflow_that_can_fail():
    assert failing.failing_wf(x=-5) == 96


def test_failure_inside_a_dynamic_names_the_grafted_node():
    with pytest.raises(ValueError, match=r"^cannot handle x=3") as info:
        failing.failing_dynamic_wf(xs=[0, 0, 3])
    assert info.value.__notes__ == ["graft: raised by task 'explode' in node "
                                    "'explode_some/explode-2' of workflow 'failing_dynamic_wf'"]


def test_failure_in_a_dynamic_body():
    with pytest.raises(KeyError) as info:
        failing.broken_body(n=3)
    assert info.value.args == ("no entry for 3",)
    assert info.value.__notes__ == [
        "graft: raised by dynamic 'broken_body' in node 'broken_body' of dynamic 'broken_body'"]
    assert 'raise KeyError(f"no entry for {n}")' in "".join(
        traceback.format_exception(info.value))
    assert failing.broken_body(n=1) == 1


def test_task_called_directly_raises_its_own_exception():
    with pytest.raises(ValueError, match=r"^cannot handle x=4") as info:
        failing.explode(x=4)
    assert info.value.__notes__ == [
        "graft: raised by task 'explode' in node 'explode' of task 'explode'"]


def test_wrong_number_of_outputs_at_run_time():
    @task
    def short() -> (int, str):
        return (1,)

    with pytest.raises(TypeConversionError) as info:
        short()
    assert str(info.value) == (
        "task 'short' (node 'short') declares 2 outputs (o0, o1) but returned 1 value(s)")


# ---- retries ------------------------------------------------------------------------------

def test_a_task_is_not_retried_in_process(tmp_path):
    """flytekit's local runs do not retry: a task with retries=2 that fails raises at once
    (retries hold on a cluster: tests/integration/test_failures.py)."""
    counter_dir = str(tmp_path / "counter")
    with pytest.raises(RuntimeError, match=r"^flaky failure 1\n"):
        failing.flaky_wf(counter_dir=counter_dir, fail_times=2)
    assert count(counter_dir, "flaky") == 1
    assert failing.flaky_wf(counter_dir=counter_dir, fail_times=1) == 2


def test_not_even_a_recoverable_exception_is_retried_in_process(tmp_path):
    @task(retries=3)
    def recoverable(counter_dir: str) -> int:
        failing.bump(counter_dir, "recoverable")
        raise FlyteRecoverableException("try again")

    with pytest.raises(FlyteRecoverableException):
        recoverable(counter_dir=str(tmp_path))
    assert count(str(tmp_path), "recoverable") == 1


def test_no_retries_by_default(tmp_path):
    @task
    def once(counter_dir: str) -> int:
        failing.bump(counter_dir, "once")
        raise RuntimeError("first and last")

    with pytest.raises(RuntimeError, match=r"^first and last"):
        once(counter_dir=str(tmp_path))
    assert count(str(tmp_path), "once") == 1


# ---- the local cache ----------------------------------------------------------------------

def test_cached_workflow_runs_bodies_once(tmp_path, graft_dirs):
    counter_dir = str(tmp_path / "counter")
    assert cached.cached_wf(n=4, counter_dir=counter_dir) == 14
    first = {name: count(counter_dir, name)
             for name in ("slow_square", "cached_fan", "cached_total")}
    assert first == {"slow_square": 4, "cached_fan": 1, "cached_total": 1}
    assert cached.cached_wf(n=4, counter_dir=counter_dir) == 14
    assert {name: count(counter_dir, name) for name in first} == first
    entries = os.listdir(graft_dirs["cache"] / "local-cache")
    assert len(entries) == 4 + 1 + 1
    assert all(e.endswith(".json") for e in entries)


def test_cache_misses_on_other_inputs(tmp_path):
    counter_dir = str(tmp_path)
    assert cached.slow_square(x=3, counter_dir=counter_dir) == 9
    assert cached.slow_square(x=3, counter_dir=counter_dir) == 9
    assert cached.slow_square(x=5, counter_dir=counter_dir) == 25
    assert count(counter_dir, "slow_square") == 2
    # a cached dynamic's grafted tasks hit the entries made by direct calls
    assert cached.cached_fan(n=6, counter_dir=counter_dir) == [0, 1, 4, 9, 16, 25]
    assert count(counter_dir, "slow_square") == 2 + 4


def test_cache_can_be_turned_off(tmp_path, monkeypatch, graft_dirs):
    monkeypatch.setenv("GRAFT_LOCAL_CACHE", "0")
    counter_dir = str(tmp_path)
    for _ in range(2):
        assert cached.cached_wf(n=3, counter_dir=counter_dir) == 5
    assert count(counter_dir, "slow_square") == 6
    assert count(counter_dir, "cached_fan") == 2
    assert not (graft_dirs["cache"] / "local-cache").exists()


def make_versioned(version):
    @task(cache=True, cache_version=version)
    def versioned(x: int, counter_dir: str) -> int:
        failing.bump(counter_dir, "versioned")
        return x + 1

    return versioned


def test_changing_cache_version_misses(tmp_path):
    counter_dir = str(tmp_path)
    assert make_versioned("1")(x=1, counter_dir=counter_dir) == 2
    assert make_versioned("1")(x=1, counter_dir=counter_dir) == 2
    assert count(counter_dir, "versioned") == 1
    assert make_versioned("2")(x=1, counter_dir=counter_dir) == 2
    assert count(counter_dir, "versioned") == 2
    assert make_versioned("1")(x=1, counter_dir=counter_dir) == 2  # the old entry still hits
    assert count(counter_dir, "versioned") == 2


def test_cache_entry_whose_store_objects_are_gone_misses(tmp_path, monkeypatch):
    counter_dir = str(tmp_path / "counter")
    assert cached.cached_range(n=1000, counter_dir=counter_dir) == list(range(1000))
    assert cached.cached_range(n=1000, counter_dir=counter_dir) == list(range(1000))
    assert count(counter_dir, "cached_range") == 1
    monkeypatch.setenv("GRAFT_STORE", str(tmp_path / "fresh-store"))
    assert cached.cached_range(n=1000, counter_dir=counter_dir) == list(range(1000))
    assert count(counter_dir, "cached_range") == 2


@task(cache=True, cache_version="1.0")
def cached_dir(n: int, counter_dir: str) -> Directory:
    """A folder of n files (with n = 40 its literal is big enough to live in the store)."""
    out = pathlib.Path(counter_dir, f"dir-{failing.bump(counter_dir, 'cached_dir')}")
    out.mkdir(parents=True)
    for i in range(n):
        (out / f"part-{i:03d}-{'x' * 20}.txt").write_text(str(i))
    return Directory(str(out))


@pytest.mark.parametrize("n", [2, 40], ids=["inline", "stored"])
def test_cache_entry_whose_directory_files_are_gone_misses(tmp_path, graft_dirs, n):
    counter_dir = str(tmp_path / "counter")
    first = cached_dir(n=n, counter_dir=counter_dir)
    assert cached_dir(n=n, counter_dir=counter_dir)._literal == first._literal
    assert count(counter_dir, "cached_dir") == 1
    (entry,) = (graft_dirs["cache"] / "local-cache").iterdir()
    assert ('"u":' in entry.read_text()) is (n == 40)
    shutil.rmtree(graft_dirs["store"] / "blobs")  # the files' blobs; values/ stays
    again = cached_dir(n=n, counter_dir=counter_dir)
    assert count(counter_dir, "cached_dir") == 2
    assert sorted(again._literal["files"]) == sorted(first._literal["files"])
    assert all((graft_dirs["store"] / key).exists() for key in again._literal["files"].values())


@task
def one() -> int:
    return 1


@task(cache=True, cache_version="1.0")
def cached_half(x: float, counter_dir: str) -> float:
    failing.bump(counter_dir, "cached_half")
    return x / 2


def test_int_output_bound_to_a_float_input_hits_the_float_entry(tmp_path):
    counter_dir = str(tmp_path)

    @workflow
    def half_of_one(counter_dir: str) -> float:
        return cached_half(x=one(), counter_dir=counter_dir)

    assert cached_half(x=1.0, counter_dir=counter_dir) == 0.5
    assert half_of_one(counter_dir=counter_dir) == 0.5
    assert count(counter_dir, "cached_half") == 1


def test_failed_runs_are_not_cached(tmp_path):
    @task(cache=True, cache_version="1")
    def fails_once(counter_dir: str) -> int:
        n = failing.bump(counter_dir, "fails_once")
        if n == 1:
            raise ValueError("first call fails")
        return n

    with pytest.raises(ValueError, match="first call fails"):
        fails_once(counter_dir=str(tmp_path))
    assert fails_once(counter_dir=str(tmp_path)) == 2
    assert fails_once(counter_dir=str(tmp_path)) == 2
    assert count(str(tmp_path), "fails_once") == 2


def test_workflow_compiled_against_one_store_runs_against_another(tmp_path, monkeypatch):
    assert basic.big_literal() == sum(range(2000))
    monkeypatch.setenv("GRAFT_STORE", str(tmp_path / "other-store"))
    assert basic.big_literal() == sum(range(2000))


@workflow
def module_level_wf(n: int) -> int:
    return basic.add(a=n, b=n)


def test_workflow_defined_in_a_test_module():
    assert module_level_wf(n=21) == 42
