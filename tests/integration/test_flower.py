"""`graft flower` against a real stack: user task names, execution ids in the arguments,
FAILURE and RETRY with the user's exception, queued nodes named via task-sent events, every
tier's queue listed, and an API closed without credentials."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

import pytest
from servers import free_port
from workflows.basic import chain
from workflows.failing import failing_wf, flaky_wf
from workflows.monitored import waits_for_big_tier

from sdk import ExecutionFailed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

AUTH = "watcher:s3cret-pass"


def api(port: int, path: str, auth: str | None = AUTH) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def tasks(port: int) -> list[dict]:
    status, body = api(port, "/api/tasks?limit=1000")
    assert status == 200, body
    return list(json.loads(body).values())


@pytest.fixture(params=["sent-events", "no-sent-events"])
def stack(request, make_cluster):
    """A cluster whose scheduler sends task-sent events (through `send_task`) or, as by
    default, does not (its batches go out as one pipeline), and `graft flower` on it (basic
    auth on the command line); yields (cluster, Flower's port, whether events are sent)."""
    sent_events = request.param == "sent-events"
    cluster = make_cluster(env={"GRAFT_TASK_SENT_EVENTS": "1" if sent_events else "0"})
    port = free_port()
    flower = cluster._spawn("flower", ["flower", "--port", str(port), "--basic-auth", AUTH],
                            "Visit me at")
    cluster.workers.append(flower)  # stopped with the cluster
    from conftest import wait_ready

    wait_ready([flower])
    yield cluster, port, sent_events


def test_flower_names_nodes_shows_failures_retries_and_queued_nodes(stack, wait_for, tmp_path):
    cluster, port, sent_events = stack
    assert api(port, "/api/tasks", auth=None)[0] == 401
    assert api(port, "/api/tasks", auth="watcher:wrong")[0] == 401

    # Flower sees only the events published while it runs: wait until it sees the workers.
    wait_for(lambda: len(json.loads(api(port, "/api/workers?refresh=1")[1] or b"{}")) >= 2,
             90, "Flower to see both workers")
    client = cluster.client()
    ok = client.submit(chain, n=3)
    failed = client.submit(failing_wf, x=1)
    retried = client.submit(flaky_wf, counter_dir=str(tmp_path / "flaky"), fail_times=1)
    queued = client.submit(waits_for_big_tier, x=7)
    ok.wait(timeout=120)
    retried.wait(timeout=120)
    with pytest.raises(ExecutionFailed):
        failed.wait(timeout=120)

    def of(execution_id: str) -> list[dict]:
        return [t for t in tasks(port) if f"execution={execution_id} " in (t.get("args") or "")]

    def settled(execution_id: str, n: int) -> list[dict] | None:
        seen = of(execution_id)
        return seen if len(seen) >= n and all(
            t["state"] in ("SUCCESS", "FAILURE", "RETRY") for t in seen) else None

    # chain: make_numbers, square_all, summarize, describe; each under its own name.
    shown = wait_for(lambda: settled(ok.id, 4), 60, "the chain's four nodes in Flower")
    names = {t["name"] for t in shown}
    assert {"workflows.basic.make_numbers", "workflows.basic.square_all",
            "workflows.basic.summarize", "workflows.basic.describe"} <= names, names
    assert all(t["state"] == "SUCCESS" for t in shown)
    first = next(t for t in shown if t["name"] == "workflows.basic.make_numbers")
    assert "node=make_numbers attempt=1 inputs={n: 3}" in first["args"], first["args"]
    assert "token" not in first["args"] and "sig" not in first["args"]
    status, body = api(port, f"/api/tasks?search=args:{ok.id}&limit=1000")
    assert status == 200 and {t["name"] for t in json.loads(body).values()} == names

    # failing_wf: add succeeds, explode raises ValueError and fails for good.
    shown = wait_for(lambda: settled(failed.id, 2), 60, "failing_wf's nodes in Flower")
    explode = [t for t in shown if t["name"] == "workflows.failing.explode"]
    assert len(explode) == 1, shown
    assert explode[0]["state"] == "FAILURE", explode[0]
    assert explode[0]["exception"] == "ValueError('cannot handle x=2')", explode[0]
    assert "raise ValueError" in (explode[0]["traceback"] or ""), explode[0]["traceback"]
    status, body = api(port, "/api/tasks?state=FAILURE&limit=1000")
    assert status == 200 and explode[0]["uuid"] in json.loads(body)

    # flaky_wf: flaky's first attempt raises and is retried (RETRY), its second succeeds.
    shown = wait_for(lambda: settled(retried.id, 3), 60, "flaky_wf's attempts in Flower")
    flaky = sorted((t for t in shown if t["name"] == "workflows.failing.flaky"),
                   key=lambda t: t["args"])
    assert [t["state"] for t in flaky] == ["RETRY", "SUCCESS"], flaky
    assert "attempt=1" in flaky[0]["args"] and "attempt=2" in flaky[1]["args"]
    assert "RuntimeError('flaky failure 1')" in flaky[0]["exception"], flaky[0]

    # A node of a tier no worker serves stays queued; its task-sent event names it, and
    # without sent events Flower does not know it yet.
    if sent_events:
        shown = wait_for(lambda: of(queued.id), 60, "the queued node in Flower")
        assert [(t["name"], t["state"]) for t in shown] == [
            ("workflows.monitored.needs_big_tier", "PENDING")], shown
        assert "inputs={x: 7}" in shown[0]["args"]
    else:
        assert of(queued.id) == []

    # Every tier's queue is listed, with or without a worker; mem-4Gi holds the queued node.
    status, body = api(port, "/api/queues/length")
    assert status == 200, body
    lengths = {q["name"]: q["messages"] for q in json.loads(body)["active_queues"]}
    assert {"mem-256Mi", "mem-1Gi", "mem-4Gi", "mem-16Gi"} <= set(lengths), lengths
    assert lengths["mem-4Gi"] == 1
    queued.cancel()
