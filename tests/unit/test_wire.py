"""The wire's vocabulary: Redis names from one module, the one `Report` codec, and the one
failure classifier (the error tree, and how a task's process ended)."""

from __future__ import annotations

import signal

import pytest

from sdk.model.errors import (
    BrokerUnavailable,
    ConfigError,
    FailureKind,
    GraftError,
    SpecError,
    StoreError,
    StoreIntegrityError,
    StoreObjectMissing,
    TaskTimeout,
    TypeConversionError,
)
from sdk.model.failures import KillEvidence, failure_kind, is_transient, process_ended
from sdk.model.report import Outcome, Report, system_failure
from sdk.model.spec import GraphSpec
from sdk.runtime.expand import ConditionError, MapInputError
from sdk.wire import reports
from sdk.wire.keys import GROUP, Keys, queue_tier, tier_queue
from sdk.wire.messages import check, report_message


def test_every_redis_name_of_a_prefix() -> None:
    keys = Keys("p")
    assert [keys.control(0), keys.control(7)] == ["p:control", "p:control:7"]
    assert (keys.leases, keys.given_up, keys.dead, keys.epoch) == (
        "p:leases", "p:given-up", "p:dead", "p:epoch")
    assert keys.attempt("claim", "e1", "a/b", 2) == "p:claim:e1:2:a/b"
    assert keys.attempt("superseded", "e1", "a/b", 2) == "p:superseded:e1:2:a/b"
    assert (keys.execution("e1"), keys.execution_nodes("e1"), keys.executions) == (
        "p:ex:e1", "p:ex:e1:nodes", "p:exs")
    assert (keys.launch_plans, keys.scheduler_lock) == ("p:launchplans", "p:scheduler:lock")
    assert keys.cache_lock("k") == "p:cache-lock:k"
    assert keys.legacy_cache_lock("k") == "pcache-lock:k"  # as graft wrote it before
    assert GROUP == "graft-schedulers"
    assert tier_queue(2**30) == "mem-1Gi" and queue_tier("mem-1Gi") == "1Gi"
    assert queue_tier("celery") == "celery"


def graph(name: str = "g") -> GraphSpec:
    return GraphSpec(name, {}, [], [])


def _reports() -> list[Report]:
    info = {"worker": "w1", "duration_s": 0.5, "peak_memory_bytes": 1024}
    return [
        Report.values("n", 1, {"o0": {"val": {"v": 1}}}, **info),
        Report.cached("n", 2, {"o0": {"val": {"v": 1}}}),
        Report.grafted("d", 1, graph(), extra={"key": "subgraphs/ab",
                                                      "cache_key": "c" * 64}, **info),
        Report.mapped("m", 1, 12),
        Report.branched("b", 3, 1),
        Report.failed("n", 2, system_failure("WorkerLost", "gone"), worker="w2"),
    ]


@pytest.mark.parametrize("report", _reports(), ids=lambda r: r.outcome.value)
def test_the_codec_round_trips_every_outcome(report: Report) -> None:
    graphs: dict[str, GraphSpec] = {"subgraphs/ab": graph()}
    body = reports.encode(report)
    again = reports.decode(report.node, report.attempt, report.outcome.value, body,
                           graphs.__getitem__)
    assert again == report


def test_a_report_message_is_what_the_scheduler_accepts_and_decodes() -> None:
    report = Report.grafted("d", 1, graph(), extra={"cache_key": "c" * 64},
                            worker="w1", duration_s=1.25)
    message = report_message("e1", "tok", report, "subgraphs/ab")
    assert check(message) is message
    assert message["subgraph"] == "subgraphs/ab" and message["cache_key"] == "c" * 64
    decoded = reports.decode("d", 1, message["outcome"], message, graph)
    assert decoded.extra == {"key": "subgraphs/ab", "cache_key": "c" * 64}
    assert (decoded.worker, decoded.duration_s) == ("w1", 1.25)


def test_what_a_worker_says_of_an_attempt_is_checked() -> None:
    body = {"outputs": {}, "worker": "w" * 300, "duration_s": True, "peak_memory_bytes": -1}
    report = reports.decode("n", 1, Outcome.VALUES.value, body, graph)
    assert report.worker == "w" * 255
    assert report.duration_s is None and report.peak_memory_bytes is None


def test_an_event_recorded_before_failures_had_kinds_still_replays() -> None:
    old = {"error": {"type": "X", "message": "m"}, "retriable": False}
    assert reports.decode("n", 1, "error", old, graph).error.kind == FailureKind.DATA
    old = {"error": {"type": "X", "message": "m"}}
    assert reports.decode("n", 1, "error", old, graph).error.kind == FailureKind.SYSTEM


@pytest.mark.parametrize(("exc", "outside", "inside"), [
    (StoreError("s"), "SYSTEM", "SYSTEM"),
    (BrokerUnavailable("b"), "SYSTEM", "SYSTEM"),
    (StoreObjectMissing("s"), "DATA", "DATA"),
    (StoreIntegrityError("s"), "DATA", "DATA"),
    (SpecError("s"), "DATA", "DATA"),
    (TypeConversionError("t"), "DATA", "DATA"),
    (TaskTimeout("t"), "USER", "USER"),
    (ConditionError("c"), "USER", "USER"),
    (MapInputError("m"), "USER", "USER"),
    (ConfigError("c"), "DATA", "USER"),  # no kind of its own: where it was raised
    (GraftError("g"), "DATA", "USER"),
    (ValueError("v"), "DATA", "USER"),
])
def test_the_error_tree_says_what_is_retried(exc: BaseException, outside: str,
                                             inside: str) -> None:
    assert failure_kind(exc).value == outside
    assert failure_kind(exc, user_code=True).value == inside
    assert is_transient(exc) == (outside == "SYSTEM")


