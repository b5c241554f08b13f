"""`sdk.testing.task_mock` and `patch`, used as flytekit users use them in unit tests of their
workflows (flytesnacks' testing/mocking.py first), and the edge cases of flytekit's own tests
(test_type_hints, test_references, test_imperative_with_patching, test_local_cache). What
flytekit 1.16 does was read off runs of the same programs; where graft differs, the test
says so."""

from __future__ import annotations

import pandas
import pytest
from workflows import mocking as wf
from workflows.failing import count

from sdk import ExecutionFailed
from sdk.testing import patch, task_mock


def user_error(call) -> BaseException:
    """What a call raised, seen through ExecutionFailed to the task's own exception."""
    with pytest.raises(Exception) as info:
        call()
    exc = info.value
    while isinstance(exc, ExecutionFailed) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def error_type(call) -> str:
    """The type name of what a call failed with: the task's exception, or the failure that
    ended its node (an ExecutionFailed raised from no exception of the task's)."""
    exc = user_error(call)
    if isinstance(exc, ExecutionFailed):
        return exc.failures[0].error_type
    return type(exc).__name__


# ---- flytesnacks' testing/mocking.py, `flytekit` renamed `sdk` ------------------------------

def test_flytesnacks_task_mock():
    with task_mock(wf.query) as mock:
        mock.return_value = pandas.DataFrame(data={"x": [1, 2], "y": ["3", "4"]})
        assert (wf.my_wf() == pandas.DataFrame(data={"x": [1, 2], "y": ["3", "4"]})).all().all()


def test_flytesnacks_patch():
    @patch(wf.query)
    def test_user_demo_test(mock_sql):
        mock_sql.return_value = pandas.DataFrame(data={"x": [1, 2], "y": ["3", "4"]})
        assert (wf.my_wf() == pandas.DataFrame(data={"x": [1, 2], "y": ["3", "4"]})).all().all()

    test_user_demo_test()


def test_unmocked_the_task_runs():
    assert isinstance(user_error(wf.my_wf), NotImplementedError)


# Collected and run by pytest as it is: the mock comes first, fixtures after it.
@patch(wf.add)
def test_a_patched_module_level_test_is_run_by_pytest_with_its_fixtures(mock_add, tmp_path):
    mock_add.return_value = 7
    assert wf.add_wf(x=1) == 7
    assert tmp_path.is_dir()
    mock_add.assert_called_once_with(x=1)


# ---- what the mock is called with and what it returns ----------------------------------------

def test_the_mock_gets_the_inputs_by_name_without_those_left_at_their_default():
    with task_mock(wf.add) as mock:
        mock.return_value = 100
        assert wf.add(x=1) == 100
        assert wf.add(3) == 100
        assert wf.add(x=2, y=6) == 100
        assert wf.add_wf(x=4) == 100
    assert [c.kwargs for c in mock.call_args_list] == [{"x": 1}, {"x": 3}, {"x": 2, "y": 6},
                                                       {"x": 4}]


def test_side_effect_computes_the_result_and_its_exception_is_the_tasks():
    with task_mock(wf.add) as mock:
        mock.side_effect = lambda x: x * 1000
        assert wf.add_wf(x=2) == 2000
        mock.side_effect = RuntimeError("boom")
        exc = user_error(lambda: wf.add_wf(x=2))
    assert isinstance(exc, RuntimeError) and str(exc) == "boom"


def test_what_the_mock_returns_is_converted_by_the_declared_outputs():
    with task_mock(wf.pair) as mock:
        mock.return_value = (7, "seven")
        assert wf.pair(x=1) == (7, "seven")
    with task_mock(wf.add) as mock:
        mock.return_value = "notint"  # flytekit: TypeTransformerFailedError
        assert error_type(lambda: wf.add(x=1)) == "TypeConversionError"
        mock.return_value = None
        assert error_type(lambda: wf.add(x=1)) == "TypeConversionError"
    with task_mock(wf.label):  # a bare MagicMock is no str
        assert error_type(lambda: wf.label(x=1)) == "TypeConversionError"


def test_a_task_without_outputs_ignores_what_the_mock_returns():
    with task_mock(wf.note) as mock:
        assert wf.note(x=1) is None
        assert wf.note_wf(x=2) is None
    assert mock.call_count == 2


# ---- where a mock stands in ---------------------------------------------------------------

def test_a_mocked_task_in_a_map_is_called_once_per_item():
    with task_mock(wf.square) as mock:
        mock.side_effect = lambda x: -x
        assert wf.map_wf(xs=[1, 2, 3]) == [-1, -2, -3]
    assert sorted(c.kwargs["x"] for c in mock.call_args_list) == [1, 2, 3]


