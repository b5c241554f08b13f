"""Flyte's control flow through the in-process runner: maps, conditionals, failure policies
and handlers, launch plans, imperative workflows, Promise paths and ordering, the task
context, tables; and the compile errors of each when misused."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import typing

import pandas as pd
import pytest
from workflows import control_flow as cf

from sdk import (
    CompileError,
    ConditionalFailed,
    ConfigError,
    ExecutionFailed,
    ImageSpec,
    LaunchPlan,
    TypeConversionError,
    Workflow,
    conditional,
    map_task,
    task,
    workflow,
)
from sdk.model.engine import Engine
from sdk.model.report import Report, user_failure
from sdk.model.states import NodeState

# ---- maps ---------------------------------------------------------------------------------


def test_maps_keep_input_order_and_partials_fix_inputs():
    assert cf.squares_scaled(xs=[1, 2, 3], by=2) == [2, 8, 18]
    assert cf.squares_scaled(xs=[], by=2) == []
    assert cf.zipped(a=[1, 2, 3], b=["x", "y", "z"]) == ["x1", "y2", "z3"]


def test_a_map_inside_a_dynamic_and_a_map_of_a_workflow():
    assert cf.mapped_dynamic(n=4) == 0 + 1 + 4 + 9
    assert cf.map_of_workflow(xs=[1, 2, 3]) == [2, 6, 12]


def test_a_tolerant_map_gives_none_for_failed_items():
    assert cf.tolerant(xs=[1, 2, 3, 4]) == [None, 2, None, 4]


def test_a_map_with_too_many_failures_names_each_failed_item():
    """In-process the exception of the item that made the failures too many leaves the call,
    as in flytekit; its note names each failed item (the cluster's MapFailed:
    tests/integration/test_control_flow_cluster.py)."""
    with pytest.raises(ValueError, match=r"^5 is odd") as info:
        cf.tolerant(xs=[1, 3, 5, 2])
    [note] = info.value.__notes__
    assert note.startswith("graft: raised by task 'odd_fails' in node 'map_odd_fails/2' of "
                           "workflow 'tolerant'; it failed the map 'map_odd_fails': ")
    assert "3 of 4 items failed, at most 2 may" in note
    for item in ("map_odd_fails/0: ValueError: 1 is odd", "map_odd_fails/1: ValueError: 3 is odd",
                 "map_odd_fails/2: ValueError: 5 is odd"):
        assert item in note


def test_lists_of_different_lengths_fail_the_map_with_their_lengths():
    with pytest.raises(ExecutionFailed) as info:
        cf.zipped(a=[1, 2], b=["x"])
    assert "must have as many items each (a has 2, b has 1)" in str(info.value)


def test_a_map_has_one_node_in_the_spec_and_its_items_at_run_time():
    spec = cf.squares_scaled.compile()
    assert [n.kind for n in spec.nodes] == ["map", "map"]
    engine = Engine(spec, {"xs": {"val": {"v": [1, 2, 3]}}, "by": {"val": {"v": 2}}})
    [first] = engine.start()
    released = engine.apply(Report.mapped(first, 1, 3))
    assert released == ["map_square/0", "map_square/1", "map_square/2"]
    item = engine.nodes["map_square/1"]
    assert item.parent == "map_square" and item.spec.kind == "task"


def test_concurrency_caps_the_items_released_at_once():
    @workflow
    def capped(xs: typing.List[int]) -> typing.List[int]:
        return map_task(cf.square, concurrency=2)(x=xs)

    engine = Engine(capped.compile(), {"xs": {"val": {"v": [1, 2, 3, 4, 5]}}})
    [node] = engine.start()
    assert engine.apply(Report.mapped(node, 1, 5)) == [f"{node}/0", f"{node}/1"]
    out = {"o0": {"val": {"v": 1}}}
    assert engine.apply(Report.values(f"{node}/1", 1, out)) == [f"{node}/2"]
    assert engine.apply(Report.values(f"{node}/0", 1, out)) == [f"{node}/3"]
    assert f"{node}/4" not in engine.nodes  # created when its turn comes


def test_ten_thousand_items():
    assert cf.map_many(n=10_000) == sum(i * i for i in range(10_000))


def test_each_item_has_its_own_cache_entry():
    cf.CUBED.clear()
    assert cf.cached_map(xs=[1, 2]) == [1, 8]
    assert cf.cached_map(xs=[2, 3, 1]) == [8, 27, 1]
    assert cf.CUBED == [1, 2, 3]


def test_inputs_with_defaults_left_out_of_a_map_take_their_default():
    @workflow
    def over_plan(xs: typing.List[int]) -> typing.List[int]:
        return map_task(cf.affine_lp)(x=xs)

    assert over_plan(xs=[1, 2]) == [3 * 1 + 10, 3 * 2 + 10]
    assert map_task(cf.affine_lp)(x=[1, 2], b=[0, 1]) == [3, 7]


def test_map_task_misuse_is_refused_early():
    with pytest.raises(CompileError, match="not a @dynamic"):
        map_task(cf.map_in_dynamic)
    with pytest.raises(CompileError, match="fixes inputs by name only"):
        map_task(functools.partial(cf.scale, 2))
    # A partial fixing every input maps over nothing: no items, as in flytekit.
    assert map_task(functools.partial(cf.scale, x=1, by=2))() == []
    with pytest.raises(ConfigError, match="min_success_ratio must be between 0 and 1"):
        map_task(cf.square, min_success_ratio=1.5)
    with pytest.raises(CompileError, match="fixes nope, which it does not take"):
        map_task(functools.partial(cf.scale, nope=1))


# ---- conditionals -------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "expected"), [(2.0, 4.0), (-5.0, -5.0), (-20.0, -20.0),
                                              (-1.0, 1.0)])
def test_the_first_case_that_holds_runs(x, expected):
    assert cf.sign(x=x) == expected


def test_nested_conditionals_and_conditionals_in_dynamics():
    assert cf.nested(x=3.0, flag=True) == "x=6"
    assert cf.nested(x=3.0, flag=False) == "x=3"
    assert cf.nested(x=300.0, flag=True) == "x=-300"
    assert cf.dynamic_cond(x=2.0) == -4.0
    assert cf.dynamic_cond(x=0.25) == 1.0
    assert cf.dynamic_cond(x=0.75) == -0.75


def test_else_fail_names_the_conditional_and_its_message():
    """In-process `.fail()` raises a ValueError, as in flytekit: ConditionalFailed."""
    assert cf.positive_only(x=1.5) == 3.0
    with pytest.raises(ConditionalFailed) as info:
        cf.positive_only(x=-1.0)
    assert isinstance(info.value, ValueError)
    assert info.value.args == ("conditional 'positive': x must be positive",)


def test_untaken_cases_show_as_skipped():
    spec = cf.sign.compile()
    engine = Engine(spec, {"x": {"val": {"v": -1.0}}})
    [branch] = engine.start()
    assert engine.apply(Report.branched(branch, 1, 2)) == ["sign/else/negate"]
    states = {nid: run.state for nid, run in engine.nodes.items()}
    assert states["sign/if/double"] == NodeState.SKIPPED
    assert states["sign/elif-1/negate"] == NodeState.SKIPPED
    assert states["sign/elif-1/negate-1"] == NodeState.SKIPPED


def compile_error(wf) -> str:
    with pytest.raises(CompileError) as info:
        wf.compile()
    return str(info.value)


def test_a_missing_else_is_a_compile_error():
    @workflow
    def no_else(x: float) -> float:
        return conditional("half").if_(x > 0.0).then(cf.double(x=x))

    assert "conditional 'half' is not finished: end it with .else_().then(...)" in \
        compile_error(no_else)


def test_cases_of_different_types_are_a_compile_error():
    @workflow
    def mixed(x: float) -> float:
        return (conditional("mixed").if_(x > 0.0).then(cf.double(x=x))
                .else_().then(cf.label(x=x)))

    message = compile_error(mixed)
    assert "conditional 'mixed': its cases give output o0 different types (float, str)" in message


def test_bad_conditions_are_compile_errors():
    @workflow
    def bare(x: bool) -> float:
        return conditional("bare").if_(x).then(cf.double(x=1.0)).else_().then(cf.double(x=2.0))

    @workflow
    def python_and(x: float) -> float:
        return (conditional("and").if_((x > 0.0) and (x < 1.0)).then(cf.double(x=x))
                .else_().then(cf.double(x=x)))

    @workflow
    def list_cmp(xs: typing.List[int]) -> float:
        return (conditional("lists").if_(xs == [1]).then(cf.double(x=1.0))
                .else_().then(cf.double(x=2.0)))

    assert "a bare Promise is not one" in compile_error(bare)
    assert "has no truth value" in compile_error(python_and)
    assert "conditions compare numbers, strings, booleans, None and Enums" in \
        compile_error(list_cmp)


def test_conditional_outside_a_body():
    with pytest.raises(CompileError, match="inside a @workflow or @dynamic body"):
        conditional("nowhere")


# ---- failure policies ---------------------------------------------------------------------


def test_fail_immediately_runs_nothing_more_then_the_handler(tmp_path):
    path = tmp_path / "log"
    with pytest.raises(RuntimeError, match="negative: -1") as info:
        cf.fails_at_once(path=str(path), x=-1)
    assert "in node 'fail_on'" in info.value.__notes__[0]
    assert path.read_text().splitlines() == ["handler -1 fail_on: negative: -1"]


def test_fail_after_executable_nodes_completes_the_rest_first(tmp_path):
    path = tmp_path / "log"
    with pytest.raises(RuntimeError, match="negative: -1"):
        cf.fails_after_the_rest(path=str(path), x=-1)
    assert path.read_text().splitlines() == ["1", "1", "handler -1 fail_on: negative: -1"]


def test_a_sub_workflow_runs_its_own_handler_then_the_outer_one(tmp_path):
    path = tmp_path / "log"
    with pytest.raises(RuntimeError, match="negative: -1") as info:
        cf.outer_with_sub(path=str(path), x=-1)
    assert "in node 'failing_sub/fail_on'" in info.value.__notes__[0]
    assert path.read_text().splitlines() == ["handler -1 failing_sub/fail_on: negative: -1",
                                             "1",
                                             "handler -1 failing_sub/fail_on: negative: -1"]


def test_a_handler_workflow_runs_every_step_after_the_stop(tmp_path):
    path = tmp_path / "log"
    with pytest.raises(RuntimeError, match="negative: -1"):
        cf.cleans_up_in_two_steps(path=str(path), x=-1)
    assert path.read_text().splitlines() == ["cleanup-1 fail_on", "cleanup-2"]


def test_a_tolerant_map_of_sub_workflows_tolerates_their_failures():
    assert cf.tolerant_of_workflows(xs=[1, 2, 3, 4]) == [None, 2, None, 4]


def test_a_failed_map_of_sub_workflows_ends_without_creating_its_waiting_items():
    with pytest.raises(ValueError, match="3 is odd") as info:
        cf.strict_map_of_workflows(xs=[2, 3, 4])
    assert info.value.__notes__[0].startswith(
        "graft: raised by task 'odd_fails' in node 'map_odd_fails_wf/1/odd_fails' of workflow "
        "'strict_map_of_workflows'; it failed the map 'map_odd_fails_wf': 1 of 3 items failed")
    engine = Engine(cf.strict_map_of_workflows.compile(), {"xs": {"val": {"v": [2, 3, 4]}}})
    [node] = engine.start()
    [item] = engine.apply(Report.mapped(node, 1, 3))
    assert item == f"{node}/0/odd_fails"
    [second] = engine.apply(Report.values(item, 1, {"o0": {"val": {"v": 2}}}))
    engine.apply(Report.failed(second, 1, user_failure("ValueError", "3 is odd")))
    # The item whose turn had not come is never created: the map's error names it.
    assert engine.done and f"{node}/2" not in engine.nodes
    assert engine.nodes[node].error["never_started"] == {
        "first": 2, "count": 1, "items": 3, "reason": "the map failed first"}


def test_a_map_in_a_failure_handler_runs_after_the_stop(tmp_path):
    path = tmp_path / "log"
    with pytest.raises(RuntimeError, match="negative: -1"):
        cf.cleans_up_with_a_map(path=str(path), x=-1)
    assert path.read_text().splitlines() == ["cleanup a", "cleanup b"]


def test_a_nested_sub_workflow_runs_its_handler_though_its_parent_stops(tmp_path):
    path = tmp_path / "log"
    with pytest.raises(RuntimeError, match="negative: -1"):
        cf.nested_subs(path=str(path), x=-1)
    assert path.read_text().splitlines() == [
        "handler -1 middle_sub/inner_sub/fail_on: negative: -1"]


def test_a_handler_keeps_its_own_policy_when_one_of_its_steps_fails(tmp_path):
    path = tmp_path / "log"
    with pytest.raises(RuntimeError, match="negative: -1") as info:
        cf.cleanup_that_fails(path=str(path), x=-1)
    assert info.value.__notes__ == [
        "graft: raised by task 'fail_on' in node 'fail_on' of workflow 'cleanup_that_fails'; "
        "nodes 'on-failure/fail_on' failed too"]
    assert path.read_text().splitlines() == ["cleanup beside the failed step"]


def test_a_patient_sub_workflow_finishes_its_other_steps_before_its_handler():
    spec = cf.outer_of_patient_sub.compile()
    engine = Engine(spec, {"path": {"val": {"v": "/dev/null"}}, "x": {"val": {"v": -1}}})
    released = engine.start()
    assert sorted(released) == ["patient_sub/fail_on", "patient_sub/pause"]
    assert engine.apply(Report.failed("patient_sub/fail_on", 1,
                                      user_failure("RuntimeError", "negative: -1"))) == []
    assert engine.nodes["patient_sub"].state == NodeState.RUNNING  # failing, not failed yet
    record = engine.apply(Report.values("patient_sub/pause", 1, {"o0": {"val": {"v": 7}}}))
    assert record == ["patient_sub/record"]
    assert engine.apply(Report.values("patient_sub/record", 1, {"o0": {"val": {"v": 7}}})) \
        == ["patient_sub/on-failure"]
    engine.apply(Report.values("patient_sub/on-failure", 1, {}))
    assert engine.done and engine.failed == ["patient_sub/fail_on"]


def test_the_success_threshold_is_not_lost_to_float_rounding():
    from sdk.model.spec import MapSpec

    template = cf.square.node_spec("item", {})
    assert MapSpec(template, ("x",), min_success_ratio=0.07).required(100) == 7
    assert MapSpec(template, ("x",), min_success_ratio=0.28).required(25) == 7


def test_no_failure_no_handler(tmp_path):
    path = tmp_path / "log"
    assert cf.fails_after_the_rest(path=str(path), x=5) == (5, 1)
    assert path.read_text().splitlines() == ["1", "1"]


def test_a_handler_that_takes_what_the_workflow_lacks_is_refused():
    @task
    def needs_more(x: int, y: int) -> None:
        return None

    @workflow(on_failure=needs_more)
    def wf(x: int) -> int:
        return cf.square(x=x)

    assert "takes 'y' (int), which the workflow does not have" in compile_error(wf)


# ---- launch plans, imperative workflows ---------------------------------------------------


def test_launch_plans_default_and_fix_inputs():
    assert cf.affine_lp(x=2) == 3 * 2 + 10
    assert cf.affine_lp(x=2, b=1) == 7
    assert cf.uses_launch_plan(x=2) == 6
    assert LaunchPlan.get_or_create(cf.affine, name="affine_3x_plus_b",
                                    default_inputs={"b": 10}, fixed_inputs={"a": 3}) is \
        cf.affine_lp


def test_a_fixed_input_given_in_process_is_used_as_flytekit_does(caplog):
    with caplog.at_level(logging.WARNING, logger="sdk.authoring.launch_plan"):
        assert cf.affine_lp(x=1, a=5) == 5 * 1 + 10  # flytekit's local call: the given value
    assert "gives its fixed input a" in caplog.text and "a cluster refuses it" in caplog.text
    assert cf.affine_lp(x=1) == 3 * 1 + 10  # the plan itself is unchanged


def test_a_fixed_input_cannot_be_given_in_a_workflow_or_at_submission():
    with pytest.raises(ConfigError, match="fixes a; a fixed input cannot be given"):
        cf.affine_lp.bind((), {"x": 1, "a": 5})  # what Client.submit checks first

    @workflow
    def overrides(x: int) -> int:
        return cf.affine_lp(x=x, a=5)

    assert "fixes a; a fixed input cannot be given" in compile_error(overrides)


def test_launch_plan_names_are_unique():
    with pytest.raises(ConfigError, match="exists already with other settings"):
        LaunchPlan.get_or_create(cf.affine, name="affine_3x_plus_b", fixed_inputs={"a": 4})
    with pytest.raises(ConfigError, match="names 'c', which workflow 'affine' does not take"):
        LaunchPlan.get_or_create(cf.affine, name="bad", fixed_inputs={"c": 1})


def test_an_imperative_workflow_runs_and_nests():
    assert cf.IMPERATIVE(x=3) == 14

    @workflow
    def outer(x: int) -> int:
        return cf.IMPERATIVE(x=x)

    assert outer(x=1) == 6


def test_an_imperative_output_must_be_a_promise():
    wb = Workflow(name="bad_imperative")
    with pytest.raises(CompileError, match="bind it to a Promise"):
        wb.add_workflow_output("y", 5)


# ---- Promises -----------------------------------------------------------------------------


def test_promise_paths_read_fields_items_and_keys():
    assert cf.paths(n=3) == (100, 16, 9)


def test_an_index_out_of_range_names_the_producer_and_the_path():
    with pytest.raises(TypeConversionError) as info:
        cf.out_of_range(n=2)
    message = str(info.value)
    assert "in node 'square'" in info.value.__notes__[0]
    assert "points.o0 (node 'points')[5].x" not in message  # the failing step only
    assert "points.o0 (node 'points')[5]: index out of range" in message
    assert "has 2 item(s)" in message


def test_a_wrong_path_is_a_compile_error():
    @workflow
    def no_field(n: int) -> int:
        return cf.square(x=cf.first_point(n=n).z)

    @workflow
    def str_index(n: int) -> int:
        return cf.square(x=cf.lookup(n=n)[0])

    assert "has no attribute 'z'" in compile_error(no_field)
    assert "cannot be indexed (with 0)" in compile_error(str_index)


def test_rshift_orders_nodes_in_process(tmp_path):
    path = tmp_path / "order"
    cf.ordered(path=str(path))
    assert path.read_text().split() == ["first", "second", "third"]
    spec = cf.ordered.compile()
    assert {n.id: n.after for n in spec.nodes} == {"append": ("append-2",),
                                                   "append-1": (),
                                                   "append-2": ("append-1",)}


def test_a_created_node_gives_its_outputs_by_name():
    from sdk import create_node

    @workflow
    def twice(x: int) -> int:
        node = create_node(cf.square, x=x)
        return cf.scale(x=node.o0, by=node.outputs["o0"])

    assert twice(x=2) == 16

    @workflow
    def wrong(x: int) -> int:
        return cf.square(x=create_node(cf.square, x=x).nope)

    with pytest.raises(AttributeError, match="node 'square' has no output 'nope'"):
        wrong.compile()


def test_a_one_field_namedtuple_takes_the_plain_value():
    assert cf.slope_wf(x=1.5) == 3.0
    assert cf.fit(x=2.0) == cf.Slope(4.0)


# ---- the task context ---------------------------------------------------------------------


def test_in_process_a_checkpointed_task_is_not_retried():
    """flytekit's local runs do not retry, so a task that needs another attempt to resume
    from its checkpoint raises in-process (the cluster resumes it:
    tests/integration/test_control_flow_cluster.py)."""
    assert cf.checkpointed(goal=1) == (1, "resumes", 1)
    with pytest.raises(RuntimeError, match="only 1 of 3: try again"):
        cf.checkpointed(goal=3)


def test_the_context_exists_only_in_a_running_task():
    from sdk import GraftError, current_context

    outside = current_context()
    assert (outside.execution_id.name, outside.node_id, outside.attempt) == ("local", "", 0)
    with pytest.raises(GraftError, match="checkpoint exists inside a running task only"):
        outside.checkpoint.read()


def test_each_attempt_has_a_new_working_directory_of_its_own_removed_after():
    a_dir, a_found, a_back, b_dir, b_found, b_back = cf.scratch_pair()
    assert a_dir != b_dir and a_dir != os.getcwd()
    assert (a_found, a_back, b_found, b_back) == ([], "a", [], "b")
    assert not os.path.exists(a_dir) and not os.path.exists(b_dir)


# ---- tables, images, options --------------------------------------------------------------


def test_tables_travel_as_parquet_and_column_subsets_read_only_those():
    assert cf.tables(n=3) == ("p2", [20, 21, 22], [0, 1, 2])
    from sdk.values.handlers import describe, encode
    from sdk.values.store import MemoryStore

    store = MemoryStore()
    lit = encode(pd.DataFrame({"a": [1]}), describe(pd.DataFrame), store, "t")
    assert lit["format"] == "parquet" and store.get(lit["key"])[:4] == b"PAR1"


def test_images_are_recorded_and_unknown_options_refused():
    assert cf.people.node_spec("n", {}).image == "ghcr.io/example/tables:1"

    @task(container_image=ImageSpec(name="trainer", registry="ghcr.io/me", packages=["x"]))
    def with_spec() -> int:
        return 1

    assert with_spec.node_spec("n", {}).image == "ghcr.io/me/trainer"
    with pytest.raises(ConfigError, match="unknown option 'retry'; did you mean 'retries'"):
        task(retry=1)(lambda: 1)
    with pytest.raises(ConfigError, match="'interruptible' is a flytekit option that graft "
                                          "does not take"):
        task(interruptible=True)(lambda: 1)
    with pytest.raises(ConfigError, match="unknown option 'retries'"):
        workflow(retries=5)(lambda: 1)
    with pytest.raises(ConfigError, match="timeout must be seconds"):
        workflow(timeout="soon")(lambda: 1)


# ---- review findings: Flyte programs that must compile and run as flytekit's do -----------


@dataclasses.dataclass
class Labelled:
    label: str
    node: int
    type: str
    binding: float
    owner: str


@task
def labelled() -> Labelled:
    return Labelled("a", 1, "t", 2.5, "me")


@task
def show(label: str, node: int, kind: str, binding: float, owner: str) -> str:
    return f"{label}{node}{kind}{binding}{owner}"


def test_fields_named_like_promise_internals_are_read_as_fields():
    @workflow
    def wf() -> str:
        v = labelled()
        return show(label=v.label, node=v.node, kind=v.type, binding=v.binding, owner=v.owner)

    assert wf() == "a1t2.5me"


def test_a_python_test_in_a_workflow_condition_is_a_compile_error():
    @workflow
    def wf(x: typing.Optional[int] = None) -> int:
        return conditional("c").if_(x is None).then(cf.square(x=1)).else_().then(
            cf.square(x=2))

    assert "got the plain value False" in compile_error(wf)
    assert "x.is_none()" in compile_error(wf)


class Stats(typing.NamedTuple):
    total: int
    mean: float


@task
def stats_of(x: int) -> Stats:
    return Stats(x, x / 2)


@task
def stats_neg(x: int) -> Stats:
    return Stats(-x, -x / 2)


def test_a_conditional_of_namedtuples_gives_their_fields():
    @workflow
    def wf(x: int) -> float:
        r = conditional("c").if_(x > 0).then(stats_of(x=x)).else_().then(stats_neg(x=x))
        return cf.double(x=r.mean)

    assert wf(x=4) == 4.0
    assert wf(x=-4) == 4.0


def test_cases_with_no_output_in_common_give_none():
    """As in flytekit, a conditional gives the outputs its cases have in common (see
    tests/unit/test_as_flytekit.py): here none, so returning it as an int does not compile."""
    @workflow
    def wf(x: int) -> int:
        return conditional("c").if_(x > 0).then(stats_of(x=x)).else_().then(cf.square(x=x))

    assert "workflow 'wf', output 'o0': expected int, got NoneType" in compile_error(wf)


def test_a_dataframe_keeps_its_index_and_a_missing_column_is_named():
    @task
    def by_city() -> pd.DataFrame:
        frame = pd.DataFrame({"city": ["a", "b", "a"], "n": [1, 2, 3]})
        return frame.groupby("city").sum()

    @task
    def cities(df: pd.DataFrame) -> typing.List[str]:
        return list(df.index)

    @task
    def wants(sd: typing.Annotated[cf.StructuredDataset, cf.kwtypes(nope=int)]) -> int:
        return len(sd.open(pd.DataFrame).all())

    @workflow
    def keep() -> typing.List[str]:
        return cities(df=by_city())

    @workflow
    def lacking() -> int:
        return wants(sd=by_city())

    assert keep() == ["a", "b"]
    with pytest.raises(TypeConversionError, match=r"has no column\(s\) nope"):
        lacking()


def test_a_launch_plan_of_an_imperative_workflow_nests_and_maps():
    plan = LaunchPlan.get_or_create(cf.IMPERATIVE, name="imperative_plan")

    @workflow
    def wf(xs: typing.List[int]) -> typing.Tuple[int, typing.List[int]]:
        return plan(x=1), map_task(plan)(x=xs)

    assert wf(xs=[1, 2]) == (6, [6, 10])


def test_imperative_outputs_may_be_lists_and_options_are_checked():
    wb = Workflow(name="two_squares")
    x = wb.add_workflow_input("x", int)
    a = wb.add_entity(cf.square, x=x)
    b = wb.add_entity(cf.square, x=a.outputs["o0"])
    wb.add_workflow_output("both", [a.outputs["o0"], b.outputs["o0"]],
                           python_type=typing.List[int])
    assert wb(x=2) == [4, 16]
    with pytest.raises(ConfigError, match="failure_policy must be a WorkflowFailurePolicy"):
        Workflow(name="w", failure_policy="FAIL_IMMEDIATELY")
    with pytest.raises(ConfigError, match="'interruptible' is a flytekit option"):
        Workflow(name="w", interruptible=False)
    with pytest.raises(ConfigError, match="on_failure must be a @task or a @workflow"):
        wb.add_on_failure_handler(print)


def test_a_handler_whose_err_cannot_take_a_flyte_error_is_refused():
    @task
    def handler(x: int, err: typing.Optional[int] = None) -> None:
        return None

    @workflow(on_failure=handler)
    def wf(x: int) -> int:
        return cf.square(x=x)

    assert "input 'err' receives the failure, a FlyteError" in compile_error(wf)


def test_a_promise_lacking_an_attribute_is_no_runnable():
    from sdk.model.entity import Runnable

    @workflow
    def wf(x: int) -> int:
        p = cf.square(x=x)
        assert not hasattr(p, "expand") and not isinstance(p, Runnable)
        return p

    assert wf(x=3) == 9


def test_overrides_and_runs_before_change_the_node(tmp_path):
    from sdk import Resources, create_node

    @workflow
    def wf(path: str) -> None:
        second = cf.append(path=path, text="second").with_overrides(
            retries=2, limits=Resources(mem="1Gi"), timeout=30)
        first = create_node(cf.append, path=path, text="first")
        first.runs_before(second)

    spec = wf.compile()
    node = {n.id: n for n in spec.nodes}["append"]
    assert (node.retries, node.limits["mem_bytes"], node.timeout_s, node.after) == \
        (2, 2**30, 30.0, ("append-1",))
    wf(path=str(tmp_path / "log"))
    assert (tmp_path / "log").read_text().split() == ["first", "second"]

    @workflow
    def bad(x: int) -> int:
        return cf.square(x=x).with_overrides(interruptible=True)

    with pytest.raises(ConfigError, match="'interruptible' is a flytekit option that graft"):
        bad.compile()


def test_map_task_options_flytekit_has_and_graft_does_not():
    with pytest.raises(ConfigError, match="option 'run_all_sub_nodes' is not taken"):
        map_task(cf.square, run_all_sub_nodes=True)
    assert map_task(cf.square, min_success_ratio=None)(x=[1, 2]) == [1, 4]


def test_a_dynamic_and_its_child_keep_separate_checkpoints():
    from sdk import current_context, dynamic

    @task
    def child() -> int:
        current_context().checkpoint.write(b"child")
        return 1

    @dynamic
    def parent() -> int:
        current_context().checkpoint.write(b"parent")
        return child()

    assert parent() == 1


def test_flytekit_options_graft_lacks_say_so_and_image_specs_answer():
    with pytest.raises(ConfigError, match="'interruptible' is a flytekit option"):
        task(interruptible=True)(lambda: 1)
    spec = ImageSpec(name="x").with_commands("echo").with_apt_packages(["git"])
    assert spec.is_container() and spec.options == {"commands": ["echo"],
                                                     "apt_packages": ["git"]}
    assert task(timeout=0)(cf.square.fn).timeout_s is None


def test_reserved_and_doubled_names_are_refused():
    from sdk.core.task import Echo

    @workflow
    def wf(x: int) -> int:
        return conditional("on-failure").if_(x > 0).then(cf.square(x=x)).else_().then(
            cf.square(x=x))

    assert "not 'on-failure'" in compile_error(wf)
    # Two Echos of one name with other inputs are two tasks, as in flytekit.
    first = Echo(name="echo_twice", inputs={"a": int})
    second = Echo(name="echo_twice", inputs={"b": int})
    assert first.ref != second.ref and (first(a=1), second(b=2)) == (1, 2)


def test_a_module_imported_again_keeps_its_launch_plans(tmp_path, monkeypatch):
    """A worker that loads a newer code bundle imports the module again: its launch plans
    follow the new definitions instead of clashing with the old ones."""
    import importlib
    import sys

    (tmp_path / "lp_mod.py").write_text(
        "from sdk import LaunchPlan, task, workflow\n"
        "@task\ndef inc(x: int) -> int:\n    return x + 1\n"
        "@workflow\ndef wf(x: int) -> int:\n    return inc(x=x)\n"
        "plan = LaunchPlan.get_or_create(wf, name='lp_mod_plan', default_inputs={'x': 1})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = importlib.import_module("lp_mod")
    del sys.modules["lp_mod"]
    second = importlib.import_module("lp_mod")
    assert second.plan.workflow is second.wf and first.plan is not second.plan
    assert second.plan() == 2
    del sys.modules["lp_mod"]
