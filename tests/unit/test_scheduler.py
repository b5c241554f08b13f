"""The scheduler's logic on a real SQLite database, with nodes executed in this process
instead of on Celery workers (the integration suite covers the real processes)."""

from __future__ import annotations

import dataclasses
import typing

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduler.db import EventRow, ExecutionRow, NodeRow, open_database
from scheduler.dispatch import RecordingDispatcher
from scheduler.service import Scheduler
from sdk import Resources, dynamic, task, workflow
from sdk.model.config import Settings
from sdk.model.entity import lookup
from sdk.model.spec import GraphSpec, node_from_json
from sdk.runtime.execute import execute
from sdk.values.shapes import encode_inputs, shape_outputs
from sdk.values.store import MemoryStore, put_blob


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: typing.List[int]) -> int:
    return sum(xs)


@dynamic
def squares(n: int) -> typing.List[int]:
    return [square(x=i) for i in range(n)]


@workflow
def sum_of_squares(n: int) -> int:
    return total(xs=squares(n=n))


@task(limits=Resources(mem="64Gi"))
def huge(x: int) -> int:
    return x


@dynamic
def spawns_huge(x: int) -> int:
    return huge(x=x)


@workflow
def wf_huge(x: int) -> int:
    return spawns_huge(x=x)


class Harness:
    """A scheduler plus an in-process 'worker' that runs whatever it dispatched."""

    def __init__(self, tmp_path):
        self.store = MemoryStore()
        self.settings = Settings(database_url=f"sqlite:///{tmp_path}/state.db")
        self.db = open_database(self.settings.database_url)
        self.dispatcher = RecordingDispatcher()
        self.scheduler = self.new_scheduler()

    def new_scheduler(self) -> Scheduler:
        return Scheduler(self.settings, self.db, self.dispatcher, self.store)

    def submit(self, wf, execution_id: str, **inputs) -> dict:
        spec_key = put_blob(self.store, wf.compile().dumps().encode(), prefix="specs")
        body = {"type": "submit", "execution": execution_id, "spec": spec_key,
                "inputs": encode_inputs(wf, inputs, self.store), "workflow": wf.name}
        assert self.scheduler.handle([body]) == []
        return body

    def work(self) -> list[dict]:
        """Run every dispatched node once; return the reports they produced."""
        sent, self.dispatcher.sent = self.dispatcher.sent, []
        reports = []
        for d in sent:
            spec = node_from_json(d.payload["node"])
            outcome = execute(spec, lookup(spec.task.ref), d.payload["inputs"], self.store)
            body = {"type": "report", "execution": d.execution_id, "node": d.node_id,
                    "attempt": d.attempt, "outcome": outcome.kind}
            if outcome.kind == "values":
                body["outputs"] = outcome.outputs
            elif outcome.kind == "subgraph":
                body["subgraph"] = put_blob(self.store, outcome.subgraph.dumps().encode(),
                                            prefix="subgraphs")
            else:
                body["error"], body["retriable"] = outcome.error, outcome.retriable
            reports.append(body)
        return reports

    def run_to_end(self, limit: int = 20) -> list[dict]:
        seen = []
        for _ in range(limit):
            reports = self.work()
            if not reports:
                return seen
            seen.extend(reports)
            self.scheduler.handle(reports)
        raise AssertionError("execution did not finish")

    def execution(self, eid: str) -> ExecutionRow:
        with Session(self.db) as s:
            row = s.get(ExecutionRow, eid)
            s.expunge_all()
            return row

    def count(self, model, eid: str) -> int:
        with Session(self.db) as s:
            return s.scalar(select(func.count()).select_from(model)
                            .where(model.execution_id == eid))

    def outputs(self, wf, eid: str):
        return shape_outputs(wf.compile(), self.execution(eid).outputs, self.store)


@pytest.fixture
def h(tmp_path):
    return Harness(tmp_path)


def test_runs_a_dynamic_workflow_to_the_local_result(h):
    h.submit(sum_of_squares, "e1", n=5)
    h.run_to_end()
    row = h.execution("e1")
    assert row.status == "SUCCEEDED"
    assert h.outputs(sum_of_squares, "e1") == sum_of_squares(n=5) == 30
    # squares + 5 grafted children + total
    assert h.count(NodeRow, "e1") == 7


def test_dispatches_to_the_tier_queue_with_the_task_as_name(h):
    h.submit(sum_of_squares, "e1", n=2)
    [d] = h.dispatcher.sent
    assert d.queue == "mem-256Mi"
    assert d.task_name == f"{__name__}.squares"
    assert (d.execution_id, d.node_id, d.attempt) == ("e1", "squares", 1)


