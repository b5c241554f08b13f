"""The scheduler's logic on the in-memory state and on a real SQLite database, with nodes
executed in this process instead of on Celery workers (the integration suite covers the real
processes)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import typing

import pytest

from scheduler.dispatch import RecordingDispatcher
from scheduler.inbox import Inbox
from scheduler.recorder import Recorder
from scheduler.service import Scheduler
from scheduler.state import EventRecord, MemoryState
from scheduler.state_sql import SqlState
from sdk import Resources, dynamic, map_task, task, workflow
from sdk.model import spec_v1
from sdk.model.config import Settings
from sdk.model.spec import GraphSpec
from sdk.values.shapes import encode_inputs, shape_outputs
from sdk.values.store import MemoryStore, put_blob
from worker.attempt import run_attempt


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
def squares_wf(n: int) -> typing.List[int]:
    return squares(n=n)


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

    def __init__(self, state):
        self.store = MemoryStore()
        self.settings = Settings(database_url=state.url)
        self.state = state
        self.dispatcher = RecordingDispatcher()
        self.scheduler = self.new_scheduler()

    def new_scheduler(self, **options) -> Scheduler:
        return Scheduler(self.settings, self.state, self.dispatcher, self.store, **options)

    def handle(self, bodies) -> list[str]:
        """Apply messages; return the reasons of those refused."""
        return [r.reason for r in self.scheduler.handle(bodies).refused]

    def submit(self, wf, execution_id: str, **inputs) -> dict:
        spec_key = put_blob(self.store, wf.compile().dumps().encode(), prefix="specs")
        body = {"type": "submit", "execution": execution_id, "spec": spec_key,
                "inputs": encode_inputs(wf, inputs, self.store), "workflow": wf.name}
        assert self.handle([body]) == []
        return body

    def work(self) -> list[dict]:
        """Run every dispatched node once (a chunk's items each alone); return the reports
        they produced."""
        sent, self.dispatcher.sent = self.dispatcher.sent, []
        return [run_attempt(self.store, *one.args) for d in sent for one in d.singles()]

    def run_to_end(self, limit: int = 20) -> list[dict]:
        seen = []
        for _ in range(limit):
            if self.scheduler.grafting:  # as the loop does between batches
                self.scheduler.graft_more()
            reports = self.work()
            if not reports and not self.scheduler.grafting:
                return seen
            seen.extend(reports)
            self.handle(reports)
        raise AssertionError("execution did not finish")

    def execution(self, eid: str):
        with self.state.transaction() as tx:
            return tx.get_execution(eid)

    def nodes(self, eid: str) -> dict:
        with self.state.transaction() as tx:
            return {r["node_id"]: r for r in tx.nodes(eid)}

    def events(self, eid: str) -> int:
        with self.state.transaction() as tx:
            return len(tx.events(eid))

    def outputs(self, wf, eid: str):
        return shape_outputs(wf.compile(), self.execution(eid).outputs, self.store)


@pytest.fixture(params=["memory", "sqlite", "snapshots"])
def h(request, tmp_path):
    """A harness on the in-memory state, on SQLite, or on SQLite with a snapshot of every
    engine after each event (scheduler/snapshots.py), so that every rebuild below starts
    from one."""
    if request.param == "memory":
        return Harness(MemoryState())
    harness = Harness(SqlState(f"sqlite:///{tmp_path}/state.db"))
    if request.param == "snapshots":
        harness.settings = dataclasses.replace(harness.settings, snapshot_events=1)
        harness.scheduler = harness.new_scheduler()
    return harness


def test_runs_a_dynamic_workflow_to_the_local_result(h):
    h.submit(sum_of_squares, "e1", n=5)
    h.run_to_end()
    row = h.execution("e1")
    assert row.status == "SUCCEEDED"
    assert h.outputs(sum_of_squares, "e1") == sum_of_squares(n=5) == 30
    # squares + 5 grafted children + total
    assert len(h.nodes("e1")) == 7


def test_dispatches_to_the_tier_queue_with_the_task_as_name(h):
    h.submit(sum_of_squares, "e1", n=2)
    [d] = h.dispatcher.sent
    assert d.queue == "mem-256Mi"
    assert d.task_name == f"{__name__}.squares"
    assert (d.execution_id, d.node_id, d.attempt) == ("e1", "squares", 1)


def test_duplicate_and_late_reports_change_nothing(h):
    h.submit(sum_of_squares, "e1", n=3)
    reports = h.run_to_end()
    events = h.events("e1")
    before = h.execution("e1")
    # every report again, and a forged one with other outputs for a finished node
    forged = dict(reports[-1], outputs={"o0": {"val": {"v": -1}}})
    assert h.handle([*reports, forged]) == []
    assert h.dispatcher.sent == []
    assert h.events("e1") == events
    after = h.execution("e1")
    assert (after.status, after.outputs) == (before.status, before.outputs)


def test_duplicate_report_within_a_running_execution_is_ignored(h):
    h.submit(sum_of_squares, "e1", n=2)
    [report] = h.work()
    h.handle([report, report])
    assert len(h.dispatcher.sent) == 2  # the two children, once
    assert h.events("e1") == 1


def test_duplicate_submit_is_ignored(h):
    body = h.submit(sum_of_squares, "e1", n=2)
    h.dispatcher.sent.clear()
    assert h.handle([body]) == []
    assert h.dispatcher.sent == []


def test_malformed_messages_are_refused_and_the_batch_goes_on(h):
    spec_key = put_blob(h.store, sum_of_squares.compile().dumps().encode(), prefix="specs")
    good = {"type": "submit", "execution": "ok", "spec": spec_key,
            "inputs": encode_inputs(sum_of_squares, {"n": 1}, h.store)}
    problems = h.handle([
        "not a dict",
        {"type": "launch", "execution": "x"},
        {"type": "report", "execution": "x", "node": "n", "attempt": "1", "outcome": "values"},
        {"type": "report", "execution": "nope", "node": "n", "attempt": 1, "outcome": "values",
         "outputs": {}, "token": "t"},
        {"type": "submit", "execution": "bad-inputs", "spec": spec_key,
         "inputs": {"n": {"ref": ["x", "o0"]}}},
        good,
    ])
    assert len(problems) == 4
    assert "is a JSON object" in problems[0]
    assert "unknown control message type 'launch'" in problems[1]
    assert "'attempt' must be int" in problems[2]
    assert "unknown execution nope" in problems[3]
    h.run_to_end()
    assert h.execution("ok").status == "SUCCEEDED"
    bad = h.execution("bad-inputs")
    assert bad.status == "FAILED"
    assert "expected a value, got an unresolved ref binding" in bad.error["message"]


def test_missing_spec_fails_the_execution_with_a_clear_error(h):
    problems = h.handle([{"type": "submit", "execution": "e1",
                          "spec": "specs/" + "0" * 64, "inputs": {}}])
    row = h.execution("e1")
    assert row.status == "FAILED"
    assert "is gone from memory://" in row.error["message"]
    assert problems == []  # the message was fine: the execution it asked for failed


def test_restarted_scheduler_replays_events_and_continues(h):
    h.submit(sum_of_squares, "e1", n=4)
    h.handle(h.work())  # the dynamic grafts its 4 children
    children = h.work()
    h.handle(children[:2])
    # a new scheduler process: nothing in memory
    h.scheduler = h.new_scheduler()
    queued = h.scheduler.recover()
    assert sorted(queued) == [("e1", "squares/square-2", 1), ("e1", "squares/square-3", 1)]
    assert h.dispatcher.sent == []  # the caller resends what it cannot prove in flight
    assert h.scheduler.resend(queued[:1]) == 1
    assert [d.node_id for d in h.dispatcher.sent] == [queued[0][1]]
    h.dispatcher.sent.clear()
    h.handle(children[:2])  # duplicates after the restart: ignored
    assert h.dispatcher.sent == []
    h.handle(children[2:])
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
    h.handle([report])
    row = h.execution("e1")
    assert row.status == "FAILED"
    [failure] = row.error["failures"]
    assert failure["node_id"] == "squares"
    assert "cycle among nodes" in failure["message"]
    h.submit(sum_of_squares, "e2", n=2)
    h.run_to_end()
    assert h.execution("e2").status == "SUCCEEDED"


def v1_text(spec: GraphSpec) -> bytes:
    """`spec` as graft wrote it before spec v2."""
    return json.dumps({"version": 1, **spec_v1.graph_to_json(spec)}).encode()


def test_v1_spec_and_v1_subgraph_from_an_older_worker_still_run(h):
    spec_key = put_blob(h.store, v1_text(sum_of_squares.compile()), prefix="specs")
    assert h.handle([{"type": "submit", "execution": "e1", "spec": spec_key,
                      "inputs": encode_inputs(sum_of_squares, {"n": 3}, h.store),
                      "workflow": sum_of_squares.name}]) == []
    [report] = h.work()
    assert json.loads(h.store.get(report["subgraph"]))["version"] == 2
    old = v1_text(GraphSpec.loads(h.store.get(report["subgraph"])))
    report["subgraph"] = put_blob(h.store, old, prefix="subgraphs")
    h.handle([report])
    h.scheduler = h.new_scheduler()  # a restart rebuilds it from the v1 spec and sub-graph
    assert len(h.scheduler.recover()) == 3
    h.run_to_end()
    assert h.execution("e1").status == "SUCCEEDED"
    assert h.outputs(sum_of_squares, "e1") == 5


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
    h.handle([{"type": "submit", "execution": "e1", "spec": spec_key,
               "inputs": encode_inputs(direct, {"x": 1}, h.store)}])
    row = h.execution("e1")
    assert row.status == "FAILED"
    assert "64Gi" in row.error["message"] and "the tiers are" in row.error["message"]
    assert h.dispatcher.sent == []


def test_a_database_error_hands_the_whole_batch_back(h, monkeypatch):
    spec_key = put_blob(h.store, sum_of_squares.compile().dumps().encode(), prefix="specs")
    body = {"type": "submit", "execution": "e1", "spec": spec_key,
            "inputs": encode_inputs(sum_of_squares, {"n": 2}, h.store)}
    real = Inbox.submit

    class Locked(Exception):
        pass

    def locked(self, *args):
        raise Locked("database is locked")

    monkeypatch.setattr(Inbox, "submit", locked)
    monkeypatch.setattr(h.state, "is_transient", lambda exc: isinstance(exc, Locked),
                        raising=False)
    with pytest.raises(Locked):
        h.handle([body])
    assert h.execution("e1") is None and h.dispatcher.sent == []
    monkeypatch.setattr(Inbox, "submit", real)
    assert h.handle([body]) == []  # handed back; now it goes through
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
        h.handle([report])
    monkeypatch.undo()
    assert h.handle([report]) == []  # rebuilt from the database, then applied
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
    with h.state.transaction() as tx:
        tx.update_execution("fine", spec_key=put_blob(
            h.store, sum_of_squares.compile().dumps().encode() + b" ", prefix="specs"))
    del h.store._data[h.execution("gone").spec_key]
    h.scheduler = h.new_scheduler()
    queued = h.scheduler.recover()
    gone = h.execution("gone")
    assert gone.status == "FAILED" and "is gone" in gone.error["message"]
    assert [eid for eid, _, _ in queued] == ["fine"]
    h.scheduler.resend(queued)
    h.run_to_end()
    assert h.execution("fine").status == "SUCCEEDED"


@task
def nan_of(x: float) -> float:
    return x * float("nan")


@workflow
def nan_wf(x: float) -> float:
    return nan_of(x=x)


def test_not_a_number_is_stored_and_returned(h):
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

    monkeypatch.setattr(Inbox, "decode", broken)
    problems = h.handle([report])
    assert problems and "KeyError" in problems[0]
    row = h.execution("e1")
    assert row.status == "FAILED"
    assert "could not apply the report" in row.error["failures"][0]["message"]


# ---- tokens, lost attempts, the board -----------------------------------------------------

def test_a_report_without_the_attempts_token_is_refused(h):
    h.submit(sum_of_squares, "e1", n=2)
    [report] = h.work()
    forged = {**report, "token": "0" * 16}
    problems = h.handle([forged])
    assert len(problems) == 1 and "does not carry the token" in problems[0]
    assert h.dispatcher.sent == [] and h.events("e1") == 0
    h.handle([report])  # the real one still counts
    h.run_to_end()
    assert h.outputs(sum_of_squares, "e1") == 1


def due_now(h):
    """Make the first retry waiting out its backoff due now."""
    ready = h.scheduler.sender.ready
    ready._delayed[0] = (0.0, *ready._delayed[0][1:])


def test_each_attempt_gets_a_new_token_kept_in_the_state(h):
    h.submit(sum_of_squares, "e1", n=1)
    [d] = h.dispatcher.sent
    token = d.payload["token"]
    assert len(token) == 16 and h.nodes("e1")["squares"]["token"] == token
    h.dispatcher.sent.clear()
    h.scheduler.lost([("e1", "squares", 1)], "was killed")
    due_now(h)
    h.scheduler.flush()
    [d2] = h.dispatcher.sent
    assert d2.attempt == 2 and d2.payload["token"] not in (token, "")
    assert h.nodes("e1")["squares"]["token"] == d2.payload["token"]


@task(retries=1)
def fragile(x: int) -> int:
    return x + 1


@workflow
def fragile_wf(x: int) -> int:
    return fragile(x=x)


def test_a_lost_attempt_is_a_system_retry_with_backoff_not_a_user_retry(h):
    h.submit(fragile_wf, "e1", x=1)
    h.dispatcher.sent.clear()
    for attempt in (1, 2, 3):
        batch = h.scheduler.lost([("e1", "fragile", attempt)], "stopped renewing its lease")
        assert batch.superseded == [("e1", "fragile", attempt)]
        assert h.dispatcher.sent == []  # held back for its backoff, not sent at once
        assert 0 < h.scheduler.next_due_s() <= 2.0 ** (attempt - 1)
        due_now(h)
        h.scheduler.flush()
        [d] = h.dispatcher.sent
        h.dispatcher.sent.clear()
        assert d.attempt == attempt + 1
    node = h.nodes("e1")["fragile"]
    assert [r["kind"] for r in node["history"]] == ["SYSTEM", "SYSTEM", "SYSTEM"]
    assert node["history"][0]["type"] == "WorkerLost"
    # the fourth loss exhausts the 3 system retries; the task's own retry was never used
    h.scheduler.lost([("e1", "fragile", 4)], "stopped renewing its lease")
    row = h.execution("e1")
    assert row.status == "FAILED"
    [failure] = row.error["failures"]
    assert failure["error_type"] == "WorkerLost" and failure["kind"] == "SYSTEM"


def test_a_lost_attempt_that_already_reported_changes_nothing(h):
    h.submit(fragile_wf, "e1", x=1)
    h.run_to_end()
    batch = h.scheduler.lost([("e1", "fragile", 1)], "stopped renewing its lease")
    assert batch.superseded == [("e1", "fragile", 1)]
    assert h.execution("e1").status == "SUCCEEDED"


class RecordingBoard:
    def __init__(self):
        self.records: dict[str, dict] = {}
        self.nodes: dict[str, dict] = {}
        self.unknown: list[str] = []

    def mark_unknown(self, execution_ids):
        self.unknown.extend(execution_ids)

    def write(self, eid, fields, nodes=None):
        self.records.setdefault(eid, {}).update(fields)
        self.nodes.setdefault(eid, {}).update(nodes or {})

    def write_many(self, records):
        for eid, (fields, nodes) in records.items():
            self.write(eid, fields, nodes)


def test_a_refresh_rewrites_a_finished_executions_board_from_the_state(h):
    h.submit(sum_of_squares, "e1", n=3)
    h.run_to_end()
    board = RecordingBoard()
    h.scheduler = h.new_scheduler(board=board)
    assert h.handle([{"type": "refresh", "execution": "e1"}]) == []
    record = board.records["e1"]
    assert record["status"] == "SUCCEEDED" and record["total"] == 5 and record["done"] == 5
    assert record["spec"] == h.execution("e1").spec_key
    assert shape_outputs(sum_of_squares.compile(), record["outputs"], h.store) == 5
    assert board.nodes["e1"]["squares"]["history"][0]["outcome"] == "subgraph"
    # an id nobody knows (a typo): the client is told on the board, no dead letter
    assert h.handle([{"type": "refresh", "execution": "nobody"}]) == []
    assert board.unknown == ["nobody"] and "nobody" not in board.records


def test_a_large_grafts_node_records_reach_the_board_a_chunk_a_turn(h):
    from scheduler.boards import BOARD_NODES

    board = RecordingBoard()
    # the sub-graph in whole: the board's chunks alone
    h.scheduler = h.new_scheduler(board=board, graft_slice=None)
    h.submit(squares_wf, "e1", n=2 * BOARD_NODES + 10)
    h.handle(h.work())  # the sub-graph: 2 x BOARD_NODES + 10 new nodes
    h.scheduler.boards.write_now()
    assert len(board.nodes["e1"]) <= BOARD_NODES + 1
    assert h.scheduler.next_due_s() == 0.0  # the rest: on the next turns
    for _ in range(3):
        h.scheduler.flush()
        h.scheduler.boards.write_now()
    assert len(board.nodes["e1"]) == 2 * BOARD_NODES + 10 + 1
    assert sorted({n["state"] for n in board.nodes["e1"].values()}) == ["QUEUED", "RUNNING"]
    assert h.scheduler.next_due_s() is None


def test_a_large_sub_graph_is_grafted_a_slice_a_turn(h):
    h.scheduler = h.new_scheduler(graft_slice=4)
    h.submit(squares_wf, "e1", n=10)
    h.handle(h.work())  # the sub-graph: four of its ten nodes go in now
    assert len(h.dispatcher.sent) == 4 and h.scheduler.executions.grafting == {"e1"}
    assert h.scheduler.next_due_s() == 0.0  # the loop does not wait for messages meanwhile
    h.scheduler.graft_more()
    assert len(h.dispatcher.sent) == 8
    h.run_to_end()
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(10)]
    assert not h.scheduler.grafting
    assert len(h.nodes("e1")) == 11 and h.execution("e1").status == "SUCCEEDED"


def test_nodes_not_yet_grafted_when_the_execution_was_dropped_are_sent_after_its_rebuild(h):
    """A rolled-back batch drops its executions from memory; rebuilt from the events, the
    whole sub-graph is in at once, and what was never sent must be sent then (not wait for
    the minute's reconciliation)."""
    h.scheduler = h.new_scheduler(graft_slice=4)
    h.submit(squares_wf, "e1", n=10)
    h.handle(h.work())
    h.scheduler.executions.forget(["e1"])  # as a batch that rolls back does
    assert h.scheduler.graft_more().outbox == [] and not h.scheduler.grafting
    h.run_to_end()  # the first four report: the rebuild readies the other six
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(10)]


def run_held(h, eid: str) -> tuple[int, int]:
    """Run an execution to its end a turn at a time; return the most nodes its engine held,
    and how many it had dropped from memory at most."""
    most = dropped = 0
    for _ in range(100):
        if h.scheduler.grafting:
            h.scheduler.graft_more()
        live = h.scheduler.executions.get(eid)
        if live is not None:
            most, dropped = max(most, len(live.engine.nodes)), live.engine.evicted
        reports = h.work()
        if not reports and not h.scheduler.grafting:
            return most, dropped
        assert h.handle(reports) == []
    raise AssertionError("execution did not finish")


def test_a_large_sub_graph_is_held_a_window_at_a_time(h):
    """Nodes that succeeded and that nothing held reads leave memory once their rows are
    written; the next slice goes in as the window frees up. The outputs are read back from
    the rows, a late report for a node gone from memory is ignored, and a refresh still
    lists every node."""
    board = RecordingBoard()
    h.scheduler = h.new_scheduler(board=board, graft_slice=4, window=6)
    h.submit(squares_wf, "e1", n=40)
    h.handle(h.work())  # the dynamic: its sub-graph of 40 goes in as the window allows
    reports = h.work()
    late = reports[0]
    assert h.handle(reports) == []
    most, _ = run_held(h, "e1")
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(40)]
    assert most <= 6 + 4 + 2  # the window, a slice past it, the dynamic and what just ended
    rows = h.nodes("e1")
    assert len(rows) == 41 and {r["state"] for r in rows.values()} == {"SUCCEEDED"}
    assert h.handle([late]) == []  # the execution ended: a late report changes nothing
    h.scheduler.boards.write_now()
    assert board.records["e1"]["total"] == 41 and board.records["e1"]["done"] == 41


