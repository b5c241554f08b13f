"""Reference entities in-process: `reference_task`, `reference_launch_plan` and
`reference_workflow` compile into workflows like other entities, run only when mocked, and
otherwise fail as flytekit 1.16's do: a NotImplementedError saying "Remote reference
entities cannot be run locally. You must mock this out." (flytekit raises it when the node
is reached; graft before anything runs, naming the reference and how to mock it). flytekit's
own tests/flytekit/unit/core/test_references.py are the model."""

from __future__ import annotations

import typing

import pytest

from sdk import (
    CompileError,
    ConfigError,
    GraftError,
    LaunchPlan,
    ReferenceNotRunnable,
    dynamic,
    map_task,
    reference_launch_plan,
    reference_task,
    reference_workflow,
    task,
    workflow,
)
from sdk.model.reference import REFERENCE_MODULE, Reference, reference_of
from sdk.testing import patch, task_mock

FLYTEKIT_MESSAGE = "Remote reference entities cannot be run locally. You must mock this out"


@reference_task(project="flytesnacks", domain="development",
                name="recipes.aaa.simple.join_strings", version="553018f39e5")
def ref_t1(a: typing.List[str]) -> str:
    """The stub: its body never runs."""
    ...


@reference_launch_plan(project="p", domain="d", name="app.lp", version="v1")
def ref_lp(a: str, b: int) -> typing.NamedTuple("LpOut", x=bool, y=int):
    ...


@reference_workflow(project="proj", domain="development", name="wf_name", version="abc")
def ref_wf1(a: int) -> typing.Tuple[str, str]:
    ...


ran: list[str] = []


@task
def first(a: int) -> int:
    ran.append("first")
    return a + 2


@workflow
def uses_task(in1: typing.List[str]) -> str:
    return ref_t1(a=in1)


@workflow
def uses_all(a: int) -> typing.Tuple[int, str, int]:
    b = first(a=a)
    u, _ = ref_wf1(a=b)
    res = ref_lp(a=u, b=b)
    return b, u, res.y


def test_a_reference_names_what_is_registered():
    assert ref_t1.name == "recipes.aaa.simple.join_strings"  # as flytekit's
    assert (ref_t1.id.project, ref_t1.id.domain, ref_t1.id.version) == (
        "flytesnacks", "development", "553018f39e5")
    assert ref_lp.reference == Reference("launch_plan", "p", "d", "app.lp", "v1")
    assert ref_wf1.reference.kind == "workflow"
    assert list(ref_lp.interface.inputs) == ["a", "b"]
    assert list(ref_lp.interface.outputs) == ["x", "y"]
    assert ref_t1.__doc__ == "The stub: its body never runs."


@pytest.mark.parametrize("call", [
    lambda: ref_t1(a=["x"]), lambda: ref_t1(["x"]), lambda: ref_lp(a="x", b=1),
    lambda: ref_wf1(a=1), lambda: uses_task(in1=["hello", "world"]),
    lambda: uses_all(a=1)], ids=["task", "positional", "launch-plan", "workflow",
                                 "in-a-workflow", "in-a-workflow-after-a-task"])
def test_run_in_process_it_raises_flytekits_not_implemented_error(call):
    ran.clear()
    with pytest.raises(NotImplementedError, match=FLYTEKIT_MESSAGE) as info:
        call()
    assert isinstance(info.value, ReferenceNotRunnable) and isinstance(info.value, GraftError)
    assert "task_mock(" in str(info.value) and "graft register" in str(info.value)
    assert ran == []  # refused before anything runs (flytekit runs the nodes before it)


def test_the_message_names_the_reference_and_its_stub():
    with pytest.raises(ReferenceNotRunnable) as info:
        uses_all(a=1)
    text = str(info.value)
    assert "reference workflow 'wf_name' version 'abc'" in text
    assert "sdk.testing.task_mock(ref_wf1)" in text and "@patch(ref_wf1)" in text


