"""Flyte's control flow on the cluster gives what the in-process runner gives: maps,
conditionals, failure policies and handlers, launch plans, imperative workflows, Promise paths,
ordering, checkpoints across retries and tables; and what `nodes()` shows of each.

The executions that need no per-test set-up are submitted together (module fixture), so the
cluster runs them side by side; each test then waits for its own.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

import pytest
from local_failures import local_failure
from workflows import control_flow as cf

from sdk import ExecutionFailed
from sdk.wire.tiers import queue_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SUCCEEDS = {
    "squares-scaled": (cf.squares_scaled, {"xs": [1, 2, 3], "by": 2}, [2, 8, 18]),
    "squares-empty": (cf.squares_scaled, {"xs": [], "by": 2}, []),
    "zipped": (cf.zipped, {"a": [1, 2, 3], "b": ["x", "y", "z"]}, ["x1", "y2", "z3"]),
    "tolerant": (cf.tolerant, {"xs": [1, 2, 3, 4]}, [None, 2, None, 4]),
    "map-in-dynamic": (cf.mapped_dynamic, {"n": 4}, 14),
    "map-of-workflow": (cf.map_of_workflow, {"xs": [1, 2, 3]}, [2, 6, 12]),
    "map-many": (cf.map_many, {"n": 300}, sum(i * i for i in range(300))),
    "one-at-a-time": (cf.one_at_a_time, {"xs": [1, 2, 3, 4]}, [1, 4, 9, 16]),
    "roomy-map": (cf.roomy_map, {"xs": [5, 6]}, [25, 36]),
    "sign-if": (cf.sign, {"x": 2.0}, 4.0),
    "sign-elif": (cf.sign, {"x": -5.0}, -5.0),
    "sign-elif-or": (cf.sign, {"x": -20.0}, -20.0),
    "sign-else": (cf.sign, {"x": -1.0}, 1.0),
    "positive": (cf.positive_only, {"x": 1.5}, 3.0),
    "nested-true": (cf.nested, {"x": 3.0, "flag": True}, "x=6"),
    "nested-false": (cf.nested, {"x": 3.0, "flag": False}, "x=3"),
    "nested-outer-else": (cf.nested, {"x": -4.0, "flag": True}, "x=4"),
    "dynamic-cond-if": (cf.dynamic_cond, {"x": 2.0}, -4.0),
    "dynamic-cond-elif": (cf.dynamic_cond, {"x": 0.25}, 1.0),
    "dynamic-cond-else": (cf.dynamic_cond, {"x": 0.75}, -0.75),
    "launch-plan": (cf.affine_lp, {"x": 2}, 16),
    "launch-plan-default": (cf.affine_lp, {"x": 2, "b": 1}, 7),
    "launch-plan-in-workflow": (cf.uses_launch_plan, {"x": 2}, 6),
    "imperative": (cf.IMPERATIVE, {"x": 3}, 14),
    "paths": (cf.paths, {"n": 3}, (100, 16, 9)),
    "one-field-namedtuple": (cf.slope_wf, {"x": 1.5}, 3.0),
    "tables": (cf.tables, {"n": 3}, ("p2", [20, 21, 22], [0, 1, 2])),
}

# Retried tasks: retried on the cluster, as on Flyte's; in-process nothing is retried, as in
# flytekit's local runs (the same calls raise there: tests/unit/test_local.py).
RETRIED = {
    "flaky-map": (cf.flaky_map, {"xs": [1, 2, 3]}, [101, 102, 103]),
    "checkpointed": (cf.checkpointed, {"goal": 3}, (3, "resumes", 3)),
    "checkpoint-short": (cf.checkpointed, {"goal": 9}, None),  # fails after its 4 attempts
    "folder-checkpointed": (cf.folder_checkpointed, {"goal": 3},
                            ["attempt-1.txt", "attempt-2.txt", "attempt-3.txt"]),
}

FAILS = {
    "strict": (cf.strict, {"xs": [2, 3, 4]}),
    "tolerant-fails": (cf.tolerant, {"xs": [1, 3, 5, 2]}),
    "uneven": (cf.zipped, {"a": [1, 2], "b": ["x"]}),
    "else-fail": (cf.positive_only, {"x": -1.0}),
    "out-of-range": (cf.out_of_range, {"n": 3}),
}


@pytest.fixture(scope="module")
def submitted(cluster_session):
    """{case id: Execution}, submitted with GRAFT_STORE at the cluster's store."""
    client = cluster_session.client()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRAFT_STORE", cluster_session.store_url)
        return {cid: client.submit(wf, **kwargs)
                for cid, (wf, kwargs, *_) in {**SUCCEEDS, **RETRIED, **FAILS}.items()}


def by_id(execution: Any) -> dict[str, Any]:
    return {n.id: n for n in execution.nodes()}


