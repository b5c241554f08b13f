"""On the cluster, the workflows of tests/unit/test_as_flytekit.py: `Execution.wait()` raises
ExecutionFailed naming what the in-process call raised; tasks are retried (graft retries every
exception up to `retries`, and FlyteRecoverableException as flytekit does); several outputs come
back as the in-process call returns them."""

from __future__ import annotations

import pytest
from local_failures import local_failure
from workflows import as_flytekit as fk
from workflows.failing import count

from sdk import ExecutionFailed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def failure_of(execution):
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=120)
    [failure] = info.value.failures
    return failure


def test_failures_raise_execution_failed_naming_what_the_local_call_raised(cluster, tmp_path):
    client = cluster.client()
    cases = [(fk.looks_up, {"key": "nope", "counter_dir": str(tmp_path / "remote")}),
             (fk.halves, {"x": -4}),
             (fk.mostly_even, {"xs": [1, 2, 3, 5, 6]}),
             (fk.bad_output, {})]
    submitted = [(client.submit(wf, **kwargs), wf, kwargs) for wf, kwargs in cases]
    kinds = []
    for execution, wf, kwargs in submitted:
        failure = failure_of(execution)
        local_kwargs = {k: (str(tmp_path / "local") if k == "counter_dir" else v)
                        for k, v in kwargs.items()}
        local = local_failure(lambda: wf(**local_kwargs))  # noqa: B023
        assert (failure.node_id, failure.error_type, failure.message) == local
        kinds.append(failure.error_type)
    assert kinds == ["KeyError", "ConditionalFailed", "MapFailed", "TypeConversionError"]
    # retries=3 holds on the cluster (in-process the task ran once)
    assert count(str(tmp_path / "remote"), "lookup") == 4
    assert count(str(tmp_path / "local"), "lookup") == 1


def test_a_recoverable_exception_is_retried_on_the_cluster(cluster, tmp_path):
    execution = cluster.client().submit(fk.recovers, counter_dir=str(tmp_path), fail_times=2)
    assert execution.wait(timeout=120) == 3
    [node] = execution.nodes()
    assert node.attempts == 3


def test_several_outputs_and_namedtuples_come_back_as_in_process(cluster):
    client = cluster.client()
    pair = client.submit(fk.pair, x=3)
    summary = client.submit(fk.summary, xs=[1, 2, 3])
    remote = pair.wait(timeout=120)
    assert remote == fk.pair(x=3) == (3, "3")
    assert type(remote) is type(fk.pair(x=3))
    assert type(remote).__name__ == "DefaultNamedTupleOutput" and remote._fields == ("o0", "o1")
    stats = summary.wait(timeout=120)
    assert type(stats) is fk.Stats and stats == fk.Stats(6, 2.0)


def test_what_decoration_accepts_runs_on_the_cluster_as_in_process(cluster):
    """Union bindings, conditional cases with different outputs, a map of a task without
    inputs and two Echos of one name (found again by their own references on the worker)."""
    client = cluster.client()
    cases = [(fk.kinds, {"n": 1, "s": "a"}), (fk.common_output, {"x": -3}),
             (fk.map_of_nothing, {}), (fk.echoes, {"a": 1, "b": "x"})]
    submitted = [(client.submit(wf, **kwargs), wf, kwargs) for wf, kwargs in cases]
    for execution, wf, kwargs in submitted:
        assert execution.wait(timeout=120) == wf(**kwargs)
    failing = client.submit(fk.kinds, n=1, s="a", o=None)
    failure = failure_of(failing)
    assert (failure.node_id, failure.error_type, failure.message) == \
        local_failure(lambda: fk.kinds(n=1, s="a", o=None))
