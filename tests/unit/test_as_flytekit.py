"""Where a program or its tests can tell graft from flytekit, graft behaves as flytekit 1.16
does (issue 23, point 13): the exceptions it raises and their builtin bases, what a failing
workflow call raises in-process, the types a call returns, what decoration refuses and what it
accepts. Each case was checked against flytekit itself; docs/control-flow.md lists where graft
differs on purpose.

No `from __future__ import annotations` here: the classes and tasks defined inside test
functions must be annotated with the classes themselves, as tests written for flytekit do."""

import dataclasses
import enum
import types
import typing

import pytest
from workflows import as_flytekit as fk
from workflows import control_flow as cf
from workflows.failing import count

from sdk import (
    CompileError,
    ConditionalFailed,
    ConfigError,
    CronSchedule,
    LaunchPlan,
    Resources,
    TypeConversionError,
    map_task,
    task,
    workflow,
)
from sdk.authoring.schedule import next_tick
from sdk.core.type_engine import TypeTransformerFailedError
from sdk.exceptions import base as flyte_base
from sdk.exceptions import user as flyte_user
from sdk.types import FlyteError

# ---- b. errors are the builtins flytekit raises -------------------------------------------


def raised(call: typing.Callable[[], typing.Any]) -> BaseException:
    with pytest.raises(Exception) as info:
        call()
    return info.value


@task
def plus_one(a: int) -> int:
    return a + 1


@task
def numbers(a: int) -> typing.List[int]:
    return [a]


def test_compile_errors_are_the_builtins_flytekit_raises():
    """flytekit: iterating or testing a Promise is a ValueError; a missing, unknown or doubled
    input and a wrong output count are AssertionErrors; a literal of the wrong type is a
    TypeTransformerFailedError (TypeError, AssertionError, ValueError); len() a TypeError."""

    @workflow
    def iterates(a: int) -> int:
        for _ in numbers(a=a):
            pass
        return a

    @workflow
    def tests_truth(a: int) -> int:
        return plus_one(a=a) if plus_one(a=a) else a

    @workflow
    def unknown_input(a: int) -> int:
        return plus_one(b=a)

    @workflow
    def missing_input(a: int) -> int:
        return plus_one()

    @workflow
    def two_for_one(a: int) -> int:
        return a, a  # type: ignore[return-value]

    @workflow
    def wrong_literal(a: int) -> int:
        return plus_one(a="x")

    @workflow
    def measures(a: int) -> int:
        len(numbers(a=a))
        return a

    for wf in (iterates, tests_truth):
        err = raised(lambda: wf(a=1))  # noqa: B023
        assert isinstance(err, CompileError) and isinstance(err, ValueError)
    for wf in (unknown_input, missing_input, two_for_one):
        err = raised(lambda: wf(a=1))  # noqa: B023
        assert isinstance(err, CompileError) and isinstance(err, AssertionError)
    err = raised(lambda: wrong_literal(a=1))
    assert isinstance(err, CompileError) and isinstance(err, TypeTransformerFailedError)
    assert all(isinstance(err, b) for b in (TypeError, AssertionError, ValueError))
    assert isinstance(raised(lambda: measures(a=1)), TypeError)


def test_calls_with_wrong_arguments_are_the_builtins_flytekit_raises():
    """flytekit: an unknown keyword or too many arguments are AssertionErrors, a missing
    input of a direct call a TypeError, a value of the wrong type a TypeTransformerFailedError
    (TypeError, AssertionError, ValueError)."""
    for call in (lambda: plus_one(b=1), lambda: plus_one(1, 2), lambda: cf.square(1, 2)):
        assert isinstance(raised(call), AssertionError)
    assert isinstance(raised(lambda: plus_one()), TypeError)
    err = raised(lambda: plus_one(a="x"))
    assert isinstance(err, TypeConversionError) and isinstance(err, TypeTransformerFailedError)
    assert all(isinstance(err, b) for b in (TypeError, AssertionError, ValueError))