@pytest.mark.parametrize("cid", SUCCEEDS)
def test_cluster_equals_in_process(cluster, submitted, cid):
    wf, kwargs, expected = SUCCEEDS[cid]
    local = wf(**kwargs)
    assert local == expected
    remote = submitted[cid].wait(timeout=120)
    assert remote == local
    assert type(remote) is type(local)


@pytest.mark.parametrize("cid", RETRIED)
def test_retried_tasks_are_retried_on_the_cluster(cluster, submitted, cid):
    wf, kwargs, expected = RETRIED[cid]
    if expected is not None:
        assert submitted[cid].wait(timeout=120) == expected
        return
    failure = failure_of(lambda: submitted[cid].wait(timeout=120))
    assert (failure.node_id, failure.error_type, failure.message) == \
        ("resumes", "RuntimeError", "only 4 of 9: try again")
    with pytest.raises(RuntimeError, match="only 1 of 9: try again"):
        wf(**kwargs)  # in-process: at once


def failure_of(call: Any) -> Any:
    with pytest.raises(ExecutionFailed) as info:
        call()
    [failure] = info.value.failures
    return failure


@pytest.mark.parametrize("cid", FAILS)
def test_failures_are_the_same_on_both(cluster, submitted, cid):
    """The cluster's ExecutionFailed says what the in-process call raised (the node's own
    exception there, as in flytekit; `local_failure` reads it back)."""
    wf, kwargs = FAILS[cid]
    local = local_failure(lambda: wf(**kwargs))
    remote = failure_of(lambda: submitted[cid].wait(timeout=120))
    assert (remote.node_id, remote.error_type, remote.message) == local


def test_failure_messages_name_items_conditionals_and_paths(cluster, submitted):
    strict = failure_of(lambda: submitted["tolerant-fails"].wait(timeout=120))
    assert strict.error_type == "MapFailed"
    assert "3 of 4 items failed, at most 2 may" in strict.message
    for item in ("map_odd_fails/0: ValueError: 1 is odd", "map_odd_fails/1: ValueError: 3 is odd",
                 "map_odd_fails/2: ValueError: 5 is odd"):
        assert item in strict.message
    fail = failure_of(lambda: submitted["else-fail"].wait(timeout=120))
    assert fail.message == "conditional 'positive': x must be positive"
    path = failure_of(lambda: submitted["out-of-range"].wait(timeout=120))
    assert "points" in path.message and "[5]" in path.message


def test_map_items_show_in_nodes_with_times(cluster, submitted):
    execution = submitted["squares-scaled"]
    execution.wait(timeout=120)
    nodes = by_id(execution)
    items = [nodes[f"map_square/{i}"] for i in range(3)]
    assert nodes["map_square"].kind == "map"
    for item in items:
        assert item.state == "SUCCEEDED" and item.parent == "map_square"
        assert item.started_at is not None and item.ended_at >= item.started_at


def test_each_item_retries_on_its_own_and_takes_its_tier(cluster, submitted):
    flaky = submitted["flaky-map"]
    flaky.wait(timeout=120)
    items = [n for n in flaky.nodes() if n.parent == "map_flaky"]
    assert len(items) == 3
    assert all(n.attempts == 2 and n.state == "SUCCEEDED" for n in items)
    roomy = submitted["roomy-map"]
    roomy.wait(timeout=120)
    queues = {n.queue for n in roomy.nodes() if n.parent == "map_roomy_square"}
    assert queues == {queue_for(cluster.settings, 1 << 30, "test")}


def test_concurrency_caps_items_running_at_once(cluster, submitted):
    execution = submitted["one-at-a-time"]
    execution.wait(timeout=120)
    spans = sorted((n.started_at, n.ended_at) for n in execution.nodes()
                   if n.parent == "map_slow_square")
    assert len(spans) == 4
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end, f"items overlapped: {spans}"


def test_untaken_cases_are_skipped(cluster, submitted):
    execution = submitted["sign-else"]
    execution.wait(timeout=120)
    states = {nid: n.state for nid, n in by_id(execution).items()}
    assert states["sign/else/negate"] == "SUCCEEDED"
    assert states["sign/if/double"] == "SKIPPED"
    assert states["sign/elif-1/negate"] == states["sign/elif-1/negate-1"] == "SKIPPED"


def test_images_show_in_nodes(cluster, submitted):
    execution = submitted["tables"]
    execution.wait(timeout=120)
    nodes = by_id(execution)
    assert nodes["people"].image == "ghcr.io/example/tables:1"
    assert nodes["oldest"].image is None


def test_checkpoint_and_logs_across_attempts(cluster, submitted):
    execution = submitted["checkpointed"]
    execution.wait(timeout=120)
    node = by_id(execution)["resumes"]
    assert node.attempts == 3
    assert [(h["attempt"], h["outcome"]) for h in node.history] == \
        [(1, "error"), (2, "error"), (3, "values")]
    for attempt in (1, 2, 3):
        [record] = execution.log_records("resumes", attempt)
        assert record["message"] == f"attempt {attempt} reached {attempt}"
        assert record["level"] == "INFO"


