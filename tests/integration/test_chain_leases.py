"""The Redis scripts of a chain's links on a real Redis (`sdk.wire.leases`): a report claims
the next link only when neither was given up and the link was not claimed before, the entry
it appends says which, and renewing a link's lease never takes it before its claim."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis as redis_lib

from scheduler.dispatch import RecordingDispatcher
from scheduler.loop import fail_lost
from scheduler.service import Scheduler
from scheduler.state import MemoryState
from sdk import task, workflow
from sdk.model.config import Settings
from sdk.values.shapes import encode_inputs
from sdk.values.store import MemoryStore, put_blob
from sdk.wire.leases import REPORTED, Leases, member
from worker.attempt import run_attempt

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

X, Y = ("e1", "a", 1), ("e1", "b", 1)
STREAM = "graft:control:test"


@pytest.fixture
def leases(private_redis: Any) -> Leases:
    client = redis_lib.Redis.from_url(f"{private_redis().url}/0")
    return Leases(client, "graft", ttl_s=10.0)


def _claim(leases: Leases) -> bool:
    return leases.report_and_claim(X, Y, "w1|1", STREAM, {b"m": b'{"continued":["b",1]}'},
                                   {b"m": b"{}"})


def _entries(leases: Leases) -> list[bytes]:
    return [fields[b"m"] for _, fields in leases.redis.xrange(STREAM)]


def test_a_report_claims_its_link_and_takes_its_lease(leases: Leases) -> None:
    assert leases.start(X, "w1|1") == ("ok", "")
    assert _claim(leases) is True
    assert json.loads(_entries(leases)[0]) == {"continued": ["b", 1]}
    assert leases.claims([X, Y]) == {X: REPORTED, Y: "w1|1"}
    assert leases.redis.zscore(leases.key, member(Y)) is not None


@pytest.mark.parametrize("case", ["link given up", "node given up", "link claimed before"])
def test_a_report_does_not_claim_a_link_it_may_not_run(leases: Leases, case: str) -> None:
    leases.start(X, "w1|1")
    if case == "link given up":
        leases.supersede([Y])
    elif case == "node given up":
        leases.supersede([X])
    else:
        assert leases.start(Y, "w2|1") == ("ok", "")
    assert _claim(leases) is False
    assert _entries(leases) == [b"{}"]  # the report, without the link
    assert leases.claims([X])[X] == REPORTED
    assert leases.claims([Y])[Y] == ("w2|1" if case == "link claimed before" else None)


def test_renewing_a_link_never_takes_its_lease_before_its_claim(leases: Leases) -> None:
    leases.renew([X], [Y])
    assert leases.redis.zscore(leases.key, member(X)) is not None
    assert leases.redis.zscore(leases.key, member(Y)) is None  # would be found lost
    leases.start(X, "w1|1")
    _claim(leases)
    taken = leases.redis.zscore(leases.key, member(Y))
    leases.redis.zadd(leases.key, {member(Y): 1})  # as if about to run out
    leases.renew([X], [Y])
    assert leases.redis.zscore(leases.key, member(Y)) >= taken


@task
def inc(x: int) -> int:
    return x + 1


@workflow
def three(x: int) -> int:
    return inc(x=inc(x=inc(x=x)))


def _scheduler(eid: str) -> tuple[Scheduler, RecordingDispatcher, MemoryStore, MemoryState]:
    """An in-memory scheduler that sent the first node of `three` for execution `eid`."""
    store, state, dispatcher = MemoryStore(), MemoryState(), RecordingDispatcher()
    scheduler = Scheduler(Settings(database_url=state.url), state, dispatcher, store)
    spec_key = put_blob(store, three.compile().dumps().encode(), prefix="specs")
    scheduler.handle([{"type": "submit", "execution": eid, "spec": spec_key,
                       "inputs": encode_inputs(three, {"x": 1}, store), "workflow": "three"}])
    return scheduler, dispatcher, store, state


def _node(state: MemoryState, eid: str, node: str) -> dict[str, Any]:
    with state.transaction() as tx:
        return {r["node_id"]: r for r in tx.nodes(eid)}.get(node) or {}


def test_an_attempt_that_reported_before_its_lease_ran_out_is_not_failed(
        leases: Leases) -> None:
    """Its report (which may have claimed a link) waits in the stream: applied as it comes,
    not failed as lost and run again; one that did not report is failed, and can no longer
    claim its link."""
    scheduler, dispatcher, store, state = _scheduler("e1")
    [d] = dispatcher.sent
    dispatcher.sent.clear()
    x, y = ("e1", "inc", 1), ("e1", "inc-1", 1)
    leases.start(x, "w1|1")
    assert leases.report_and_claim(x, y, "w1|1", STREAM, {b"m": b"1"}, {b"m": b"0"})
    fail_lost(leases, scheduler, [x], "stopped renewing its lease")
    assert _node(state, "e1", "inc")["state"] == "QUEUED"  # not failed: it reported
    report = run_attempt(store, *d.args)
    assert not scheduler.handle([{**report, "continued": ["inc-1", 1]}]).refused
    assert _node(state, "e1", "inc-1")["state"] == "QUEUED" and dispatcher.sent == []

    scheduler, _, _, state = _scheduler("e2")
    x2, y2 = ("e2", "inc", 1), ("e2", "inc-1", 1)
    leases.start(x2, "w1|1")
    fail_lost(leases, scheduler, [x2], "stopped renewing its lease")  # no report: lost
    assert _node(state, "e2", "inc")["history"][0]["type"] == "WorkerLost"
    assert not leases.report_and_claim(x2, y2, "w1|1", STREAM, {b"m": b"1"}, {b"m": b"0"})


def test_releasing_a_link_spares_the_lease_of_another_worker_running_it(
        leases: Leases) -> None:
    assert leases.start(Y, "w2|1") == ("ok", "")  # another worker runs the link
    leases.release([], [Y])
    assert leases.redis.zscore(leases.key, member(Y)) is not None
    leases.report(Y, STREAM, {b"m": b"{}"})
    leases.release([], [Y])
    assert leases.redis.zscore(leases.key, member(Y)) is None


def test_a_report_run_again_after_its_reply_was_lost_appends_nothing(leases: Leases) -> None:
    leases.start(X, "w1|1")
    assert _claim(leases) is True
    assert _claim(leases) is True  # the same holder: it claimed the link the first time
    assert len(_entries(leases)) == 1
    assert leases.claims([Y])[Y] == "w1|1"