def test_refused_options_are_value_errors():
    """flytekit refuses an unknown option or a malformed timeout with a ValueError."""
    with pytest.raises(ValueError) as info:
        task(retries_=3)(lambda a: a)
    assert isinstance(info.value, ConfigError)
    with pytest.raises(ValueError):
        @task(timeout="soon")
        def slow(a: int) -> int:
            return a
    with pytest.raises(ValueError):
        Resources(mem="lots").to_json()


def test_flytekit_user_exceptions_have_their_names_bases_and_messages():
    assert issubclass(flyte_user.FlyteValueException, ValueError)
    assert issubclass(flyte_user.FlyteTypeException, TypeError)
    for name in ("FlyteAssertion", "FlyteValidationException", "FlyteEntityNotExistException",
                 "FlyteEntityAlreadyExistsException", "FlyteTimeout",
                 "FlyteFailureNodeInputMismatchException", "FlyteDisapprovalException",
                 "FlyteAuthenticationException", "FlytePromiseAttributeResolveException"):
        assert issubclass(getattr(flyte_user, name), AssertionError), name
    for name in flyte_user.__all__:
        if name != "FlyteDisapprovalException":  # graft's gates raise their own, a GraftError
            assert issubclass(getattr(flyte_user, name), flyte_user.FlyteUserException), name
    recoverable = flyte_user.FlyteRecoverableException("again")
    assert isinstance(recoverable, flyte_base.FlyteRecoverableException)
    assert isinstance(recoverable, flyte_base.FlyteException)
    assert str(recoverable) == "USER:Recoverable: error=again"
    assert flyte_user.FlyteRecoverableException.error_code == "USER:Recoverable"
    assert str(flyte_user.FlyteValueException(3, "too big")) == \
        "USER:ValueError: error=Value error!  Received: 3. too big"
    from sdk.exceptions import FlyteRecoverableException
    assert FlyteRecoverableException is flyte_user.FlyteRecoverableException


# ---- a. what a failed call raises in-process ----------------------------------------------


def test_a_failing_task_s_own_exception_leaves_the_workflow_call(tmp_path):
    """flytekit's local run raises the task's exception itself (it rewrites its message);
    graft raises it as it was, with a note naming the node and the task. retries=3 changes
    nothing in-process: flytekit does not retry locally."""
    fk.RAISED.clear()
    with pytest.raises(KeyError) as info:
        fk.looks_up(key="nope", counter_dir=str(tmp_path))
    assert info.value is fk.RAISED[-1] and len(fk.RAISED) == 1
    assert info.value.__notes__ == [
        "graft: raised by task 'lookup' in node 'lookup' of workflow 'looks_up'"]
    assert count(str(tmp_path), "lookup") == 1
    with pytest.raises(KeyError):
        fk.lookup(key="nope", counter_dir=str(tmp_path))
    assert count(str(tmp_path), "lookup") == 2


def test_a_recoverable_exception_is_not_retried_in_process(tmp_path):
    """flytekit 1.16 raises FlyteRecoverableException at once in a local run, retries or not
    (on a cluster it is retried: tests/integration/test_as_flytekit_cluster.py)."""
    with pytest.raises(flyte_user.FlyteRecoverableException, match="attempt 1 needs another"):
        fk.recovers(counter_dir=str(tmp_path), fail_times=1)
    assert count(str(tmp_path), "recovers") == 1


def test_else_fail_raises_a_value_error():
    """flytekit raises ValueError(message) for a conditional's `.fail(message)`."""
    assert fk.halves(x=4) == 2
    with pytest.raises(ValueError, match="x must not be negative") as info:
        fk.halves(x=-4)
    assert isinstance(info.value, ConditionalFailed)
    assert info.value.__notes__ == [
        "graft: raised by conditional 'sign' in node 'sign' of workflow 'halves'"]