def test_a_mocked_task_in_a_dynamic_and_a_mocked_dynamic():
    with task_mock(wf.add) as mock:
        mock.return_value = 100
        assert wf.fan_wf(n=2) == [100, 100]
    with task_mock(wf.fan) as mock:
        mock.return_value = [9, 9]
        assert wf.fan_wf(n=5) == [9, 9]
        assert wf.fan(n=5) == [9, 9]
    assert [c.kwargs for c in mock.call_args_list] == [{"n": 5}, {"n": 5}]
    assert wf.fan_wf(n=2) == [5, 6]


def test_a_mocked_workflow_called_directly_as_a_sub_workflow_in_a_dynamic_or_a_branch():
    with task_mock(wf.add_wf) as mock:
        mock.return_value = 55
        assert wf.add_wf(x=1) == 55
        assert wf.outer_wf(x=1) == 55
        assert wf.fan_workflows(n=2) == [55, 55]
        assert wf.branch_wf(x=3) == 55
        assert wf.branch_wf(x=-3) == -3  # the other case: no mock
    assert [c.kwargs for c in mock.call_args_list] == [{"x": 1}] * 2 + [{"x": 0}, {"x": 1},
                                                                         {"x": 3}]
    assert wf.outer_wf(x=1) == 6


def test_patch_on_a_workflow():
    @patch(wf.add_wf)
    def inner_test(mock_wf):
        mock_wf.return_value = 42
        return wf.outer_wf(x=3)

    assert inner_test() == 42
    assert wf.outer_wf(x=3) == 8  # only for the duration of that test


def test_patch_on_an_imperative_workflow_and_a_task_of_it():
    # flytekit's test_imperative_with_patching.py
    assert wf.wb(in1="hello") == "hello world"

    @patch(wf.wb)
    def test_imperative_patching(mock_wb):
        mock_wb.return_value = "hi"
        assert wf.my_functional_wf(a="hello") == "hi"
        assert wf.wb(in1="x") == "hi"
        assert [c.kwargs for c in mock_wb.call_args_list] == [{"in1": "hello"}, {"in1": "x"}]

    @patch(wf.hello)
    def test_none_conversion(mock_t1):
        mock_t1.return_value = None  # flytekit: TypeError, as None is no str
        assert error_type(lambda: wf.wb(in1="hello")) == "TypeConversionError"

    test_imperative_patching()
    test_none_conversion()
    assert wf.my_functional_wf(a="hello") == "hello world"


def test_a_mocked_cached_task_neither_reads_nor_fills_the_cache(tmp_path):
    # flytekit answers from the cache without calling the mock, and caches the mock's value,
    # which later real runs then return.
    counter = str(tmp_path)
    assert wf.cached_wf(x=1, counter_dir=counter) == 2
    with task_mock(wf.cached_add) as mock:
        mock.return_value = -1
        assert wf.cached_wf(x=1, counter_dir=counter) == -1
        assert wf.cached_wf(x=2, counter_dir=counter) == -1
    assert mock.call_count == 2
    assert wf.cached_wf(x=2, counter_dir=counter) == 3
    assert wf.cached_wf(x=1, counter_dir=counter) == 2
    assert count(counter, "cached_add") == 2  # x=1 once, x=2 once: the cache still works


# ---- installing and removing ----------------------------------------------------------------

def test_a_mock_lasts_for_its_block_also_when_the_block_raises():
    with task_mock(wf.add) as mock:
        mock.return_value = 1
    assert wf.add(x=1) == 6
    with pytest.raises(KeyError), task_mock(wf.add) as mock:
        mock.return_value = 1
        raise KeyError("inside")
    assert wf.add(x=1) == 6  # flytekit leaves the mock installed here


def test_nested_mocks_of_one_task_the_inner_one_wins_until_its_block_ends():
    with task_mock(wf.add) as outer:
        with task_mock(wf.add) as inner:
            outer.return_value, inner.return_value = 1, 2
            assert wf.add(x=1) == 2
        assert wf.add(x=1) == 1
    assert wf.add(x=1) == 6


def test_patch_passes_arguments_on_returns_the_result_and_keeps_the_name():
    @patch(wf.add)
    def checks(mock, extra, *, flag=False):
        mock.return_value = 42
        return wf.add(x=1), extra, flag

    assert checks("E", flag=True) == (42, "E", True)
    assert checks.__name__ == "checks"
    assert wf.add(x=1) == 6


@pytest.mark.parametrize("target", [lambda x: x, 3, "add", wf.add.fn])
def test_only_tasks_and_workflows_can_be_mocked(target):
    with pytest.raises(ValueError, match="Can only be used for tasks, but got"), \
            task_mock(target):
        pass
    with pytest.raises(ValueError, match="Can only use mocks on tasks/workflows declared in "
                                         "Python, but got"):
        patch(target)