def test_duplicate_and_late_reports_change_nothing(h):
    h.submit(sum_of_squares, "e1", n=3)
    reports = h.run_to_end()
    events = h.count(EventRow, "e1")
    before = h.execution("e1")
    # every report again, and a forged one with other outputs for a finished node
    forged = dict(reports[-1], outputs={"o0": {"val": {"v": -1}}})
    assert h.scheduler.handle([*reports, forged]) == []
    assert h.dispatcher.sent == []
    assert h.count(EventRow, "e1") == events
    after = h.execution("e1")
    assert (after.status, after.outputs) == (before.status, before.outputs)


def test_duplicate_report_within_a_running_execution_is_ignored(h):
    h.submit(sum_of_squares, "e1", n=2)
    [report] = h.work()
    h.scheduler.handle([report, report])
    assert len(h.dispatcher.sent) == 2  # the two children, once
    assert h.count(EventRow, "e1") == 1


def test_duplicate_submit_is_ignored(h):
    body = h.submit(sum_of_squares, "e1", n=2)
    h.dispatcher.sent.clear()
    assert h.scheduler.handle([body]) == []
    assert h.dispatcher.sent == []


def test_malformed_messages_are_refused_and_the_batch_goes_on(h):
    spec_key = put_blob(h.store, sum_of_squares.compile().dumps().encode(), prefix="specs")
    good = {"type": "submit", "execution": "ok", "spec": spec_key,
            "inputs": encode_inputs(sum_of_squares, {"n": 1}, h.store)}
    problems = h.scheduler.handle([
        "not a dict",
        {"type": "launch", "execution": "x"},
        {"type": "report", "execution": "x", "node": "n", "attempt": "1", "outcome": "values"},
        {"type": "report", "execution": "nope", "node": "n", "attempt": 1, "outcome": "values",
         "outputs": {}},
        {"type": "submit", "execution": "bad-inputs", "spec": spec_key,
         "inputs": {"n": {"ref": ["x", "o0"]}}},
        good,
    ])
    assert len(problems) == 5
    assert "is a JSON object" in problems[0]
    assert "unknown control message type 'launch'" in problems[1]
    assert "'attempt' must be int" in problems[2]
    assert "unknown execution nope" in problems[3]
    assert "malformed value binding" in problems[4]
    h.run_to_end()
    assert h.execution("ok").status == "SUCCEEDED"
    assert h.execution("bad-inputs").status == "FAILED"


def test_missing_spec_fails_the_execution_with_a_clear_error(h):
    problems = h.scheduler.handle([{"type": "submit", "execution": "e1",
                                    "spec": "specs/" + "0" * 64, "inputs": {}}])
    row = h.execution("e1")
    assert row.status == "FAILED"
    assert "is gone from memory://" in row.error["message"]
    assert problems and "refused" in problems[0]


def test_restarted_scheduler_replays_events_and_continues(h):
    h.submit(sum_of_squares, "e1", n=4)
    h.scheduler.handle(h.work())  # the dynamic grafts its 4 children
    children = h.work()
    h.scheduler.handle(children[:2])
    # a new scheduler process: nothing in memory
    h.scheduler = h.new_scheduler()
    assert h.scheduler.recover() == 1
    resent = {d.node_id for d in h.dispatcher.sent}
    assert resent == {"squares/square-2", "squares/square-3"}
    h.dispatcher.sent.clear()
    h.scheduler.handle(children[:2])  # duplicates after the restart: ignored
    assert h.dispatcher.sent == []
    h.scheduler.handle(children[2:])
    h.run_to_end()
    assert h.outputs(sum_of_squares, "e1") == 14


def test_bad_subgraph_fails_its_node_and_the_scheduler_keeps_serving(h):
    h.submit(sum_of_squares, "e1", n=2)
    [report] = h.work()
    sub = GraphSpec.loads(h.store.get(report["subgraph"]))
    first = sub.nodes[0]
    cyclic = dataclasses.replace(sub, nodes=[
        dataclasses.replace(first, inputs={"x": {"ref": [sub.nodes[1].id, "o0"]}}),
        dataclasses.replace(sub.nodes[1], inputs={"x": {"ref": [first.id, "o0"]}}),
    ])
    report["subgraph"] = put_blob(h.store, cyclic.dumps().encode(), prefix="subgraphs")
    h.scheduler.handle([report])
    row = h.execution("e1")
    assert row.status == "FAILED"
    [failure] = row.error["failures"]
    assert failure["node_id"] == "squares"
    assert "cycle among nodes" in failure["message"]
    h.submit(sum_of_squares, "e2", n=2)
    h.run_to_end()
    assert h.execution("e2").status == "SUCCEEDED"


def test_subgraph_node_above_the_largest_tier_fails_the_dynamic(h):
    h.submit(wf_huge, "e1", x=1)
    h.run_to_end()
    row = h.execution("e1")
    assert row.status == "FAILED"
    message = row.error["failures"][0]["message"]
    assert "'spawns_huge/huge'" in message and "256Mi, 1Gi, 4Gi, 16Gi" in message