def test_a_map_below_its_success_ratio_raises_the_item_exception_that_failed_it():
    """flytekit raises the exception of the item whose failure leaves too few to succeed."""
    assert fk.mostly_even(xs=[1, 2, 3, 4]) == [None, 2, None, 4]
    with pytest.raises(ValueError, match="5 is odd") as info:
        fk.mostly_even(xs=[1, 2, 3, 5, 6])
    [note] = info.value.__notes__
    assert note.startswith("graft: raised by task 'odd_fails' in node 'map_odd_fails/3' of "
                           "workflow 'mostly_even'; it failed the map 'map_odd_fails': 3 of 5 "
                           "items failed, at most 2 may")


def test_an_output_of_the_wrong_type_raises_a_type_error():
    """flytekit raises TypeTransformerFailedError (a TypeError, AssertionError, ValueError)."""
    with pytest.raises(TypeTransformerFailedError) as info:
        fk.bad_output()
    assert isinstance(info.value, TypeConversionError) and isinstance(info.value, TypeError)
    assert str(info.value) == "output 'o0' of task 'says_int' (node 'says_int'): expected int, " \
                              "got str"


def test_graft_run_in_process_shows_the_failing_task_s_traceback():
    from click.testing import CliRunner

    from sdk.cli import cli

    result = CliRunner().invoke(cli, ["run", fk.__file__, "halves", "--x", "-2"])
    assert result.exit_code == 1
    assert result.output.rstrip().endswith(
        "sdk.model.errors.ConditionalFailed: conditional 'sign': x must not be negative\n"
        "graft: raised by conditional 'sign' in node 'sign' of workflow 'halves'")


# ---- c. classes defined inside a function --------------------------------------------------


def test_dataclasses_enums_and_namedtuples_defined_in_a_function_pass_between_tasks():
    """As flytekit does in-process: each value is rebuilt as the declared class, though it
    cannot be imported by name."""

    class Colour(enum.Enum):
        RED = "red"
        BLUE = "blue"

    @dataclasses.dataclass
    class Paint:
        colour: Colour
        litres: float

    class Mix(typing.NamedTuple):
        paint: Paint
        shade: str

    @task
    def make(colour: Colour) -> Paint:
        assert type(colour) is Colour
        return Paint(colour, 1.5)

    @task
    def mix(paints: typing.List[Paint]) -> Mix:
        assert all(type(p) is Paint and type(p.colour) is Colour for p in paints)
        return Mix(paints[0], "dark")

    @task
    def name_of(paint: Paint, shade: str) -> str:
        assert type(paint) is Paint
        return f"{shade} {paint.colour.value}"

    @workflow
    def wf(colour: Colour) -> typing.Tuple[str, Paint, Colour]:
        mixed = mix(paints=[make(colour=colour), make(colour=Colour.BLUE)])
        return name_of(paint=mixed.paint, shade=mixed.shade), mixed.paint, colour

    name, paint, colour = wf(colour=Colour.RED)
    assert name == "dark red" and paint == Paint(Colour.RED, 1.5)
    assert type(paint) is Paint and colour is Colour.RED
    mixed = mix(paints=[Paint(Colour.BLUE, 2.0)])
    assert type(mixed) is Mix and type(mixed.paint) is Paint


# ---- d. what a call returns, and when a workflow compiles ---------------------------------


def test_several_unnamed_outputs_come_back_as_flytekit_s_default_named_tuple():
    """flytekit 1.16: DefaultNamedTupleOutput(o0=..., o1=...), a collections.namedtuple."""
    for result in (fk.pair(x=3), fk.split(x=3)):
        assert result == (3, "3") and tuple(result) == (3, "3")
        assert type(result).__name__ == "DefaultNamedTupleOutput"
        assert result._fields == ("o0", "o1") and (result.o0, result.o1) == (3, "3")
        assert repr(result) == "DefaultNamedTupleOutput(o0=3, o1='3')"

    @task
    def written_as_a_tuple(x: int) -> (int, float):
        return x, x / 2

    assert written_as_a_tuple(x=1)._fields == ("o0", "o1")