def test_mocked_it_runs_in_workflows_as_flytekits_do():
    with task_mock(ref_t1) as mock:
        mock.return_value = "hello"
        assert uses_task(in1=["hello", "world"]) == "hello"
        mock.assert_called_with(a=["hello", "world"])
        assert ref_t1(a=["x"]) == "hello"  # a direct call too

    @patch(ref_wf1)
    def inner_test(ref_mock):
        ref_mock.return_value = ("hello", "alice")
        with task_mock(ref_lp) as lp_mock:
            lp_mock.return_value = (True, 30)
            assert uses_all(a=3) == (5, "hello", 30)
            lp_mock.assert_called_with(a="hello", b=5)

    inner_test()
    with pytest.raises(ReferenceNotRunnable):  # only while patched
        uses_task(in1=["a"])


def test_mocked_it_runs_in_dynamics_maps_and_launch_plans():
    @reference_task(project="p", domain="d", name="sample.reference.task", version="1")
    def ref_t(a: int) -> str: ...

    @dynamic
    def fan(n: int) -> typing.List[str]:
        return [ref_t(a=i) for i in range(n)]

    @workflow
    def mapped(xs: typing.List[int]) -> typing.List[str]:
        return map_task(ref_t)(a=xs)

    lp = LaunchPlan.create("of-a-reference-workflow", ref_wf1, fixed_inputs={"a": 7})

    @workflow
    def via_plan() -> typing.Tuple[str, str]:
        return lp()

    assert lp.workflow is ref_wf1
    with task_mock(ref_t) as mock:
        mock.side_effect = lambda a: f"<{a}>"
        assert fan(n=3) == ["<0>", "<1>", "<2>"]
        assert mapped(xs=[4, 5]) == ["<4>", "<5>"]
    with pytest.raises(ReferenceNotRunnable):  # raised by the dynamic's body, at run time
        fan(n=1)
    with pytest.raises(ReferenceNotRunnable):
        mapped(xs=[1])
    with pytest.raises(ReferenceNotRunnable):
        via_plan()
    with task_mock(ref_wf1) as mock:
        mock.return_value = ("a", "b")
        assert via_plan() == ("a", "b")


def test_a_call_gives_every_input_of_the_stub_whose_defaults_are_not_used():
    @reference_launch_plan(project="p", domain="d", name="lp", version="1")
    def with_default(a: int, b: str = "x") -> int: ...

    assert with_default.interface.defaults == {}  # flytekit drops them too

    @workflow
    def leaves_b_out(a: int) -> int:
        return with_default(a=a)

    with pytest.raises(CompileError, match=r"missing input\(s\) b: .*leave an input out of "
                                           r"the stub with_default"):
        leaves_b_out.graph()

    @workflow
    def unknown(a: int) -> int:
        return with_default(a=a, b="y", c=1)

    with pytest.raises(CompileError, match="has no input 'c'"):
        unknown.graph()


def test_its_node_stands_for_the_registered_entity_until_a_client_resolves_it():
    node = uses_task.graph().nodes[0]
    assert node.id == "ref_t1" and node.kind == "task"
    assert node.task.module == REFERENCE_MODULE
    assert reference_of(node.task) == ref_t1.reference
    assert node.inputs == {"a": {"input": "in1"}}
    tricky = Reference("task", "p:x", "d", "a:b/c d", "1:2")
    from sdk.model.spec import TaskRef

    assert reference_of(TaskRef(REFERENCE_MODULE, tricky.qualname, "t")) == tricky
    assert reference_of(TaskRef("pkg.mod", "fn", "fn")) is None


def test_a_reference_needs_a_name_and_a_version():
    with pytest.raises(ConfigError, match="version must be a non-empty str"):
        @reference_task(project="p", domain="d", name="t", version="")
        def t(a: int) -> int: ...
    with pytest.raises(ConfigError, match="name must be a non-empty str"):
        @reference_launch_plan(project="p", domain="d", name=None, version="1")
        def lp(a: int) -> int: ...