def test_nodes_gone_from_memory_are_read_back_and_listed_while_it_runs(h):
    board = RecordingBoard()
    h.scheduler = h.new_scheduler(board=board, graft_slice=4, window=6)
    h.submit(squares_wf, "e1", n=20)
    h.handle(h.work())
    for _ in range(3):
        h.handle(h.work())
        h.scheduler.graft_more()
    engine = h.scheduler.executions.live["e1"].engine
    assert engine.evicted >= 8
    gone = next(nid for nid, r in h.nodes("e1").items()
                if r["state"] == "SUCCEEDED" and nid not in engine.nodes)
    duplicate = {"type": "report", "execution": "e1", "node": gone, "attempt": 1,
                 "outcome": "values", "outputs": {"o0": {"val": {"v": 0}}}, "token": "x"}
    assert h.handle([duplicate]) == []  # it succeeded: ignored, not refused as unknown
    assert h.handle([{"type": "refresh", "execution": "e1"}]) == []
    h.scheduler.boards.write_now()
    listed = board.nodes["e1"]
    assert gone in listed and len(listed) == len(h.nodes("e1"))
    assert board.records["e1"]["done"] == sum(
        r["state"] == "SUCCEEDED" for r in h.nodes("e1").values())
    h.scheduler.executions.forget(["e1"])  # as a rolled-back batch: rebuilt from the events
    run_held(h, "e1")
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(20)]


