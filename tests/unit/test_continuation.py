"""Continuations (scheduler/continuation.py): which links a message carries, and how the
scheduler takes a report that says its worker claimed the next one, on the in-memory state
and SQLite, with the worker's part run in this process."""

from __future__ import annotations

import dataclasses

import pytest
from test_scheduler import Harness

from scheduler.continuation import link_token
from scheduler.state import MemoryState
from scheduler.state_sql import SqlState
from sdk import Resources, task, workflow
from sdk.wire.links import link_payload, with_outputs
from sdk.wire.messages import MessageError, check_task, task_body
from worker.attempt import run_attempt


@task
def inc(x: int) -> int:
    return x + 1


@task(limits=Resources(mem="1Gi"))
def big_inc(x: int) -> int:
    return x + 1


@workflow
def three(x: int) -> int:
    return inc(x=inc(x=inc(x=x)))


@workflow
def forked(x: int) -> tuple[int, int]:
    a = inc(x=x)
    return inc(x=a), inc(x=a)


@workflow
def across_tiers(x: int) -> int:
    return inc(x=big_inc(x=inc(x=x)))


@pytest.fixture(params=["memory", "sqlite"])
def h(request, tmp_path):
    return Harness(MemoryState() if request.param == "memory"
                   else SqlState(f"sqlite:///{tmp_path}/state.db"))


def _with_links(h: Harness, links: int) -> None:
    h.settings = dataclasses.replace(h.settings, continue_links=links)
    h.scheduler = h.new_scheduler()


def _first(h: Harness, wf, **inputs):
    h.submit(wf, "e1", **inputs)
    [d] = h.dispatcher.sent
    h.dispatcher.sent.clear()
    return d


def test_a_message_carries_the_links_after_its_node_with_derived_tokens(h):
    d = _first(h, three, x=1)
    links = d.payload["next"]
    assert [(k["node"], k["attempt"]) for k in links] == [("inc-1", 1), ("inc-2", 1)]
    token = d.payload["token"]
    assert links[0]["token"] == link_token(token, "inc-1", 1)
    assert links[1]["token"] == link_token(links[0]["token"], "inc-2", 1)
    assert links[0]["inputs"] == {"x": {"ref": ["inc", "o0"]}}
    assert links[1]["inputs"] == {"x": {"ref": ["inc-1", "o0"]}}
    assert len({token, *(k["token"] for k in links)}) == 3


@pytest.mark.parametrize("links", [0, 1])
def test_the_setting_bounds_the_links_of_a_message(h, links):
    _with_links(h, links)
    d = _first(h, three, x=1)
    assert len(d.payload.get("next") or []) == links


def test_no_link_across_a_fork_or_a_tier(h):
    assert "next" not in _first(h, forked, x=1).payload  # two dependents
    h.dispatcher.sent.clear()
    h2 = Harness(MemoryState())
    d = _first(h2, across_tiers, x=1)
    assert "next" not in d.payload  # its dependent runs on the 1Gi tier


def _run_link(h: Harness, before: dict, link: dict) -> dict:
    inputs = with_outputs(link["inputs"], before["node"], before["outputs"])
    return run_attempt(h.store, "e1", link["node"], link["attempt"], link_payload(link, inputs))


def test_a_report_that_claimed_its_link_sends_no_message_for_it(h):
    d = _first(h, three, x=1)
    links = d.payload["next"]
    report = run_attempt(h.store, *d.args)
    assert h.handle([{**report, "continued": ["inc-1", 1]}]) == []
    assert h.dispatcher.sent == []  # its worker runs it
    row = h.nodes("e1")["inc-1"]
    assert row["state"] == "QUEUED" and row["token"] == links[0]["token"]
    second = _run_link(h, report, links[0])
    assert h.handle([{**second, "continued": ["inc-2", 1]}]) == []
    third = _run_link(h, second, links[1])
    assert h.handle([third]) == []
    assert h.dispatcher.sent == []
    assert h.execution("e1").status == "SUCCEEDED"
    assert h.outputs(three, "e1") == three(x=1) == 4
    assert h.events("e1") == 3


@workflow
def collected(x: int) -> tuple[int, int, int]:
    a = inc(x=x)
    b = inc(x=a)
    c = inc(x=x)
    d = inc(x=a)  # in the second slice: a dependent of `inc` added after its message left
    return b, c, d


def test_a_claim_is_taken_when_a_later_slice_gave_its_node_another_dependent(h):
    h.scheduler = h.new_scheduler(graft_slice=2, window=None)
    h.submit(collected, "e1", x=1)
    sent, h.dispatcher.sent = h.dispatcher.sent, []
    [d] = [d for d in sent if d.node_id == "inc"]
    [link] = d.payload["next"]
    assert link["node"] == "inc-1"
    while h.scheduler.grafting:  # the loop grafts the next slice while `inc` runs
        h.scheduler.graft_more()
    report = run_attempt(h.store, *d.args)
    assert h.handle([{**report, "continued": ["inc-1", 1]}]) == []
    assert "inc-1" not in [x.node_id for x in h.dispatcher.sent]
    assert h.handle([_run_link(h, report, link)]) == []  # its token is the one derived
    assert h.nodes("e1")["inc-1"]["state"] == "SUCCEEDED"


@workflow
def spans(x: int) -> int:
    a = inc(x=x)
    b = inc(x=a)  # the first slice ends here
    c = inc(x=b)
    return inc(x=c)


