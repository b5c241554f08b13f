"""One failure model: USER failures follow the task's retries, SYSTEM failures the system
retries with backoff, DATA failures are never retried; every attempt is recorded with its
kind; the local runner and the scheduler share it through the engine."""

from __future__ import annotations

import typing

import pytest

import sdk.runtime.local
from sdk import TypeConversionError, task, workflow
from sdk.model.engine import Engine
from sdk.model.errors import StoreError
from sdk.model.report import Failure, FailureKind, Report
from sdk.model.retry import RetryPolicy
from sdk.model.runs import NodeRun
from sdk.model.spec import GraphSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.states import ExecutionState, NodeState
from sdk.runtime.execute import execute
from sdk.values.store import MemoryStore

INT = {"t": "int"}


def _graph(retries: int) -> GraphSpec:
    node = NodeSpec("a", "task", TaskRef("m", "a", "a"), {}, {"o0": INT}, {}, retries=retries)
    return GraphSpec("g", {}, [node], [OutputSpec("o0", INT, {"ref": ["a", "o0"]})])


def _fail(engine: Engine, attempt: int, kind: FailureKind) -> list[str] | None:
    return engine.apply(Report.failed("a", attempt, Failure(kind, "E", f"{kind.value} failure")))


def test_system_failures_use_system_retries_with_doubling_backoff_not_user_retries():
    engine = Engine(_graph(retries=1), {}, RetryPolicy(system_retries=3, backoff_base_s=1.0,
                                                       backoff_max_s=3.0))
    engine.start()
    delays = []
    for attempt in (1, 2, 3):
        assert _fail(engine, attempt, FailureKind.SYSTEM) == ["a"]
        delays.append(engine.nodes["a"].retry_delay_s)
    assert delays == [1.0, 2.0, 3.0]  # doubling, capped
    # the task's own retry is still there for a USER failure
    assert _fail(engine, 4, FailureKind.USER) == ["a"]
    assert engine.nodes["a"].retry_delay_s == 0.0
    assert _fail(engine, 5, FailureKind.USER) == []
    run = engine.nodes["a"]
    assert run.state == NodeState.FAILED
    assert [h["kind"] for h in run.history] == ["SYSTEM"] * 3 + ["USER"] * 2
    assert [h["attempt"] for h in run.history] == [1, 2, 3, 4, 5]


def test_system_retries_run_out():
    engine = Engine(_graph(retries=5), {}, RetryPolicy(system_retries=1))
    engine.start()
    assert _fail(engine, 1, FailureKind.SYSTEM) == ["a"]
    assert _fail(engine, 2, FailureKind.SYSTEM) == []
    assert engine.nodes["a"].state == NodeState.FAILED


def test_data_failures_are_never_retried():
    engine = Engine(_graph(retries=5), {})
    engine.start()
    assert _fail(engine, 1, FailureKind.DATA) == []
    assert engine.nodes["a"].state == NodeState.FAILED
    assert engine.nodes["a"].error["kind"] == "DATA"


def test_the_policy_counts_each_failed_attempt_by_its_kind():
    policy = RetryPolicy(system_retries=1, backoff_base_s=2.0)
    run = NodeRun("a", _graph(retries=1).nodes[0], None, {})
    assert policy.another_try(run, FailureKind.USER) and run.retry_delay_s == 0.0
    assert policy.another_try(run, FailureKind.SYSTEM) and run.retry_delay_s == 2.0
    assert not policy.another_try(run, FailureKind.USER)
    assert not policy.another_try(run, FailureKind.SYSTEM)
    assert not policy.another_try(run, FailureKind.DATA)
    assert (run.user_failures, run.system_failures) == (2, 2)


def test_history_keeps_where_and_how_long_each_attempt_ran():
    engine = Engine(_graph(retries=1), {})
    engine.start()
    engine.apply(Report.failed("a", 1, Failure(FailureKind.USER, "E", "x"), worker="w1",
                               duration_s=0.5))
    engine.apply(Report.values("a", 2, {"o0": {"val": {"v": 1}}}, worker="w2", duration_s=0.25))
    assert engine.nodes["a"].history == [
        {"attempt": 1, "outcome": "error", "kind": "USER", "type": "E", "message": "x",
         "worker": "w1", "duration_s": 0.5},
        {"attempt": 2, "outcome": "values", "worker": "w2", "duration_s": 0.25}]


calls: list[int] = []


@task(retries=0)
def reads_the_store(x: int) -> int:
    calls.append(x)
    return x * 2


@workflow
def store_wf(x: int) -> int:
    return reads_the_store(x=x)


def test_the_local_runner_retries_a_store_blip_as_system_with_backoff(monkeypatch):
    """A store that fails once while loading inputs is SYSTEM: the node runs again after its
    backoff, though the task has no retries of its own."""
    real = sdk.runtime.execute.load_inputs
    blips = {"left": 1}
    slept: list[float] = []

    def flaky(*args: typing.Any) -> typing.Any:
        if blips["left"]:
            blips["left"] -= 1
            raise StoreError("connection reset by the store")
        return real(*args)

    monkeypatch.setattr(sdk.runtime.execute, "load_inputs", flaky)
    monkeypatch.setattr(sdk.runtime.local.time, "sleep", slept.append)
    calls.clear()
    assert store_wf(x=4) == 8
    assert calls == [4] and len(slept) == 1 and 0.5 <= slept[0] <= 1.0


@task(retries=3)
def wrong_type(x: int) -> int:
    calls.append(x)
    return "not an int"  # type: ignore[return-value]


@workflow
def wrong_wf(x: int) -> int:
    return wrong_type(x=x)


def test_a_wrong_output_type_is_data_and_never_retried():
    """A wrong output is DATA: the engine gives it no other attempt, though the task has
    retries (in-process the call raises the TypeConversionError at once, as flytekit raises
    its TypeTransformerFailedError)."""
    calls.clear()
    with pytest.raises(TypeConversionError):
        wrong_wf(x=1)
    assert calls == [1]
    spec = wrong_type.graph()
    ran = execute(spec.nodes[0], wrong_type, {"x": {"val": {"v": 1}}}, MemoryStore(),
                  node_id="wrong_type", attempt=1)
    assert ran.report.error is not None and ran.report.error.kind == FailureKind.DATA
    engine = Engine(spec, {"x": {"val": {"v": 1}}})
    assert engine.start() == ["wrong_type"]
    assert engine.apply(ran.report) == [] and engine.state == ExecutionState.FAILED


def test_the_in_process_policy_retries_no_user_failure():
    """flytekit's local runs do not retry; graft's in-process runner uses this policy.
    SYSTEM failures (graft's own store blips) are still retried."""
    policy = RetryPolicy(user_retries=False)
    run = NodeRun("a", _graph(retries=3).nodes[0], None, {})
    assert policy.another_try(run, FailureKind.USER) is False
    assert policy.retries_left(run)[FailureKind.USER.value] == 0
    assert policy.another_try(run, FailureKind.SYSTEM) is True
    assert RetryPolicy().another_try(NodeRun("a", _graph(retries=3).nodes[0], None, {}),
                                     FailureKind.USER) is True