def test_a_cancel_ends_what_a_held_graph_has_in_and_never_inserts_the_rest(h):
    h.scheduler = h.new_scheduler(graft_slice=4, window=6)
    h.submit(squares_wf, "e1", n=40)
    h.handle(h.work())
    for _ in range(2):
        h.handle(h.work())
        h.scheduler.graft_more()
    assert h.scheduler.executions.live["e1"].engine.total < 20
    assert h.handle([{"type": "cancel", "execution": "e1"}]) == []
    rows = h.nodes("e1")
    assert h.execution("e1").status == "ABORTED" and len(rows) < 20
    assert {r["state"] for r in rows.values()} <= {"SUCCEEDED", "CANCELLED", "ABORTED"}
    assert h.scheduler.graft_more().outbox == [] and not h.scheduler.grafting


def test_reports_of_an_execution_that_dropped_many_nodes_apply_without_collections(
        h, monkeypatch):
    import gc

    import scheduler.recorder as recorder
    from sdk.model.engine import Engine

    monkeypatch.setattr(recorder, "FREEZE_ABOVE", 10)
    seen = []
    apply = Engine.apply
    monkeypatch.setattr(Engine, "apply", lambda self, r: seen.append(
        (self.evicted >= 10, gc.isenabled())) or apply(self, r))
    h.scheduler = h.new_scheduler(graft_slice=4, window=6)
    h.submit(squares_wf, "e1", n=30)
    run_held(h, "e1")
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(30)]
    assert {many for many, _ in seen} == {False, True}
    assert all(enabled != many for many, enabled in seen) and gc.isenabled()