def test_a_namedtuple_output_comes_back_as_that_namedtuple():
    class Local(typing.NamedTuple):
        only: int

    @task
    def one_field(x: int) -> Local:
        return Local(x)

    @workflow
    def wf(xs: typing.List[int]) -> Local:
        return one_field(x=fk.stats(xs=xs).total)

    assert type(fk.summary(xs=[1, 2, 3])) is fk.Stats
    assert fk.summary(xs=[1, 2, 3]) == fk.Stats(6, 2.0)
    assert type(wf(xs=[1, 2])) is Local and wf(xs=[1, 2]) == (3,)  # one field: still a tuple


def test_a_namedtuple_whose_class_cannot_be_imported_keeps_its_name_and_fields():
    from sdk.values.shapes import shape_values

    result = shape_values("namedtuple", "gone_module:Point", ["x", "y"], [1, 2])
    assert type(result).__name__ == "Point" and result._fields == ("x", "y")
    assert result == (1, 2)


def test_with_overrides_and_ordering_apply_to_a_call_of_several_outputs():
    [node] = fk.pair.compile().nodes
    assert node.retries == 1

    @workflow
    def ordered(x: int, y: int) -> typing.Tuple[int, str]:
        first = fk.split(x=x)
        second = fk.split(x=y).with_overrides(retries=2)
        first >> second
        return second.o0, first[1]

    spec = ordered.compile()
    assert [(n.id, n.after, n.retries) for n in spec.nodes] == \
        [("split", (), 0), ("split-1", ("split",), 2)]
    assert ordered(x=1, y=2) == (2, "1")


def test_a_workflow_compiles_at_its_first_call_not_at_decoration():
    """flytekit 1.16 compiles a workflow when it is first called (`self.compiled = False`
    at decoration), so a test may decorate a faulty workflow and expect the error from the
    call; graft does the same."""

    @workflow
    def faulty(x: int) -> int:
        for _ in numbers(a=x):
            pass
        return x

    with pytest.raises(ValueError, match="is not iterable"):
        faulty(x=1)


# ---- e. cron schedules ----------------------------------------------------------------------


@pytest.mark.parametrize("expression", [
    "nonsense", "", "0 0 31 2 *", "0 0 30 2 *", "0 0 31 4 *", "60 * * * *", "* * * * 8",
    "@reboot", "H * * * *", "0 0 1 1 * 2030"])
def test_a_cron_schedule_flytekit_refuses_is_refused_when_made(expression):
    """flytekit's CronSchedule raises ValueError for what croniter refuses or for an
    expression without a next time (Feb 31), when it is made."""
    with pytest.raises(ValueError, match="is not valid"):
        CronSchedule(schedule=expression)


@pytest.mark.parametrize("expression, ticks", [
    ("*/5 * * * *", "*/5 * * * *"),
    ("0 0 * * * 30", "0 0 * * * 30"),  # croniter's sixth field: seconds
    ("0 9 ? * MON", "0 9 ? * MON"),
    ("0 0 29 2 *", "0 0 29 2 *"),
    ("hourly", "@hourly"), ("days", "@daily"), ("weeks", "@weekly"), ("annually", "@yearly"),
    ("@monthly", "@monthly"),
])
def test_a_cron_schedule_flytekit_accepts_is_accepted(expression, ticks):
    schedule = CronSchedule(schedule=expression, kickoff_time_input_arg="kickoff_time")
    assert schedule.schedule == ticks
    plan = LaunchPlan.get_or_create(fk.stamped, name=f"cron_{abs(hash(expression))}",
                                    schedule=schedule)
    assert plan.schedule is schedule
    assert next_tick(schedule.to_json(), 0, 0) > 0


def test_flytekit_s_deprecated_cron_expression_is_refused():
    """flytekit 1.16 refuses CronSchedule(cron_expression=...) (AWS syntax) outright."""
    with pytest.raises(ConfigError, match="use schedule="):
        CronSchedule(cron_expression="0 9 * * ? *")


# ---- f. what decoration refuses, and what it accepts ------------------------------------