def test_a_rebuilt_scheduler_holds_the_links_of_a_message_sent_before(tmp_path):
    h = Harness(SqlState(f"sqlite:///{tmp_path}/state.db"))
    h.scheduler = h.new_scheduler(graft_slice=2, window=None)
    h.submit(spans, "e1", x=1)
    while h.scheduler.grafting:
        h.scheduler.graft_more()
    [first] = h.dispatcher.sent
    h.dispatcher.sent.clear()
    assert h.handle([run_attempt(h.store, *first.args)]) == []  # it claimed nothing
    [d] = h.dispatcher.sent
    h.dispatcher.sent.clear()
    link = d.payload["next"][0]
    assert (d.node_id, link["node"]) == ("inc-1", "inc-2")  # across the slices
    h.scheduler = h.new_scheduler(graft_slice=2, window=None)  # killed; rebuilt from SQL
    report = run_attempt(h.store, *d.args)
    assert h.handle([{**report, "continued": ["inc-2", 1]}]) == []
    while h.scheduler.grafting:
        h.scheduler.graft_more()
    assert "inc-2" not in [x.node_id for x in h.dispatcher.sent]
    assert h.handle([_run_link(h, report, link)]) == []
    assert h.nodes("e1")["inc-2"]["state"] == "SUCCEEDED"


def test_a_link_its_message_did_not_carry_is_ignored_and_sent_as_usual(h):
    d = _first(h, three, x=1)
    report = run_attempt(h.store, *d.args)
    batch = h.scheduler.handle([{**report, "continued": ["inc-2", 1]}])
    assert batch.superseded == []
    [sent] = h.dispatcher.sent
    assert sent.node_id == "inc-1"
    assert h.nodes("e1")["inc-1"]["token"] != link_token(d.payload["token"], "inc-1", 1)


def test_a_cancel_gives_up_the_links_of_a_node_in_flight_and_a_late_claim(h):
    d = _first(h, three, x=1)
    batch = h.scheduler.handle([{"type": "cancel", "execution": "e1"}])
    assert set(batch.superseded) >= {("e1", "inc", 1), ("e1", "inc-1", 1), ("e1", "inc-2", 1)}
    # It ended as the cancel came and claimed inc-1 (given up above: the claim fails, or
    # the worker stops it): its report changes nothing.
    report = run_attempt(h.store, *d.args)
    assert h.handle([{**report, "continued": ["inc-1", 1]}]) == []
    assert h.dispatcher.sent == []
    assert h.execution("e1").status == "ABORTED"


def test_a_malformed_link_is_refused_with_the_message():
    payload = {"spec": {}, "token": "t", "inputs": {},
               "next": [{"node": "b", "attempt": 1, "spec": {}, "inputs": {}}]}
    args = ["e1", "a", 1, task_body("e1", "a", 1, payload, None)]
    with pytest.raises(MessageError, match=r"link 0 \(node 'b'\): needs a token"):
        check_task(args, None)
    payload["next"] = [{"node": "b", "attempt": 0, "token": "t", "spec": {}, "inputs": {}}]
    with pytest.raises(MessageError, match="malformed attempt 0"):
        check_task(["e1", "a", 1, task_body("e1", "a", 1, payload, None)], None)


def test_a_links_inputs_take_the_outputs_of_the_one_before():
    inputs = {"x": {"list": [{"ref": ["a", "o0"]}, {"val": {"v": 2}}]}}
    assert with_outputs(inputs, "a", {"o0": {"val": {"v": 1}}}) == {
        "x": {"list": [{"val": {"v": 1}}, {"val": {"v": 2}}]}}
    with pytest.raises(KeyError):
        with_outputs(inputs, "a", {"o1": {"val": {"v": 1}}})


@task
def boom(x: int) -> int:
    raise ValueError("boom")


@workflow
def chain_beside_a_failure(x: int) -> tuple[int, int]:
    return inc(x=inc(x=x)), boom(x=x)


def test_a_failure_that_ends_the_execution_gives_up_the_links_of_a_node_in_flight(h):
    h.submit(chain_beside_a_failure, "e1", x=1)
    sent, h.dispatcher.sent = h.dispatcher.sent, []
    (first,) = [d for d in sent if d.node_id == "inc"]
    (failing,) = [d for d in sent if d.node_id == "boom"]
    batch = h.scheduler.handle([run_attempt(h.store, *failing.args)])
    assert h.execution("e1").status == "FAILED"
    assert set(batch.superseded) == {("e1", "inc", 1), ("e1", "inc-1", 1)}
    report = run_attempt(h.store, *first.args)
    assert h.handle([{**report, "continued": ["inc-1", 1]}]) == []
    assert h.dispatcher.sent == []


def test_a_copy_of_a_report_that_claimed_its_link_leaves_the_link_running(h):
    """A restarted scheduler reads again the entries it had not acknowledged."""
    d = _first(h, three, x=1)
    report = {**run_attempt(h.store, *d.args), "continued": ["inc-1", 1]}
    assert h.handle([report]) == []
    batch = h.scheduler.handle([report])
    assert batch.superseded == []
    assert h.nodes("e1")["inc-1"]["state"] == "QUEUED"


def test_more_links_than_a_worker_takes_is_refused_at_start(monkeypatch):
    from sdk.model.config import Settings
    from sdk.model.errors import ConfigError

    monkeypatch.setenv("GRAFT_CONTINUE_LINKS", "65")
    with pytest.raises(ConfigError, match="GRAFT_CONTINUE_LINKS='65': must be at most 64"):
        Settings.from_env()
    monkeypatch.setenv("GRAFT_CONTINUE_LINKS", "0")
    assert Settings.from_env().continue_links == 0


def test_a_link_that_runs_counts_as_dispatched_to_its_tier(h):
    d = _first(h, three, x=1)
    report = run_attempt(h.store, *d.args)
    batch = h.scheduler.handle([{**report, "continued": ["inc-1", 1]}])
    assert ("continued", "mem-256Mi") in batch.observed