def test_a_map_reads_its_items_back_from_their_rows(h):
    h.submit(map_of_squares, "e1", n=30)
    h.handle(h.work())  # `numbers`: the map expands, its items are released
    reports = h.work()
    assert h.handle(reports[:20]) == []  # twenty items succeed and leave memory
    live = h.scheduler.executions.live["e1"]
    assert live.engine.evicted == 20  # not `numbers`: the map reads it
    assert h.handle(reports[20:]) == []
    run_held(h, "e1")
    assert h.outputs(map_of_squares, "e1") == [i * i for i in range(30)]


def test_nothing_more_is_sent_while_reports_wait_in_the_control_streams(h):
    """Workers that report faster than the scheduler applies would only grow the streams'
    backlog, and a small execution's messages wait behind it: while the loop finds too many
    reports waiting, ready attempts stay held."""
    class Backlogged:
        backlog = True

        def read(self, queues):
            return {q: 0 for q in queues}

        def backlogged(self):
            return self.backlog

    depths = Backlogged()
    h.scheduler = h.new_scheduler(depths=depths)
    h.submit(squares_wf, "e1", n=3)
    assert h.dispatcher.sent == [] and len(h.scheduler.sender.ready) == 1
    depths.backlog = False
    h.scheduler.flush()
    assert len(h.dispatcher.sent) == 1 and len(h.scheduler.sender.ready) == 0