def test_how_a_task_process_ended_decides_its_kind() -> None:
    where = "attempt 1 of node 'n'"
    exited = process_ended(where, "died", exitcode=3)
    assert (exited.kind, exited.type) == (FailureKind.USER, "WorkerLost")
    assert "exited with code 3 before reporting" in exited.message
    killed = process_ended(where, "died", exitcode=-signal.SIGTERM)
    assert (killed.kind, killed.type) == (FailureKind.SYSTEM, "WorkerLost")
    assert "Killed by SIGTERM; not by graft's memory watch" in killed.message
    # A SIGKILL under a watched limit is no longer taken for the OOM killer without evidence.
    sigkill = process_ended(where, "died", exitcode=-signal.SIGKILL, limit="100 MiB (tier 256Mi)")
    assert (sigkill.kind, sigkill.type) == (FailureKind.SYSTEM, "WorkerLost")
    assert "Killed by SIGKILL; not by graft's memory watch" in sigkill.message
    assert "signal 77" in process_ended(where, "died", exitcode=-77).message
    unknown = process_ended(where, "died", cause="Worker exited prematurely: signal 9")
    assert unknown.kind == FailureKind.SYSTEM and "signal 9" in unknown.message
    assert process_ended(where, "timeout", timeout_s=2).kind == FailureKind.USER
    assert process_ended(where, "memory", used="3 MiB", limit="1 MiB").kind == FailureKind.USER
    assert process_ended(where, "terminated").kind == FailureKind.DATA


MIB = 2**20
LIMIT = "200 MiB (tier 256Mi)"


@pytest.mark.parametrize("evidence, oom", [
    (KillEvidence(cgroup_oom_kills=1, machine_oom_kills=1), True),
    (KillEvidence(cgroup_oom_kills=None, machine_oom_kills=2), True),
    # the worker's cgroup counted none: the kill elsewhere on the machine was not this one
    (KillEvidence(cgroup_oom_kills=0, machine_oom_kills=1), False),
    (KillEvidence(cgroup_oom_kills=0, machine_oom_kills=0, last_bytes=199 * MIB,
                  limit_bytes=200 * MIB), False),  # counted: the samples do not overrule
    # nothing counted: the samples decide, at 90 % of the limit
    (KillEvidence(last_bytes=185 * MIB, limit_bytes=200 * MIB), True),
    (KillEvidence(last_bytes=30 * MIB, limit_bytes=200 * MIB), False),
    (KillEvidence(last_bytes=30 * MIB), False),
])
def test_only_evidence_of_the_oom_killer_makes_a_sigkill_out_of_memory(evidence, oom) -> None:
    failure = process_ended("attempt 1 of node 'n'", "died", exitcode=-signal.SIGKILL,
                            limit=LIMIT, evidence=evidence)
    assert failure.kind == FailureKind.SYSTEM  # retried per the system retries either way
    assert failure.type == ("OutOfMemory" if oom else "WorkerLost")
    assert ("Killed by SIGKILL; not by graft's memory watch" in failure.message) != oom


def test_what_a_killed_process_is_told() -> None:
    where = "attempt 1 of node 'n'"
    oom = process_ended(where, "died", exitcode=-signal.SIGKILL, limit=LIMIT,
                        evidence=KillEvidence(1, 1, 40 * MIB, 200 * MIB))
    assert oom.message == (
        "the process running attempt 1 of node 'n' was killed by the kernel's out-of-memory "
        "killer (SIGKILL; oom_kill +1 in the worker's cgroup, +1 on the machine while it ran), "
        "last seen using 40 MiB of its limit of 200 MiB (tier 256Mi): the machine or the "
        "worker's cgroup ran short of memory")
    at_limit = process_ended(where, "died", exitcode=-signal.SIGKILL, limit=LIMIT,
                             evidence=KillEvidence(last_bytes=190 * MIB, limit_bytes=200 * MIB))
    assert "killed (SIGKILL) using 190 MiB of its memory limit of 200 MiB" in at_limit.message
    assert "its oom_kill counts could not be read" in at_limit.message
    self_killed = process_ended(where, "died", exitcode=-signal.SIGKILL, limit=LIMIT,
                                evidence=KillEvidence(0, 0, 30 * MIB, 200 * MIB))
    assert self_killed.message == (
        "the process running attempt 1 of node 'n' ended before reporting. Killed by SIGKILL; "
        "not by graft's memory watch, which last saw it use 30 MiB of its limit of 200 MiB "
        "(tier 256Mi), nor by the kernel's out-of-memory killer (no oom_kill counted while it "
        "ran)")
    # the OOM killer sends only SIGKILL: another signal is named, whatever was counted
    segv = process_ended(where, "died", exitcode=-signal.SIGSEGV, limit=LIMIT,
                         evidence=KillEvidence(1, 1, 30 * MIB, 200 * MIB))
    assert (segv.type, segv.kind) == ("WorkerLost", FailureKind.SYSTEM)
    assert "Killed by SIGSEGV; not by graft's memory watch" in segv.message
    assert "out-of-memory" not in segv.message
