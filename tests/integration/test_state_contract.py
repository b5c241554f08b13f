"""One contract for the scheduler's state, run against every implementation: in memory,
SQLite and PostgreSQL (a throwaway database on the session's private server)."""

from __future__ import annotations

import math
import time
import uuid

import pytest

from scheduler.state import NODE_FIELDS, EventRecord, ExecutionRecord, MemoryState

BACKENDS = ["memory", "sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def state(request, tmp_path):
    if request.param == "memory":
        yield MemoryState()
        return
    from scheduler.state_sql import SqlState

    if request.param == "sqlite":
        yield SqlState(f"sqlite:///{tmp_path}/state.db")
        return
    server = request.getfixturevalue("postgres_server")
    name = f"graft_contract_{uuid.uuid4().hex[:10]}"
    server.create_database(name)
    state = SqlState(server.url_for(name))
    yield state
    state.engine.dispose()
    server.drop_database(name)


def _execution(eid: str = "e1", **fields) -> ExecutionRecord:
    return ExecutionRecord(id=eid, workflow="wf", status="RUNNING", spec_key="specs/x",
                           inputs={"n": {"val": {"v": 1}}}, **fields)


def _row(node: str, eid: str = "e1", **fields) -> dict:
    row = {k: None for k in NODE_FIELDS}
    row.update(execution_id=eid, node_id=node, task="t", kind="task", state="QUEUED",
               attempt=1, cached=False, history=[])
    row.update(fields)
    return row


def test_an_execution_is_added_read_and_updated(state):
    with state.transaction() as tx:
        assert tx.get_execution("e1") is None
        tx.add_execution(_execution(submitted_at=1.5))
    with state.transaction() as tx:
        got = tx.get_execution("e1")
        assert (got.workflow, got.status, got.inputs, got.submitted_at) == (
            "wf", "RUNNING", {"n": {"val": {"v": 1}}}, 1.5)
        tx.update_execution("e1", status="SUCCEEDED", outputs={"o0": {"val": {"v": math.inf}}})
    with state.transaction() as tx:
        got = tx.get_execution("e1")
        assert got.status == "SUCCEEDED" and got.outputs == {"o0": {"val": {"v": math.inf}}}
        assert got.updated_at >= got.created_at > 0


def test_times_are_unix_seconds_whatever_the_local_zone(state, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9 all year
    time.tzset()
    try:
        before = time.time()
        with state.transaction() as tx:
            tx.add_execution(_execution())
        with state.transaction() as tx:
            got = tx.get_execution("e1")
        assert before - 1 <= got.created_at <= time.time() + 1
        assert before - 1 <= got.updated_at <= time.time() + 1
    finally:
        monkeypatch.undo()
        time.tzset()


def test_executions_list_newest_first_by_status_and_limit(state):
    for i in range(4):
        with state.transaction() as tx:
            tx.add_execution(_execution(f"e{i}"))
            if i % 2:
                tx.update_execution(f"e{i}", status="FAILED")
    with state.transaction() as tx:
        assert [r.id for r in tx.executions()] == ["e3", "e2", "e1", "e0"]
        assert [r.id for r in tx.executions(status="FAILED")] == ["e3", "e1"]
        assert [r.id for r in tx.executions(limit=2)] == ["e3", "e2"]
        assert tx.count_by_status() == {"FAILED": 2, _execution("x").status: 2}


def test_node_rows_round_trip_and_update_in_bulk(state):
    history = [{"attempt": 1, "outcome": "error", "kind": "SYSTEM", "type": "WorkerLost"}]
    with state.transaction() as tx:
        tx.add_execution(_execution())
        tx.insert_nodes([_row("b", token="t1"), _row("a/x-1", parent="a", history=history)])
    with state.transaction() as tx:
        assert tx.node_ids("e1") == {"b", "a/x-1"}
        rows = tx.nodes("e1")
        assert [r["node_id"] for r in rows] == ["a/x-1", "b"]
        assert rows[0]["history"] == history and rows[0]["parent"] == "a"
        assert rows[1]["token"] == "t1" and rows[1]["cached"] is False
        tx.update_nodes([{**rows[1], "state": "SUCCEEDED", "ended_at": 2.5, "cached": True}])
    with state.transaction() as tx:
        b = {r["node_id"]: r for r in tx.nodes("e1")}["b"]
        assert (b["state"], b["ended_at"], b["cached"]) == ("SUCCEEDED", 2.5, True)
        assert tx.nodes("other") == [] and tx.node_ids("other") == set()


def test_node_outputs_are_read_by_id_or_all_at_once(state, monkeypatch):
    """The outputs of nodes an engine dropped from memory, read back (`Engine.spill`): by id
    for a few, in one read of the execution's rows for many."""
    with state.transaction() as tx:
        tx.add_execution(_execution())
        tx.add_execution(_execution("e2"))
        tx.insert_nodes([_row(f"d/c{i}", state="SUCCEEDED", outputs={"o0": {"val": {"v": i}}})
                         for i in range(30)] + [_row("q"), _row("d/c0", "e2", outputs={})])
    with state.transaction() as tx:
        assert tx.node_outputs("e1", ["d/c3", "q", "gone"]) == {"d/c3": {"o0": {"val": {"v": 3}}}}
        assert tx.node_outputs("e1", []) == {}
        if hasattr(tx, "conn"):
            import scheduler.state_tx as state_tx

            monkeypatch.setattr(state_tx, "_OUTPUTS_BY_ID", 5)
            monkeypatch.setattr(state_tx, "_OUTPUTS_PER_READ", 2)
            monkeypatch.setattr(state_tx, "_OUTPUTS_PARSED", 3)
            assert tx.node_outputs("e1", ["d/c1", "d/c2", "d/c4"]) == {
                f"d/c{i}": {"o0": {"val": {"v": i}}} for i in (1, 2, 4)}
        ids = [f"d/c{i}" for i in range(0, 30, 3)] + ["q"]
        assert tx.node_outputs("e1", ids) == {f"d/c{i}": {"o0": {"val": {"v": i}}}
                                             for i in range(0, 30, 3)}


def test_events_keep_their_order(state):
    with state.transaction() as tx:
        tx.add_execution(_execution())
        for seq in (2, 1, 3):
            tx.append_event(EventRecord("e1", seq, f"n{seq}", 1, "values",
                                        {"outputs": {"o0": {"val": {"v": seq}}}}))
    with state.transaction() as tx:
        events = tx.events("e1")
        assert [e.seq for e in events] == [1, 2, 3]
        assert events[0].body == {"outputs": {"o0": {"val": {"v": 1}}}}


def test_events_are_read_a_page_at_a_time(state):
    with state.transaction() as tx:
        tx.add_execution(_execution())
        for seq in range(1, 8):
            tx.append_event(EventRecord("e1", seq, f"n{seq}", 1, "values",
                                        {"outputs": {"o0": {"val": {"v": seq}}}, "n": None}))
    with state.transaction() as tx:
        pages, after = [], 0
        while page := tx.events("e1", after, 3):
            pages.append([e.seq for e in page])
            after = page[-1].seq
        assert pages == [[1, 2, 3], [4, 5, 6], [7]]
        assert tx.events("e1", 6)[0].body == {"outputs": {"o0": {"val": {"v": 7}}}, "n": None}
        assert tx.events("e2", 0, 3) == []


def test_a_rebuild_reads_node_marks_a_page_at_a_time_and_rows_by_id(state):
    rows = [_row(f"n{i}", state="SUCCEEDED" if i % 2 else "QUEUED", token=f"t{i}",
                 started_at=float(i)) for i in range(5)]
    with state.transaction() as tx:
        tx.add_execution(_execution())
        tx.insert_nodes(rows)
    with state.transaction() as tx:
        marks, after = [], ""
        while page := tx.node_marks("e1", after, 2):
            marks += page
            after = page[-1].node_id
        assert [(m.node_id, m.state, m.token) for m in marks] \
            == [(r["node_id"], r["state"], r["token"]) for r in rows]
        assert marks[1].started_at == rows[1]["started_at"]
        assert [r["node_id"] for r in tx.nodes("e1", {"n3", "n1", "nowhere"})] == ["n1", "n3"]
        assert tx.nodes("e1", set()) == []


def test_a_failed_transaction_leaves_nothing(state):
    with pytest.raises(RuntimeError), state.transaction() as tx:
        tx.add_execution(_execution())
        raise RuntimeError("boom")
    with state.transaction() as tx:
        assert tx.get_execution("e1") is None


def test_a_savepoint_rolls_back_alone(state):
    with state.transaction() as tx:
        tx.add_execution(_execution())
        with pytest.raises(RuntimeError), tx.savepoint():
            tx.insert_nodes([_row("a")])
            tx.update_execution("e1", status="FAILED")
            raise RuntimeError("one message failed")
        with tx.savepoint():
            tx.insert_nodes([_row("b")])
    with state.transaction() as tx:
        assert tx.node_ids("e1") == {"b"}
        assert tx.get_execution("e1").status == "RUNNING"


def test_a_released_savepoint_is_rolled_back_with_its_transaction(state):
    with pytest.raises(RuntimeError), state.transaction() as tx:
        with tx.savepoint():  # the transaction's first statement
            tx.add_execution(_execution())
        raise RuntimeError("the batch failed after its first message")
    with state.transaction() as tx:
        assert tx.get_execution("e1") is None


def test_a_refused_write_rolls_back_its_savepoint_alone(state):
    with state.transaction() as tx:
        tx.add_execution(_execution())
        tx.insert_nodes([_row("a")])
    with state.transaction() as tx:
        with pytest.raises(Exception), tx.savepoint():  # noqa: B017
            tx.append_event(EventRecord("e1", 1, "a", 1, "values", {}))
            tx.insert_nodes([_row("b"), _row("a")])
        with tx.savepoint():
            tx.insert_nodes([_row("c")])
            tx.append_event(EventRecord("e1", 1, "c", 1, "values", {}))
    with state.transaction() as tx:
        assert tx.node_ids("e1") == {"a", "c"}
        assert [(e.seq, e.node_id) for e in tx.events("e1")] == [(1, "c")]


def test_events_go_and_stay_with_their_savepoint(state):
    with state.transaction() as tx:
        tx.add_execution(_execution())
        tx.append_event(EventRecord("e1", 1, "a", 1, "values", {}))
        with pytest.raises(RuntimeError), tx.savepoint():
            tx.append_event(EventRecord("e1", 2, "b", 1, "values", {}))
            raise RuntimeError("this message failed")
        with pytest.raises(Exception), tx.savepoint():  # noqa: B017
            tx.append_event(EventRecord("e1", 3, "c", 1, "values", {}))
            tx.append_event(EventRecord("e1", 1, "a", 1, "values", {}))  # a duplicate
        with tx.savepoint():
            tx.append_event(EventRecord("e1", 2, "d", 1, "values", {}))
            assert [e.seq for e in tx.events("e1")] == [1, 2]
        tx.append_event(EventRecord("e1", 3, "e", 1, "values", {}))
    with state.transaction() as tx:
        assert [(e.seq, e.node_id) for e in tx.events("e1")] == [(1, "a"), (2, "d"), (3, "e")]


def test_updating_a_node_without_a_row_is_refused(state):
    with state.transaction() as tx:
        tx.add_execution(_execution())
        tx.insert_nodes([_row("a")])
    for rows in ([_row("b")], [_row("a", state="RUNNING"), _row("b")]):
        with pytest.raises(KeyError), state.transaction() as tx:
            tx.update_nodes(rows)
    with state.transaction() as tx:
        assert [r["state"] for r in tx.nodes("e1")] == ["QUEUED"]


def test_duplicates_are_refused(state):
    with state.transaction() as tx:
        tx.add_execution(_execution())
        tx.insert_nodes([_row("a")])
        tx.append_event(EventRecord("e1", 1, "a", 1, "values", {}))
    for dup in (lambda tx: tx.add_execution(_execution()),
                lambda tx: tx.insert_nodes([_row("a")]),
                lambda tx: tx.append_event(EventRecord("e1", 1, "a", 1, "values", {}))):
        with pytest.raises(Exception), state.transaction() as tx:  # noqa: B017
            dup(tx)


def test_transient_errors_are_told_apart(state):
    assert state.is_transient(ValueError("data")) is False


# ---- launch plans and their ticks ------------------------------------------------------------

def _plan(name: str = "lp", **fields):
    from scheduler.state import LaunchPlanRecord

    values = dict(name=name, workflow="wf", spec_key="specs/x",
                  inputs={"n": {"val": {"v": 1}}}, schedule={"cron": "*/5 * * * *",
                                                             "kickoff_arg": "t"},
                  active=True, anchor_s=1_700_000_000, cursor_s=1_700_000_000)
    values.update(fields)
    return LaunchPlanRecord(**values)


def test_launch_plans_are_registered_replaced_and_listed(state):
    with state.transaction() as tx:
        assert tx.get_launch_plan("lp") is None
        tx.put_launch_plan(_plan())
        tx.put_launch_plan(_plan("other", active=False))
    with state.transaction() as tx:
        got = tx.get_launch_plan("lp")
        assert (got.schedule, got.inputs, got.active, got.cursor_s) == (
            {"cron": "*/5 * * * *", "kickoff_arg": "t"}, {"n": {"val": {"v": 1}}}, True,
            1_700_000_000)
        tx.put_launch_plan(_plan(cursor_s=1_700_000_300, skipped=4))
    with state.transaction() as tx:
        assert [p.name for p in tx.launch_plans()] == ["lp", "other"]
        assert [p.name for p in tx.launch_plans(active=True)] == ["lp"]
        assert [p.name for p in tx.launch_plans(active=False)] == ["other"]
        got = tx.get_launch_plan("lp")
        assert (got.cursor_s, got.skipped) == (1_700_000_300, 4) and got.updated_at > 0


def test_a_tick_is_recorded_once(state):
    from scheduler.state import TickRecord

    with state.transaction() as tx:
        tx.add_tick(TickRecord("lp", 1_700_000_300, "e1", 5.0))
        tx.add_tick(TickRecord("lp", 1_700_000_600, "e2"))
        tx.add_tick(TickRecord("other", 1_700_000_300, "e3"))
    with pytest.raises(Exception), state.transaction() as tx:  # noqa: B017
        tx.add_tick(TickRecord("lp", 1_700_000_300, "e4"))
    with state.transaction() as tx:
        assert [(t.tick_s, t.execution_id) for t in tx.ticks("lp")] == [
            (1_700_000_600, "e2"), (1_700_000_300, "e1")]
        assert [t.execution_id for t in tx.ticks("lp", limit=1)] == ["e2"]
        assert tx.ticks("none") == []


def test_notifications_are_recorded_once_listed_and_marked(state):
    from scheduler.state import NotificationRecord

    notify = {"launch_plan": "lp", "workflow": "wf", "notifications": [
        {"kind": "email", "phases": ["FAILED"], "recipients": ["a@b.c"]}]}
    with state.transaction() as tx:
        tx.add_execution(_execution(notify=notify))
        tx.put_launch_plan(_plan(notifications=notify["notifications"]))
        tx.add_notifications([
            NotificationRecord("e1", 0, "smtp", "FAILED", {"kind": "email"}, created_at=2.0),
            NotificationRecord("e1", 1, "webhook", "FAILED", {"n": [1]}, created_at=2.0),
            NotificationRecord("e0", 0, "smtp", "SUCCEEDED", {"x": None}, created_at=1.0)])
    with pytest.raises(Exception), state.transaction() as tx:  # noqa: B017
        tx.add_notifications([NotificationRecord("e1", 0, "smtp", "FAILED", {})])
    with state.transaction() as tx:
        assert tx.get_execution("e1").notify == notify
        assert tx.get_launch_plan("lp").notifications == notify["notifications"]
        assert [r.key for r in tx.notifications()] == [("e0", 0), ("e1", 0), ("e1", 1)]
        assert tx.notifications("e1")[1].body == {"n": [1]}
        tx.mark_notifications([("e1", 0, "sent", None), ("e0", 0, "failed", "550 no"),
                               ("gone", 3, "sent", None)])
    with state.transaction() as tx:
        assert [r.key for r in tx.notifications(state="pending")] == [("e1", 1)]
        assert [(r.state, r.error) for r in tx.notifications("e0")] == [("failed", "550 no")]
        assert tx.get_execution("e1").notify == notify