def test_the_inline_dispatcher_runs_a_whole_execution_in_this_process():
    """The scheduler's logic with nothing outside this process: memory state, inline
    dispatch, the reports fed back as the next batches."""
    from scheduler.dispatch import InlineDispatcher

    store = MemoryStore()
    reports: list[dict] = []
    dispatcher = InlineDispatcher(lambda d: run_attempt(store, *d.args), reports.append)
    state = MemoryState()
    scheduler = Scheduler(Settings(), state, dispatcher, store)
    spec_key = put_blob(store, sum_of_squares.compile().dumps().encode(), prefix="specs")
    scheduler.handle([{"type": "submit", "execution": "e1", "spec": spec_key,
                       "inputs": encode_inputs(sum_of_squares, {"n": 4}, store)}])
    while reports:
        batch, reports[:] = list(reports), []
        assert scheduler.handle(batch).refused == []
    with state.transaction() as tx:
        record = tx.get_execution("e1")
    assert record.status == "SUCCEEDED"
    assert shape_outputs(sum_of_squares.compile(), record.outputs, store) == 14


@task
def numbers(n: int) -> typing.List[int]:
    return list(range(n))


@workflow
def map_of_squares(n: int) -> typing.List[int]:
    return map_task(square)(x=numbers(n=n))


def test_a_store_blip_while_expanding_a_map_rolls_the_batch_back(h):
    """A failing store is an outage, not the map's fault: the batch is tried again and the
    map's system retries stay unspent."""
    from sdk.model.errors import StoreError

    h.submit(map_of_squares, "e1", n=1000)  # the list is stored, so the map must read it
    [report] = h.work()
    real_get, calls = h.store.get, []

    def failing_get(key):
        if key.startswith("values/"):  # the stored list the map reads
            calls.append(key)
            raise StoreError(f"cannot read {key!r}: connection reset")
        return real_get(key)

    h.store.get = failing_get
    with pytest.raises(StoreError):
        h.scheduler.handle([report])
    assert calls
    h.store.get = real_get
    assert h.handle([report]) == []
    h.run_to_end(limit=5)
    assert h.execution("e1").status == "SUCCEEDED"
    assert h.outputs(map_of_squares, "e1") == [i * i for i in range(1000)]
    assert h.nodes("e1")["map_square"]["attempt"] == 1


