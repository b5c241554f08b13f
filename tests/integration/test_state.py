"""Scheduler state under both backends: idempotent reports, bad messages, durable submission,
and replay after the scheduler is killed."""

import json
import os
import re
import signal
import time
import uuid

import pytest
from workflows import basic, cluster_wf

from sdk.wire.control import control_keys
from sdk.wire.keys import GROUP

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def as_json(value):
    """A JSON column as read with a text query: a str on SQLite, parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def events(cluster, eid):
    return [(seq, node, attempt, outcome, as_json(body)) for seq, node, attempt, outcome, body
            in cluster.query("SELECT seq, node_id, attempt, outcome, body FROM graft_events "
                             "WHERE execution_id = :e ORDER BY seq", e=eid)]


def snapshot(cluster, execution):
    """Everything the board and the database say about an execution (timestamps aside)."""
    eid = execution.id
    info = execution.info()
    return {
        "board": {k: info.get(k) for k in ("status", "outputs", "done", "total", "failures",
                                           "error", "spec", "workflow")},
        "board_nodes": execution.nodes(),
        "execution_row": [(status, as_json(outputs), as_json(error), as_json(inputs)) for
                          status, outputs, error, inputs in cluster.query(
                              "SELECT status, outputs, error, inputs FROM graft_executions "
                              "WHERE id = :e", e=eid)],
        "node_rows": [(n, p, t, k, s, a, q, as_json(err)) for n, p, t, k, s, a, q, err in
                      cluster.query("SELECT node_id, parent, task, kind, state, attempt, queue, "
                                    "error FROM graft_nodes WHERE execution_id = :e "
                                    "ORDER BY node_id", e=eid)],
        "events": events(cluster, eid),
    }


def report(eid, node, attempt, **fields):
    return {"type": "report", "execution": eid, "node": node, "attempt": attempt,
            "token": "0" * 16, **fields}


def forged(outputs, value):
    """The same output names as a real report, every one bound to `value`."""
    return {name: {"val": {"v": value}} for name in outputs}


def control_messages_held(cluster) -> int:
    """Control messages the scheduler has read from its stream but not acknowledged yet."""
    return sum(cluster.redis().xpending(key, GROUP)["pending"]
               for key in control_keys(cluster.settings))


# ---- idempotence ------------------------------------------------------------------------

def test_duplicate_and_bad_messages_change_nothing(cluster, wait_for):
    client = cluster.client()
    execution = client.submit(basic.chain, n=4)
    assert execution.wait(timeout=60) == "squares=30"
    eid = execution.id
    before = snapshot(cluster, execution)
    assert before["board"]["status"] == "SUCCEEDED"
    real = {node: body for _seq, node, _attempt, _outcome, body in before["events"]}
    assert set(real) == {"make_numbers", "square_all", "summarize", "describe"}
    exec_row = before["execution_row"][0]

    unknown = "nosuchexecution" + uuid.uuid4().hex[:8]
    bodies = [
        # Copies of real reports, with other values, for finished nodes.
        report(eid, "square_all", 1, outcome="values",
               outputs=forged(real["square_all"]["outputs"], [7, 7, 7])),
        report(eid, "describe", 1, outcome="values",
               outputs=forged(real["describe"]["outputs"], "forged=1")),
        report(eid, "make_numbers", 2, outcome="values",
               outputs=forged(real["make_numbers"]["outputs"], [1])),
        report(eid, "summarize", 1, outcome="error",
               error={"kind": "USER", "type": "ValueError", "message": "late",
                      "traceback": ""}),
        report(eid, "summarize", 1, outcome="subgraph", subgraph="subgraphs/nothing-here"),
        # An exact duplicate of a real report.
        report(eid, "describe", 1, outcome="values", outputs=real["describe"]["outputs"]),
        # The submit again, once as it was and once with other inputs.
        {"type": "submit", "execution": eid, "spec": before["board"]["spec"],
         "inputs": exec_row[3], "workflow": "chain", "submitted_at": time.time()},
        {"type": "submit", "execution": eid, "spec": before["board"]["spec"],
         "inputs": {"n": {"val": {"v": 10}}}, "workflow": "chain", "submitted_at": time.time()},
        # Reports for an execution nobody submitted, and for a node that does not exist.
        report(unknown, "make_numbers", 1, outcome="values", outputs={}),
        # Malformed: missing fields, wrong types, unknown kinds, not an object at all.
        {"type": "report", "execution": eid},
        {"type": "report", "node": "describe", "attempt": 1, "outcome": "values",
         "outputs": {}},
        report(eid, "describe", "1", outcome="values", outputs={}),
        report(eid, "describe", 1, outcome="teleported"),
        {"type": "submit", "execution": "x" + uuid.uuid4().hex[:8]},
        {"type": "launch", "execution": eid},
        ["not", "an", "object"],
        "a string",
        42,
        None,
    ]
    for body in bodies:
        cluster.publish(body)
    cluster.add_raw_entry({b"m": b"\x80\x04not json"})
    cluster.add_raw_entry({b"m": b"{truncated"})
    cluster.add_raw_entry({b"other": b"field"})

    # The scheduler goes on: a later execution runs (the queue is FIFO, so every message
    # above has been handled once it is done).
    after_exec = client.submit(basic.chain, n=10)
    assert after_exec.wait(timeout=60) == "squares=385"

    after = snapshot(cluster, execution)
    assert after == before
    assert execution.outputs() == "squares=30"
    assert cluster.client().board.execution(unknown) is None

    reasons = [d["reason"] for d in cluster.dead_letters()]
    assert f"report for unknown execution {unknown}" in reasons
    assert "unknown control message type 'launch'" in reasons
    assert reasons.count("not JSON") == 2
    assert "a stream entry without graft's message field" in reasons
    assert any("a control message is a JSON object" in r for r in reasons)
    assert cluster.scheduler.alive()


def test_duplicate_reports_while_running_change_nothing(cluster, wait_for):
    """Reports for a grafted dynamic (a second sub-graph, values) arrive while its children
    still run: neither grafts twice nor ends the dynamic early."""
    execution = cluster.client().submit(cluster_wf.nap_wf, n=4, delay=1.0)
    eid = execution.id

    def grafted():
        evs = [e for e in events(cluster, eid) if e[1] == "nap_fan"]
        return evs[0] if evs else None

    _seq, _node, attempt, outcome, body = wait_for(grafted, 30, "nap_fan's sub-graph")
    assert (attempt, outcome) == (1, "subgraph")
    state = {n.id: n.state for n in execution.nodes()}
    assert state["nap_fan"] == "RUNNING" and state["total"] == "PENDING"
    cluster.publish(report(eid, "nap_fan", 1, outcome="subgraph", subgraph=body["subgraph"]))
    cluster.publish(report(eid, "nap_fan", 1, outcome="values",
                           outputs={"o0": {"val": {"v": [5]}}}))
    cluster.publish(report(eid, "nap_fan", 1, outcome="error",
                           error={"kind": "DATA", "type": "X", "message": "late"}))

    assert execution.wait(timeout=60) == cluster_wf.nap_expected(4)
    nodes = {n.id: n for n in execution.nodes()}
    assert sorted(nodes) == ["nap_fan", "nap_fan/nap", *[f"nap_fan/nap-{i}" for i in (1, 2, 3)],
                             "total"]  # one sub-graph grafted, not two
    assert all(nodes[f"nap_fan/{c}"].parent == "nap_fan" for c in ("nap", "nap-1"))
    assert all(n.state == "SUCCEEDED" and n.attempts == 1 for n in nodes.values())
    evs = events(cluster, eid)
    assert sorted(e[1] for e in evs) == sorted(nodes)  # one accepted report per node
    assert execution.info()["total"] == 6


# ---- durability -------------------------------------------------------------------------

def test_submission_is_durable_while_the_scheduler_is_down(cluster):
    cluster.stop_scheduler()
    try:
        execution = cluster.client().submit(basic.with_subworkflow, n=3)
        assert execution.status() == "QUEUED"
        time.sleep(1.0)
        assert execution.status() == "QUEUED"
        assert cluster.query("SELECT count(*) FROM graft_executions WHERE id = :e",
                             e=execution.id) == [(0,)]
    finally:
        cluster.start_scheduler()
    assert execution.wait(timeout=60) == (14, 44, 3)


def kill_scheduler_between_batches(cluster, timeout_s: float = 10.0) -> None:
    """SIGKILL the scheduler at a moment it holds no unacknowledged control message: freeze
    it, look, and let it go on for a moment when it is inside a batch."""
    pid = cluster.scheduler.pid
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            os.kill(pid, signal.SIGSTOP)
            if control_messages_held(cluster) == 0:
                break
            assert time.monotonic() < deadline, "the scheduler was never between batches"
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.005)
    except BaseException:
        os.kill(pid, signal.SIGCONT)
        raise
    cluster.kill_scheduler()


def test_scheduler_killed_mid_fan_out_recovers(cluster, wait_for):
    n = 30
    execution = cluster.client().submit(cluster_wf.nap_wf, n=n, delay=0.2)
    info = wait_for(lambda: (lambda i: i if i.get("done", 0) >= 6 else None)(execution.info()),
                    60, "a few fan-out nodes to finish")
    assert info["status"] == "RUNNING" and info["total"] == n + 2
    kill_scheduler_between_batches(cluster)
    done_at_kill = info["done"]
    time.sleep(1.0)  # workers go on and report to the queue
    cluster.start_scheduler()
    assert execution.wait(timeout=90) == cluster_wf.nap_expected(n)
    nodes = execution.nodes()
    assert len(nodes) == n + 2
    assert all(x.state == "SUCCEEDED" for x in nodes)
    assert done_at_kill < n + 2
    # Replay accepted each node's report once, however often nodes were resent and run.
    evs = events(cluster, execution.id)
    assert sorted(e[1] for e in evs) == sorted(x.id for x in nodes)
    assert re.search(r"scheduler serving .* (\d+) queued attempts sent again",
                     cluster.scheduler_log())


def test_scheduler_killed_inside_a_batch_loses_nothing(cluster):
    """The loop acks a batch only after committing it, so a scheduler killed inside a batch
    must get the batch's messages again when it restarts. We catch it holding a submit it has
    not committed yet: freeze it, submit, and let it run in steps of 0.5 to 2 ms until it
    does."""
    client = cluster.client()
    pid = cluster.scheduler.pid
    caught = None
    try:
        for attempt in range(60):
            os.kill(pid, signal.SIGSTOP)
            execution = client.submit(basic.chain, n=5)
            deadline = time.monotonic() + 5
            step_s = (0.002, 0.001, 0.0005)[attempt % 3]  # a batch may take less than 2 ms
            while time.monotonic() < deadline:
                os.kill(pid, signal.SIGCONT)
                time.sleep(step_s)
                os.kill(pid, signal.SIGSTOP)
                committed = cluster.query("SELECT count(*) FROM graft_executions "
                                          "WHERE id = :e", e=execution.id) != [(0,)]
                if committed:
                    break
                if control_messages_held(cluster):
                    caught = execution
                    break
            if caught is not None:
                break
            os.kill(pid, signal.SIGCONT)
            execution.wait(timeout=30)
    except BaseException:
        os.kill(pid, signal.SIGCONT)
        raise
    assert caught is not None, "never caught the scheduler inside a batch"
    cluster.kill_scheduler()
    cluster.start_scheduler()
    assert caught.wait(timeout=25) == "squares=55"


def test_submit_meeting_a_locked_database_is_not_lost(cluster):
    """A transient database error (SQLite: locked by another writer; PostgreSQL: lock_timeout)
    must leave the message on the queue for another try, not drop it."""
    from sqlalchemy import create_engine, text

    blocker = create_engine(cluster.database_url)
    if cluster.backend == "postgresql":
        with blocker.connect() as c:
            c.execute(text(f'ALTER DATABASE "{cluster.pg_database}" SET lock_timeout = 300'))
            c.commit()
        cluster.stop_scheduler()  # its new connections get the setting
        cluster.start_scheduler()
    conn = blocker.connect()
    try:
        if cluster.backend == "postgresql":
            conn.execute(text("LOCK TABLE graft_executions IN ACCESS EXCLUSIVE MODE"))
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        execution = cluster.client().submit(basic.chain, n=6)
        time.sleep(1.5)  # the scheduler tries while the lock is held
    finally:
        conn.rollback()
        conn.close()
        if cluster.backend == "postgresql":
            with blocker.connect() as c:
                c.execute(text(f'ALTER DATABASE "{cluster.pg_database}" RESET lock_timeout'))
                c.commit()
        blocker.dispose()
    try:
        # The loop hands a failed batch back and tries again after 1 s.
        assert execution.wait(timeout=12) == "squares=91"
    finally:
        if cluster.backend == "postgresql":
            cluster.stop_scheduler()
            cluster.start_scheduler()