def fail_both_ways(cluster: Any, tmp_path: Any, wf: Any) -> tuple[Any, list[str]]:
    """Run `wf(path, x=-1)` in-process and on the cluster: both fail alike and their handlers
    write the same lines (in any order: the cluster runs side by side). Returns the cluster's
    execution and lines."""
    local_log, remote_log = tmp_path / "local", tmp_path / "remote"
    local = local_failure(lambda: wf(path=str(local_log), x=-1))
    execution = cluster.client().submit(wf, path=str(remote_log), x=-1)
    remote = failure_of(lambda: execution.wait(timeout=120))
    assert (remote.node_id, remote.error_type, remote.message) == local
    lines = remote_log.read_text().splitlines()
    assert sorted(lines) == sorted(local_log.read_text().splitlines())
    assert execution.status() == "FAILED"
    return execution, lines


@pytest.mark.parametrize("wf", [cf.fails_at_once, cf.fails_after_the_rest],
                         ids=["fail-immediately", "fail-after-executable-nodes"])
def test_failure_policies_and_handler(cluster, tmp_path, wf):
    execution, lines = fail_both_ways(cluster, tmp_path, wf)
    assert lines[-1] == "handler -1 fail_on: negative: -1"
    nodes = by_id(execution)
    assert nodes["on-failure"].state == "SUCCEEDED"
    if wf is cf.fails_at_once:  # pause was running when fail_on failed: cancelled, not waited
        assert nodes["pause"].state == "CANCELLED"
        assert nodes["record"].state == nodes["record-1"].state == "SKIPPED"


@pytest.mark.parametrize("wf", [cf.outer_with_sub, cf.cleans_up_in_two_steps],
                         ids=["sub-workflow-handler", "two-step-handler"])
def test_handlers_of_sub_workflows_and_handler_workflows(cluster, tmp_path, wf):
    execution, _ = fail_both_ways(cluster, tmp_path, wf)
    handlers = [n.id for n in execution.nodes() if n.id.endswith("on-failure")]
    assert handlers == (["failing_sub/on-failure", "on-failure"] if wf is cf.outer_with_sub
                        else ["on-failure"])


def test_no_failure_runs_no_handler(cluster, tmp_path):
    execution = cluster.client().submit(cf.fails_at_once, path=str(tmp_path / "log"), x=3)
    assert execution.wait(timeout=120) == (3, 1)
    assert "on-failure" not in by_id(execution)


def test_rshift_orders_nodes_on_the_cluster(cluster, tmp_path):
    path = tmp_path / "order"
    assert cluster.client().submit(cf.ordered, path=str(path)).wait(timeout=120) is None
    assert path.read_text().split() == ["first", "second", "third"]


def test_fail_immediately_cancels_running_nodes(cluster, tmp_path):
    """The sleeper's pool process is killed once its sibling fails, well before it ends."""
    pid_file = tmp_path / "pid"
    execution = cluster.client().submit(cf.cancels_running, path=str(pid_file))
    started = time.monotonic()
    failure = failure_of(lambda: execution.wait(timeout=60))
    assert failure.node_id == "fail_soon"
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid), "the cancelled node's process still runs"
    assert time.monotonic() - started < 40
    assert by_id(execution)["sleeper"].state in ("CANCELLED", "ABORTED")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its parent counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_launch_plans_and_imperative_workflows_from_the_command_line(cluster):
    here = os.path.dirname(cf.__file__)
    path = os.path.join(here, "control_flow.py")
    for name, args, expected in (("affine_3x_plus_b", ["--x", "2"], "16"),
                                 ("affine_lp", ["--x", "2", "--b", "0"], "6"),
                                 ("IMPERATIVE", ["--x", "3"], "14")):
        done = cluster.run_cli("run", "--remote", "--wait", path, name, *args)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == expected
    refused = cluster.run_cli("run", "--remote", path, "affine_lp", "--x", "2", "--a", "5")
    assert refused.returncode != 0
    assert "launch plan 'affine_3x_plus_b' has no input 'a'" in refused.stderr


def test_a_fixed_input_given_at_submission_is_refused(cluster):
    from sdk import ConfigError

    with pytest.raises(ConfigError, match="fixed"):
        cluster.client().submit(cf.affine_lp, x=2, a=5)



def test_each_attempt_has_a_new_working_directory_on_a_worker_too(cluster):
    a_dir, a_found, a_back, b_dir, b_found, b_back = \
        cluster.client().submit(cf.scratch_pair).wait(timeout=60)
    assert a_dir != b_dir
    assert (a_found, a_back, b_found, b_back) == ([], "a", [], "b")
    assert not os.path.exists(a_dir) and not os.path.exists(b_dir)  # removed after