class Queues:
    """Tier queue depths as a broker would report them: what was sent and not yet taken."""

    def __init__(self, h):
        self.h = h
        self.taken = 0
        self.reads: list[list[str]] = []

    def read(self, queues):
        self.reads.append(queues)
        waiting = len(self.h.dispatcher.sent) - self.taken
        return {q: waiting for q in queues}

    def backlogged(self):
        return False

    def take(self, n):
        """Workers take the oldest `n` waiting messages; return them."""
        got = self.h.dispatcher.sent[self.taken:self.taken + n]
        self.taken += len(got)
        return got


def paced(h, clock=lambda: 1000.0) -> Queues:
    """Have `h` run a scheduler that sends by the depths of broker-like queues; return them.
    With the ready queue's clock standing still, the depths stay at their minimum."""
    queues = Queues(h)
    h.scheduler = h.new_scheduler(depths=queues)
    h.scheduler.sender.ready.clock = clock
    return queues


def run_all(h, dispatches):
    """The reports of these dispatches, a chunk's items each reported alone."""
    return [run_attempt(h.store, *one.args) for d in dispatches for one in d.singles()]


def submit_with(h, wf, eid, priority=0, **inputs):
    spec_key = put_blob(h.store, wf.compile().dumps().encode(), prefix="specs")
    body = {"type": "submit", "execution": eid, "spec": spec_key, "workflow": wf.name,
            "inputs": encode_inputs(wf, inputs, h.store), "priority": priority}
    assert h.handle([body]) == []


def test_a_small_execution_is_not_queued_behind_a_large_ones_backlog(h):
    queues = paced(h)
    submit_with(h, map_of_squares, "big", n=2000)
    h.handle(run_all(h, queues.take(1)))  # `numbers` ran
    depth = h.scheduler.sender.ready.depth_target("mem-256Mi")
    assert depth < 20 and len(h.dispatcher.sent) - queues.taken == depth
    assert len(h.scheduler.sender.ready) == 2000 - depth
    submit_with(h, sum_of_squares, "small", n=3)
    for _ in range(2):  # room for one more each time: the large one's turn, then the small's
        h.handle(run_all(h, queues.take(1)))
    assert [d.execution_id for d in h.dispatcher.sent[-2:]] == ["big", "small"]
    # Both finish, the small one long before the large one.
    finished = []
    while len(finished) < 2:
        reports = run_all(h, queues.take(50))
        h.handle(reports)
        h.scheduler.flush()
        finished += [e for e in ("small", "big") if e not in finished
                     and h.execution(e).status == "SUCCEEDED"]
    assert finished == ["small", "big"]
    assert h.outputs(map_of_squares, "big") == [i * i for i in range(2000)]
    assert len(h.scheduler.sender.ready) == 0


def test_higher_priority_executions_are_sent_first(h):
    queues = paced(h)
    submit_with(h, map_of_squares, "low", priority=-1, n=50)
    submit_with(h, map_of_squares, "high", priority=5, n=50)
    h.handle(run_all(h, queues.take(2)))  # both `numbers`
    order = []
    while len(order) < 100:
        got = queues.take(10)
        order += [d.execution_id for d in got for _ in d.attempts]
        h.handle(run_all(h, got))
    assert order[:50].count("high") >= 50 - h.scheduler.sender.ready.min_depth
    assert h.execution("high").priority == 5 and h.execution("low").priority == -1


def test_cancelling_a_large_execution_supersedes_only_what_was_sent(h):
    queues = paced(h)
    submit_with(h, map_of_squares, "big", n=5000)
    h.handle(run_all(h, queues.take(1)))
    sent = sum(len(d.attempts) for d in h.dispatcher.sent) - 1
    batch = h.scheduler.handle([{"type": "cancel", "execution": "big"}])
    assert len(batch.superseded) == sent
    assert len(h.scheduler.sender.ready) == 0 and h.execution("big").status == "ABORTED"


def test_a_submission_with_a_bad_priority_is_refused(h):
    spec_key = put_blob(h.store, sum_of_squares.compile().dumps().encode(), prefix="specs")
    for bad in (True, 1.5, "3", 10**6):
        body = {"type": "submit", "execution": "e1", "spec": spec_key, "inputs": {},
                "priority": bad}
        [reason] = h.handle([body])
        assert "priority must be an integer" in reason


def test_held_attempts_of_an_execution_dropped_by_a_rollback_are_sent_after_all(h):
    queues = paced(h)
    submit_with(h, map_of_squares, "e1", n=20)
    h.handle([run_attempt(h.store, *d.args) for d in queues.take(1)])
    held = len(h.scheduler.sender.ready)
    assert 0 < held < 20
    h.scheduler.executions.live.clear()  # what a rolled-back batch does to its engines
    taken = queues.take(100)  # the workers took what was sent
    h.scheduler.flush()  # finds the execution gone from memory, rebuilds it ...
    h.scheduler.flush()  # ... and sends its held attempts in turn
    assert len(h.dispatcher.sent) - queues.taken > 0
    h.handle([run_attempt(h.store, *d.args) for d in taken])
    for _ in range(50):
        if h.execution("e1").status != "RUNNING":
            break
        h.handle([run_attempt(h.store, *d.args) for d in queues.take(50)])
        h.scheduler.flush()
    assert h.execution("e1").status == "SUCCEEDED"
    assert h.outputs(map_of_squares, "e1") == [i * i for i in range(20)]