def test_refuses_a_workflow_above_the_largest_tier_at_submit(h):
    @workflow
    def direct(x: int) -> int:
        return huge(x=x)

    spec_key = put_blob(h.store, direct.compile().dumps().encode(), prefix="specs")
    h.scheduler.handle([{"type": "submit", "execution": "e1", "spec": spec_key,
                         "inputs": encode_inputs(direct, {"x": 1}, h.store)}])
    row = h.execution("e1")
    assert row.status == "FAILED"
    assert "64Gi" in row.error["message"] and "the tiers are" in row.error["message"]
    assert h.dispatcher.sent == []


def test_a_database_error_hands_the_whole_batch_back(h, monkeypatch):
    from sqlalchemy.exc import OperationalError

    spec_key = put_blob(h.store, sum_of_squares.compile().dumps().encode(), prefix="specs")
    body = {"type": "submit", "execution": "e1", "spec": spec_key,
            "inputs": encode_inputs(sum_of_squares, {"n": 2}, h.store)}
    real = Scheduler._submit

    def locked(self, *args):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(Scheduler, "_submit", locked)
    with pytest.raises(OperationalError):
        h.scheduler.handle([body])
    assert h.execution("e1") is None and h.dispatcher.sent == []
    monkeypatch.setattr(Scheduler, "_submit", real)
    assert h.scheduler.handle([body]) == []  # the broker hands it back; now it goes through
    h.run_to_end()
    assert h.outputs(sum_of_squares, "e1") == 1


def test_a_failing_store_is_transient_but_a_missing_object_is_final(h, monkeypatch):
    from sdk.model.errors import StoreError

    h.submit(sum_of_squares, "e1", n=2)
    [report] = h.work()

    def unreachable(key):
        raise StoreError(f"cannot read {key!r}: connection reset")

    monkeypatch.setattr(h.store, "get", unreachable)
    with pytest.raises(StoreError, match="connection reset"):
        h.scheduler.handle([report])
    monkeypatch.undo()
    assert h.scheduler.handle([report]) == []  # rebuilt from the database, then applied
    assert len(h.dispatcher.sent) == 2


class FlakyDispatcher(RecordingDispatcher):
    def __init__(self, failures: int):
        super().__init__()
        self.failures = failures

    def send(self, batch):
        if self.failures and batch:
            self.failures -= 1
            raise ConnectionError("broker went away")
        super().send(batch)


def test_nodes_that_could_not_be_sent_are_sent_later_not_lost(h):
    h.dispatcher = FlakyDispatcher(failures=1)
    h.scheduler = h.new_scheduler()
    h.submit(sum_of_squares, "e1", n=2)  # committed; sending fails
    assert h.dispatcher.sent == [] and h.scheduler.backlog == 1
    h.scheduler.flush()
    assert [d.node_id for d in h.dispatcher.sent] == ["squares"]
    assert h.scheduler.backlog == 0
    h.run_to_end()
    assert h.outputs(sum_of_squares, "e1") == 1


def test_recover_fails_an_execution_it_cannot_rebuild_and_serves_the_rest(h):
    h.submit(sum_of_squares, "gone", n=2)
    h.submit(sum_of_squares, "fine", n=2)
    h.dispatcher.sent.clear()
    # both share one spec object (content-addressed): give "fine" its own copy, drop the other
    with Session(h.db) as s, s.begin():
        s.get(ExecutionRow, "fine").spec_key = put_blob(
            h.store, sum_of_squares.compile().dumps().encode() + b" ", prefix="specs")
    del h.store._data[h.execution("gone").spec_key]
    h.scheduler = h.new_scheduler()
    assert h.scheduler.recover() == 2
    gone = h.execution("gone")
    assert gone.status == "FAILED" and "is gone" in gone.error["message"]
    assert [d.execution_id for d in h.dispatcher.sent] == ["fine"]
    h.run_to_end()
    assert h.execution("fine").status == "SUCCEEDED"


def test_not_a_number_is_stored_and_returned(h):
    @task
    def nan_of(x: float) -> float:
        return x * float("nan")

    @workflow
    def nan_wf(x: float) -> float:
        return nan_of(x=x)

    h.submit(nan_wf, "e1", x=1.0)
    h.run_to_end()
    import math

    assert h.execution("e1").status == "SUCCEEDED"
    assert math.isnan(h.outputs(nan_wf, "e1"))


def test_a_report_that_cannot_be_applied_fails_its_node(h, monkeypatch):
    h.submit(sum_of_squares, "e1", n=2)
    [report] = h.work()

    def broken(self, *args):
        raise KeyError("a defect")

    monkeypatch.setattr(Scheduler, "_graft", broken)
    problems = h.scheduler.handle([report])
    assert problems and "KeyError" in problems[0]
    row = h.execution("e1")
    assert row.status == "FAILED"
    assert "could not apply the report" in row.error["failures"][0]["message"]
