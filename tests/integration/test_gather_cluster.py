"""Large output lists on a real cluster (scheduler/gathering.py): the scheduler, told to
gather lists of more than `GATHER_ABOVE` items (`GRAFT_GATHER_ABOVE`), writes a fan-out's and
a map's outputs to the store as one value each. What reads them gets the lists the
in-process run gets (a task, a map, a nested dynamic, a Promise path, a conditional, the
client, `graft status` and `graft outputs`), while the rows, the events and the board hold a
reference whose size does not depend on the list's. A scheduler SIGKILLed while it gathers
is followed by one that gathers the list again and ends the execution."""

from __future__ import annotations

import json
import signal
import time

import pytest
from workflows import gathered

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

GATHER_ABOVE = 100


@pytest.fixture(scope="module")
def gathering_session(cluster_session):
    """The session's cluster, its scheduler restarted to gather lists of more than
    `GATHER_ABOVE` items; restarted as it was after this module."""
    cluster_session.stop_scheduler()
    cluster_session.env["GRAFT_GATHER_ABOVE"] = str(GATHER_ABOVE)
    cluster_session.start_scheduler()
    yield cluster_session
    cluster_session.stop_scheduler()
    del cluster_session.env["GRAFT_GATHER_ABOVE"]
    cluster_session.start_scheduler()


@pytest.fixture
def cluster(gathering_session, cluster):
    return cluster


def cli_json(cluster, *args: str):
    proc = cluster.run_cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def held_bytes(cluster, client, eid: str, nodes: list[str]) -> dict[str, int]:
    """Bytes of what the state and the board hold for execution `eid` and its `nodes`: its
    row's outputs, those nodes' rows' and board records' outputs, its board record, and its
    largest event."""
    [(outputs,)] = cluster.query("SELECT outputs FROM graft_executions WHERE id = :e", e=eid)
    rows = dict(cluster.query("SELECT node_id, outputs FROM graft_nodes WHERE execution_id = :e",
                              e=eid))
    [(event,)] = cluster.query("SELECT max(length(body)) FROM graft_events "
                               "WHERE execution_id = :e", e=eid)
    board = client.board.redis.hgetall(client.board.names.execution(eid))
    records = client.board.nodes(eid)
    sizes = {"execution row": len(outputs), "event": event,
             "board": sum(len(v) for v in board.values())}
    for node in nodes:
        sizes[f"{node} row"] = len(rows[node])
        sizes[f"{node} board"] = len(json.dumps(records[node]["outputs"]))
    return sizes


def test_large_lists_are_stored_once_and_read_as_the_in_process_run_reads_them(cluster):
    client = cluster.client()
    small = client.submit(gathered.fan_and_read, n=GATHER_ABOVE + 20)
    large = client.submit(gathered.fan_and_read, n=15 * GATHER_ABOVE)
    assert large.wait(timeout=400) == gathered.fan_and_read(n=15 * GATHER_ABOVE)
    assert small.wait(timeout=60) == gathered.fan_and_read(n=GATHER_ABOVE + 20)

    status = cli_json(cluster, "status", large.id)
    nodes = {n["id"]: n for n in status["nodes"]}
    fan = next(nid for nid, n in nodes.items() if n["task"].endswith("squares"))
    mapped = next(nid for nid, n in nodes.items() if n["kind"] == "map")
    assert status["status"] == "SUCCEEDED"
    assert (nodes[fan]["state"], nodes[mapped]["state"]) == ("SUCCEEDED", "SUCCEEDED")
    records = client.board.nodes(large.id)
    for nid in (fan, mapped):  # a reference to one stored value, as any large value
        [binding] = records[nid]["outputs"].values()
        assert list(binding) == ["val"] and list(binding["val"]) == ["u"]
    shown = cli_json(cluster, "outputs", large.id, fan)
    assert shown["outputs"] == {"o0": [i * i for i in range(15 * GATHER_ABOVE)]}
    assert large.node_outputs(mapped) == {"o0": [i ** 4 for i in range(15 * GATHER_ABOVE)]}

    # The same bytes for a list of 120 items and one of 1,500, but for counts and times.
    sizes_small = held_bytes(cluster, client, small.id, [fan, mapped])
    sizes_large = held_bytes(cluster, client, large.id, [fan, mapped])
    assert all(abs(sizes_large[k] - sizes_small[k]) <= 40 for k in sizes_small), \
        (sizes_small, sizes_large)
    assert max(sizes_large.values()) < 2000, sizes_large


def test_a_short_list_is_inline_as_before(cluster):
    client = cluster.client()
    done = client.submit(gathered.fan_and_total, n=GATHER_ABOVE)
    assert done.wait(timeout=120) == gathered.fan_and_total(n=GATHER_ABOVE)
    [(outputs,)] = cluster.query("SELECT outputs FROM graft_executions WHERE id = :e",
                                 e=done.id)
    assert len(json.loads(outputs)["o0"]["list"]) == GATHER_ABOVE


def gathering_now(cluster, eid: str) -> bool:
    """Whether the event that began the gather of execution `eid` is committed."""
    found = cluster.query("SELECT count(*) FROM graft_events WHERE execution_id = :e "
                          "AND body LIKE '%\"gathers\"%'", e=eid)
    return found[0][0] > 0


# One backend is enough to kill the scheduler (SQLite's is the quicker).
@pytest.mark.parametrize("cluster_session", ["sqlite"], indirect=True)
def test_a_scheduler_killed_while_it_gathers_is_followed_by_one_that_ends_the_execution(
        cluster):
    n = 40 * GATHER_ABOVE
    client = cluster.client()
    for _ in range(3):  # the gather may end before it is caught: then another try
        execution = client.submit(gathered.fan_and_total, n=n)
        deadline = time.monotonic() + 300
        while not gathering_now(cluster, execution.id):
            assert time.monotonic() < deadline, "the gather never began"
            time.sleep(0.01)
        cluster.scheduler.signal_group(signal.SIGSTOP)  # frozen where it is
        states = dict(cluster.query(
            "SELECT node_id, state FROM graft_nodes WHERE execution_id = :e AND node_id "
            "NOT LIKE '%/%'", e=execution.id))
        caught = not cluster.query("SELECT 1 FROM graft_events WHERE execution_id = :e AND "
                                   "outcome = 'gathered'", e=execution.id)
        cluster.kill_scheduler()
        cluster.start_scheduler()
        assert execution.wait(timeout=300) == gathered.fan_and_total(n=n)
        if caught:
            assert "RUNNING" in states.values()  # the fan-out, its list not yet gathered
            break
    else:
        pytest.fail("the scheduler finished gathering before it could be stopped, 3 times")
    [(gathers,)] = cluster.query("SELECT count(*) FROM graft_events WHERE execution_id = :e "
                                 "AND outcome = 'gathered'", e=execution.id)
    assert gathers == 1