def test_board_writes_are_merged_and_written_together_at_most_every_50_ms(h):
    from scheduler import outbox as outbox_mod

    board = RecordingBoard()
    h.scheduler = h.new_scheduler(board=board)
    calls = []
    board.write_many = lambda records: calls.append(dict(records))
    out = h.scheduler.boards.outbox
    out.write_board("a", {"status": "RUNNING", "done": 1, "failures": ["x"]}, {"n1": {"s": 1}})
    out.write_board("a", {"done": 2}, {"n2": {"s": 2}})
    out.write_board("b", {"status": "SUCCEEDED", "done": 3}, None)
    assert len(calls) == 1 and out.next_due_s() is not None  # the first at once, then wait
    out._board_due -= outbox_mod.BOARD_EVERY_S
    out.write_boards()
    assert calls[1] == {"a": ({"done": 2}, {"n2": {"s": 2}}),
                        "b": ({"status": "SUCCEEDED", "done": 3}, {})}
    out.write_board("a", {"status": "RUNNING", "failures": ["y"], "done": 4}, None)
    out.write_board("a", {"status": "FAILED", "done": 5}, None)  # a result replaces results
    out.write_boards(force=True)
    assert calls[2] == {"a": ({"done": 5, "status": "FAILED"}, {})}
    assert out.next_due_s() is None


def test_a_lone_message_goes_without_a_savepoint_and_a_failure_still_rolls_back(h, monkeypatch):
    with h.state.transaction() as tx:
        tx_class = type(tx)
    opened = []
    savepoint = tx_class.savepoint

    def counted(self):
        opened.append(1)
        return savepoint(self)

    monkeypatch.setattr(tx_class, "savepoint", counted)
    h.submit(sum_of_squares, "e1", n=2)
    [report] = h.work()
    assert h.handle([report]) == [] and opened == []  # one message, no savepoint
    first, second = h.work()
    apply_report = Recorder.apply

    def half_applied(self, tx, eid, live, report, batch):
        if report.node == second["node"] and report.outcome.value == "values":
            tx.append_event(EventRecord(eid, 10_000, report.node, 1, "values", {}))
            raise ValueError("broken half-way")
        return apply_report(self, tx, eid, live, report, batch)

    monkeypatch.setattr(Recorder, "apply", half_applied)
    events = h.events("e1")
    [why] = h.handle([second])
    assert "broken half-way" in why
    # Rolled back and applied again in a savepoint: refused alone, its node failed, and
    # nothing of the half-applied attempt written.
    assert opened
    with h.state.transaction() as tx:
        seqs = [e.seq for e in tx.events("e1")]
    assert 10_000 not in seqs and len(seqs) == events + 1
    node = h.nodes("e1")[second["node"]]
    assert node["state"] == "FAILED" and "ReportNotApplied" in json.dumps(node["error"])
    assert h.handle([first]) == []  # the next lone message still goes bare


def test_a_batch_goes_without_savepoints_and_one_failing_at_commit_goes_again_guarded(
        h, monkeypatch):
    """Messages of a batch go without a savepoint each. When the batch's commit fails with
    data the database refused (PostgreSQL's pipelined transaction sends node rows and events
    only then, scheduler/state_pg.py), the batch is applied again, each message in a
    savepoint."""
    h.submit(sum_of_squares, "e1", n=4)
    [report] = h.work()
    h.handle([report])
    first, second, third, fourth = h.work()
    with h.state.transaction() as tx:
        tx_class = type(tx)
    opened = []
    savepoint = tx_class.savepoint

    def counted(self):
        opened.append(1)
        return savepoint(self)

    monkeypatch.setattr(tx_class, "savepoint", counted)
    assert h.handle([first, second]) == [] and opened == []
    refusals = [KeyError("1 of 2 node rows to update have no row")]
    transaction = h.state.transaction

    @contextlib.contextmanager
    def failing_once_at_commit():
        with transaction() as tx:
            yield tx
            if refusals:
                raise refusals.pop()

    monkeypatch.setattr(h.state, "transaction", failing_once_at_commit)
    assert h.handle([third, fourth]) == []
    assert len(opened) == 2  # the second pass: a savepoint a message
    states = {nid: row["state"] for nid, row in h.nodes("e1").items()}
    assert {states[m["node"]] for m in (first, second, third, fourth)} == {"SUCCEEDED"}


@workflow
def chain_of_squares(x: int) -> int:
    for _ in range(6):
        x = square(x=x)
    return x


def test_a_chain_reads_queue_depths_only_now_and_then(h):
    """One attempt ready at a time fits under the depth last read: sending it needs no depth
    read (a round trip of every turn, before), until the drain rate is due for a sample."""
    clock = [1000.0]
    queues = paced(h, lambda: clock[0])
    reads = queues.reads
    submit_with(h, chain_of_squares, "c", x=2)
    while h.execution("c").status == "RUNNING":
        clock[0] += 0.01
        h.handle(run_all(h, queues.take(1)))
    assert h.outputs(chain_of_squares, "c") == 2 ** (2 ** 6)
    # At the starting depth (4), what was sent bounds the depth: reads at the first attempt
    # and at the fifth, when four sent and one held might not fit; none at the other four.
    assert len(reads) == 2
    clock[0] += 0.3  # a rate sample is due: the next attempt asks again
    submit_with(h, chain_of_squares, "d", x=1)
    assert len(reads) == 3