NESTED = '''
from sdk import task

def make():
    @task
    def inner(x: int) -> int:
        return x
    return inner
'''


def module_of(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(NESTED, f"<{name}>", "exec"), module.__dict__)
    return module


def test_a_task_inside_a_function_is_refused_outside_test_modules():
    """flytekit refuses it with a ValueError ("TaskFunction cannot be a nested/inner or local
    function"), except in test modules (test_*, *_test)."""
    with pytest.raises(ValueError, match="defined at the top level of a module") as info:
        module_of("pipelines").make()
    assert isinstance(info.value, CompileError)
    assert module_of("test_pipelines").make()(x=2) == 2
    assert module_of("pipelines_test").make()(x=3) == 3


@pytest.mark.parametrize("annotation", ["tuple", "typing.Tuple", "typing.List[tuple]",
                                        "typing.Optional[tuple]"])
def test_a_bare_tuple_annotation_is_refused_at_decoration(annotation):
    """flytekit's type engine refuses `tuple` (RestrictedTypeError) wherever it appears."""
    namespace = {"task": task, "typing": typing}
    for source in (f"def as_input(x: {annotation}) -> int: return 1",
                   f"def as_output(x: int) -> {annotation}: return (x,)"):
        exec(source, namespace)
    with pytest.raises(CompileError, match="a bare tuple annotation"):
        task(namespace["as_input"])
    with pytest.raises(CompileError, match="its output: a bare tuple annotation"):
        task(namespace["as_output"])


def test_a_failure_handler_must_take_every_input_of_the_workflow():
    """flytekit: the workflow's inputs must all be the handler's, of the same types, and the
    handler's others Optional; else FlyteFailureNodeInputMismatchException (an
    AssertionError), raised when the workflow compiles at its first call."""

    @task
    def takes_a(a: int) -> None:
        return None

    @task
    def takes_more(a: int, b: typing.Optional[int] = None,
                   err: typing.Optional[FlyteError] = None) -> None:
        return None

    @task
    def takes_b_as_int(a: int, b: int) -> None:
        return None

    @workflow(on_failure=takes_a)
    def two_inputs(a: int = 3, b: str = "x") -> int:
        return plus_one(a=a)

    @workflow(on_failure=takes_more)
    def one_input(a: int = 3) -> int:
        return plus_one(a=a)

    @workflow(on_failure=takes_b_as_int)
    def b_is_a_str(a: int = 3, b: str = "x") -> int:
        return plus_one(a=a)

    with pytest.raises(AssertionError, match="takes no input 'b' of the workflow"):
        two_inputs()
    with pytest.raises(AssertionError, match="input 'b' is int, but the workflow's is str"):
        b_is_a_str()
    assert one_input() == 4


def test_bindings_to_a_union_are_taken_as_flytekit_takes_them():
    assert fk.kinds(n=1, s="a") == ["int 1", "str a", "int 5", "str literal"]
    with pytest.raises(TypeConversionError, match="none of Union\\[int, str\\]"):
        fk.kinds(n=1, s="a", o=None)
    with pytest.raises(TypeConversionError, match="expected Union\\[int, str\\], got float"):
        fk.kind_of(x=2.5)


def test_conditional_cases_with_different_outputs_keep_those_in_common():
    assert fk.common_output(x=3) == 3
    assert fk.common_output(x=-3) == 3
    [branch] = fk.common_output.compile().nodes
    assert list(branch.outputs_types) == ["o0"]


def test_a_map_of_a_task_without_inputs_gives_an_empty_list():
    assert fk.map_of_nothing() == []
    assert map_task(fk.constant)() == []


def test_two_echo_tasks_of_one_name_keep_their_own_inputs():
    assert fk.echoes(a=1, b="x") == (1, "x")
    assert fk.echo_number(a=2) == 2 and fk.echo_text(b="y") == "y"
    assert (fk.echo_number.name, fk.echo_text.name) == ("echo", "echo")
    assert fk.echo_number.ref != fk.echo_text.ref
