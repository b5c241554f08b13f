"""Edges of the cluster: values PostgreSQL's JSON refuses, node ids deeper than any column
width, a task that kills its worker, outputs JSON cannot hold (and `typing.Any` ones nothing can
encode), and a scheduler restart while a node runs. Each ends with a result or a clear failure,
never with a hung execution."""

import math
import time

import pytest
from local_failures import local_failure
from workflows import robust

from sdk.model.errors import ExecutionFailed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]


def test_nan_and_infinity_travel_like_locally(cluster):
    remote = cluster.client().submit(robust.odd_floats, x=2.0).wait(timeout=60)
    local = robust.odd_floats(x=2.0)
    assert math.isnan(remote[0]) and math.isnan(local[0])
    assert remote[1:] == local[1:] == [math.inf, -3.0]


def test_recursion_deeper_than_a_column_width(cluster):
    depth = 110  # node ids reach ~1,200 characters
    execution = cluster.client().submit(robust.deep, n=depth)
    assert execution.wait(timeout=120) == robust.deep(n=depth) == 0
    deepest = max((n.id for n in execution.nodes()), key=len)
    assert len(deepest) > 1024 and deepest.endswith("/leaf")


def test_a_task_that_kills_its_worker_fails_after_its_retries(cluster):
    execution = cluster.client().submit(robust.dies, x=1)
    with pytest.raises(ExecutionFailed) as info:
        execution.wait(timeout=120)
    (failure,) = info.value.failures
    assert failure.node_id == "die" and failure.error_type == "WorkerLost"
    assert failure.kind == "USER" and "exited with code 3 before reporting" in failure.message
    (node,) = execution.nodes()
    assert node.attempts == 2 and node.state == "FAILED"


def test_an_enum_json_cannot_hold_travels_pickled(cluster):
    remote = cluster.client().submit(robust.unjsonable).wait(timeout=60)
    assert remote is robust.When.EPOCH
    assert robust.unjsonable() is robust.When.EPOCH


def test_any_values_travel_and_fail_on_the_cluster_as_in_process(cluster):
    """A `typing.Any` value JSON cannot hold comes back as it was sent; one nothing can encode
    fails its node with the TypeConversionError it gives in-process, naming output and task."""
    client = cluster.client()
    pickled = client.submit(robust.any_out, kind="pickled")
    failing = [(client.submit(wf, kind=kind), wf, kind)
               for wf, kind in ((robust.any_out, "lock"), (robust.any_in_containers, "generator"))]
    remote = pickled.wait(timeout=60)
    assert remote == robust.any_out(kind="pickled") and type(remote) is tuple
    for execution, wf, kind in failing:
        with pytest.raises(ExecutionFailed) as on_cluster:
            execution.wait(timeout=60)
        (got,) = on_cluster.value.failures
        local = local_failure(lambda: wf(kind=kind))  # noqa: B023
        assert (got.node_id, got.error_type, got.message) == local
        assert got.error_type == "TypeConversionError" and got.kind == "DATA"
        assert got.message.startswith(f"output 'o0' of task {got.node_id!r} (node "
                                      f"{got.node_id!r})")
        assert f"cannot encode a {'_thread.lock' if kind == 'lock' else kind} value as Any" \
            in got.message


def test_scheduler_restart_resends_a_running_node_without_running_it_twice(cluster, tmp_path):
    marks = tmp_path / "marks.txt"
    execution = cluster.client().submit(robust.slow_once, path=str(marks), seconds=4.0)
    deadline = 30
    start = time.monotonic()
    while not marks.exists():
        assert time.monotonic() - start < deadline, "the node never started"
        time.sleep(0.05)
    cluster.stop_scheduler()
    cluster.start_scheduler()  # recovers and sends the queued node again
    assert execution.wait(timeout=60) == 1
    assert marks.read_text() == "ran\n"