class Unwalkable(dict):
    """A node table that refuses to be walked whole (lookups by id are allowed)."""

    def _refuse(self, *_):
        raise AssertionError("walked every node")

    values = items = keys = __iter__ = _refuse


def test_the_attempts_to_look_for_in_flight_are_those_sent_and_not_yet_ended(h):
    h.submit(squares_wf, "e1", n=3)
    assert h.scheduler.queued_attempts() == [("e1", "squares", 1)]
    h.handle(h.work())  # the dynamic reports its sub-graph; its three children are sent
    sent, h.dispatcher.sent = h.dispatcher.sent, []
    children = [(d.execution_id, d.node_id, d.attempt) for d in sent]
    assert len(children) == 3
    assert sorted(h.scheduler.queued_attempts()) == sorted(children)
    h.handle([run_attempt(h.store, *sent[0].args)])
    assert sorted(h.scheduler.queued_attempts()) == sorted(children[1:])
    h.handle([run_attempt(h.store, *d.args) for d in sent[1:]])
    assert h.execution("e1").status == "SUCCEEDED"
    assert h.scheduler.queued_attempts() == [] and h.scheduler.executions.live == {}


def test_looking_for_attempts_in_flight_does_not_walk_the_graphs_held(h):
    h.submit(squares_wf, "e1", n=50)
    h.handle(h.work())
    live = h.scheduler.executions.live["e1"]
    live.engine.nodes = Unwalkable(live.engine.nodes)
    assert len(h.scheduler.queued_attempts()) == 50


def test_an_attempt_held_for_its_retry_backoff_is_not_looked_for_in_flight(h):
    h.submit(fragile_wf, "e1", x=1)
    assert h.scheduler.queued_attempts() == [("e1", "fragile", 1)]
    h.scheduler.lost([("e1", "fragile", 1)], "stopped renewing its lease")
    assert h.scheduler.queued_attempts() == []  # attempt 2 waits for its backoff
    due_now(h)
    h.scheduler.flush()
    assert h.scheduler.queued_attempts() == [("e1", "fragile", 2)]


def test_a_rebuilt_execution_looks_for_what_it_had_sent(h):
    h.submit(squares_wf, "e1", n=3)
    h.handle(h.work())
    sent, h.dispatcher.sent = h.dispatcher.sent, []
    h.scheduler = h.new_scheduler()  # a restart: nothing in memory
    assert h.scheduler.queued_attempts() == []
    h.handle([run_attempt(h.store, *sent[0].args)])  # rebuilds the execution from the state
    assert sorted(h.scheduler.queued_attempts()) == sorted(
        (d.execution_id, d.node_id, d.attempt) for d in sent[1:])


def test_a_dynamics_event_says_its_sub_graph_was_valid_and_a_report_cannot_say_so(h):
    h.submit(squares_wf, "e1", n=3)
    (dynamic,) = h.work()
    assert h.handle([{**dynamic, "valid": True}]) == []
    with h.state.transaction() as tx:
        (event,) = tx.events("e1")
    assert event.outcome == "subgraph" and event.body["valid"] is True
    h.run_to_end()
    with h.state.transaction() as tx:
        assert all("valid" not in e.body for e in tx.events("e1", after=1))

    # A report claiming `valid` for a sub-graph that is not: validated, failed, and its event
    # does not repeat the claim (a replay would take its word).
    h.submit(squares_wf, "e2", n=3)
    (dynamic,) = h.work()
    bad = put_blob(h.store, b'{"name": "g", "nodes": [{"id": 1}]}', prefix="subgraphs")
    assert h.handle([{**dynamic, "subgraph": bad, "valid": True}]) == []
    with h.state.transaction() as tx:
        (event,) = tx.events("e2")
    assert "valid" not in event.body and h.execution("e2").status == "FAILED"


def test_a_takeover_rewrites_on_the_board_what_the_dead_schedulers_last_batch_changed(
        h, monkeypatch):
    from scheduler import service

    board = RecordingBoard()
    h.scheduler = h.new_scheduler(board=board, graft_slice=4, window=6)
    h.submit(squares_wf, "e1", n=20)
    h.handle(h.work())
    for _ in range(4):
        h.handle(h.work())
        h.scheduler.graft_more()
    h.scheduler.boards.write_now()
    with h.state.transaction() as tx:
        named = [e.node_id for e in tx.events("e1")]
    last, older = named[-3:], named[1]
    assert len(named) >= 12 and h.nodes("e1")[older]["state"] == "SUCCEEDED"
    # The board missed what the last events changed (the scheduler died between its commit
    # and the board write); an older node shows a wrong state too, which a takeover that
    # reads back only the recent events leaves.
    stale = {**board.nodes["e1"], **{nid: {**board.nodes["e1"][nid], "state": "QUEUED"}
                                      for nid in [*last, older]}}
    for recent in (3, len(named)):
        board.nodes["e1"] = dict(stale)
        monkeypatch.setattr(service, "RECENT_EVENTS", recent)
        h.scheduler = h.new_scheduler(board=board, graft_slice=4, window=6)
        h.scheduler.recover()
        h.scheduler.boards.write_now()
        listed = board.nodes["e1"]
        assert [listed[nid]["state"] for nid in last] == ["SUCCEEDED"] * 3
        assert listed[older]["state"] == ("QUEUED" if recent == 3 else "SUCCEEDED")
        assert listed["squares"]["state"] == "RUNNING"
