"""Fault tests: real `graft` processes SIGKILLed by pid, a real redis-server stopped, emptied
and fed garbage. Each asserts the right outputs, that nothing was lost, and a time bound.

Every test gets its own cluster on its own throwaway redis-server, so stopping or emptying
Redis touches no other test.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import BACKENDS, Cluster
from conftest import _wait_for as _wait
from workflows import faults

from sdk.model.spec import GraphSpec, node_to_json
from sdk.wire.control import control_keys
from sdk.wire.keys import GROUP

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# ---- a worker dies ----------------------------------------------------------------------

def test_a_sigkilled_workers_node_runs_again_within_30_s(make_cluster, tmp_path):
    cluster = make_cluster()
    cluster.start_worker("256Mi", concurrency=1)  # a second 256Mi worker to take the node over
    marks = tmp_path / "marks.txt"
    execution = cluster.client().submit(faults.marked, path=str(marks), seconds=3.0)
    first = _wait(lambda: _lines(marks), 30, "the node to start")[0]
    worker = int(first.split()[2])
    [holder] = [w for w in cluster.workers if w.pid == worker]
    holder.kill()  # SIGKILL the whole process group of that worker: it reports nothing
    killed_at = time.monotonic()
    _wait(lambda: len(_lines(marks)) >= 2, 30, "the node to run again on another worker")
    rerun_after_s = time.monotonic() - killed_at
    assert execution.wait(timeout=30) == 2
    assert rerun_after_s < 30
    [node] = execution.nodes()
    assert node.state == "SUCCEEDED" and node.attempts == 2
    assert node.history[0]["kind"] == "SYSTEM" and node.history[0]["type"] == "WorkerLost"
    assert node.history[1]["outcome"] == "values"
    cluster.workers.remove(holder)
    assert all(w.alive() for w in cluster.workers)  # the node may have started on the spare


def test_a_process_running_a_task_killed_mid_task_is_reported_at_once(make_cluster, tmp_path):
    """A kill (an operator's, the kernel's OOM killer's) hits the process running the task,
    not its worker: the pool process watching it sees it die and reports the attempt lost
    without waiting for its lease, naming the signal (the kernel counted no OOM kill)."""
    cluster = make_cluster()
    marks = tmp_path / "marks.txt"
    execution = cluster.client().submit(faults.marked, path=str(marks), seconds=3.0)
    first = _wait(lambda: _lines(marks), 30, "the node to start")[0]
    child = int(first.split()[0])
    os.kill(child, signal.SIGKILL)
    killed_at = time.monotonic()
    _wait(lambda: len(_lines(marks)) >= 2, 20, "the node to run again")
    assert time.monotonic() - killed_at < 8  # the parent notices in seconds, not a lease TTL
    assert execution.wait(timeout=30) == 2
    [node] = execution.nodes()
    assert [h.get("kind") for h in node.history] == ["SYSTEM", None]
    assert node.history[0]["type"] == "WorkerLost"
    assert "Killed by SIGKILL; not by graft's memory watch" in node.history[0]["message"]
    assert all(w.alive() for w in cluster.workers)


# ---- the scheduler dies -----------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_a_scheduler_killed_again_and_again_loses_nothing(make_cluster, backend):
    cluster = make_cluster(backend)
    client = cluster.client()
    fan = client.submit(faults.fan_out, n=200, delay=0.01)
    chains = []
    started = time.monotonic()
    rng = random.Random(7)
    for _ in range(5):
        chains += [client.submit(faults.chain3, x=i, delay=0.0) for i in range(4)]
        time.sleep(rng.uniform(0.3, 1.2))
        cluster.kill_scheduler()
        cluster.start_scheduler()
    assert fan.wait(timeout=120) == 200 * 201 // 2
    assert [c.wait(timeout=60) for c in chains] == [i + 3 for i in range(4)] * 5
    assert time.monotonic() - started < 150
    # every node's report was accepted exactly once, however often the scheduler died
    events = cluster.query("SELECT node_id, count(*) FROM graft_events WHERE execution_id = :e "
                           "GROUP BY node_id", e=fan.id)
    assert len(events) == 202 and all(count == 1 for _, count in events)
    assert sum(cluster.redis().xpending(key, GROUP)["pending"]
               for key in control_keys(cluster.settings)) == 0


def test_a_board_left_running_by_a_killed_scheduler_is_rewritten_on_restart(cluster):
    """A scheduler killed between committing an execution's end and writing its board
    record leaves the board saying RUNNING: the next one to serve rewrites it."""
    client = cluster.client()
    done = client.submit(faults.chain3, x=1, delay=0.0)
    assert done.wait(timeout=30) == 4
    cluster.kill_scheduler()
    client.board.write(done.id, {"status": "RUNNING", "done": 2})  # the write it never made
    assert client.get(done.id).status() == "RUNNING"
    cluster.start_scheduler()
    assert client.get(done.id).wait(timeout=20) == 4
    assert client.get(done.id).info()["done"] == 3


def test_a_standby_scheduler_takes_over_within_10_s(make_cluster, tmp_path):
    cluster = make_cluster()
    standby = cluster._spawn("standby", ["scheduler"], "scheduler serving")
    try:
        _wait(lambda: "standing by" in standby.log.read_text(errors="replace"), 20,
              "the second scheduler to stand by")
        marks = tmp_path / "marks.txt"
        execution = cluster.client().submit(faults.marked, path=str(marks), seconds=1.0)
        _wait(lambda: _lines(marks), 30, "the node to start")
        cluster.scheduler.kill()  # SIGKILL; the standby cannot prove it dead: it waits its TTL
        killed_at = time.monotonic()
        _wait(standby.is_ready, 15, "the standby to serve")
        assert time.monotonic() - killed_at < 10
        assert execution.wait(timeout=30) == 1
        assert cluster.client().submit(faults.chain3, x=1, delay=0.0).wait(timeout=30) == 4
    finally:
        standby.stop()


# ---- Redis goes away --------------------------------------------------------------------

def _outage_lines(cluster: Cluster) -> dict[str, tuple[int, int, int]]:
    """Per process log: how many 'broker lost', 'broker is back' and traceback lines."""
    out = {}
    for log in sorted(cluster.logs.glob("*.log")):
        text = log.read_text(errors="replace")
        out[log.name] = (text.count("broker lost"), text.count("broker is back"),
                         text.count("Traceback"))
    return out


def test_everything_stays_up_through_a_60_s_redis_outage(make_cluster, private_redis):
    server = private_redis(persistent=True)
    cluster = make_cluster(redis=server)
    client = cluster.client()
    execution = client.submit(faults.fan_out, n=12, delay=2.0)
    _wait(lambda: execution.info().get("total", 0) > 2, 30, "the fan-out to be grafted")
    result: dict[str, Any] = {}
    waiter = threading.Thread(target=lambda: result.update(out=execution.wait(timeout=200)),
                              daemon=True)
    waiter.start()
    time.sleep(0.5)
    server.stop()
    time.sleep(60)
    assert cluster.scheduler.alive() and all(w.alive() for w in cluster.workers)
    server.start()  # the same port, the same data
    back_at = time.monotonic()
    waiter.join(timeout=120)
    assert result.get("out") == 12 * 13 // 2
    assert time.monotonic() - back_at < 90
    assert cluster.scheduler.alive() and all(w.alive() for w in cluster.workers)
    lines = _outage_lines(cluster)
    scheduler_log = [name for name in lines if name.endswith("scheduler.log")][-1]
    lost, back, tracebacks = lines[scheduler_log]
    assert lost == 1 and back == 1 and tracebacks == 0, lines
    # Leases could not be renewed while Redis was away: that is no worker's death.
    assert "stopped renewing its lease" not in cluster.scheduler_log()


def test_an_emptied_redis_loses_no_execution_and_no_result(make_cluster, private_redis):
    server = private_redis()
    cluster = make_cluster(redis=server)
    client = cluster.client()
    finished = client.submit(faults.chain3, x=10, delay=0.0)
    assert finished.wait(timeout=30) == 13
    running = client.submit(faults.fan_out, n=8, delay=3.0)
    _wait(lambda: running.info().get("total", 0) > 2, 30, "the fan-out to be grafted")
    cluster.stop_scheduler()
    queued = client.submit(faults.chain3, x=20, delay=0.0)  # only in the stream and the store
    cluster.start_scheduler()
    server.restart_empty()
    wiped_at = time.monotonic()
    assert running.wait(timeout=120) == 8 * 9 // 2
    assert queued.wait(timeout=60) == 23
    assert time.monotonic() - wiped_at < 90
    # the board of a finished execution is rewritten from the database on demand
    again = cluster.client().get(finished.id)
    assert again.outputs() == 13 and again.status() == "SUCCEEDED"
    assert "Redis came back empty" in cluster.scheduler_log()


# ---- garbage and forgeries --------------------------------------------------------------

GARBAGE = [b"\x00\xff\xfe not json", b"[1, 2, 3]", b'{"foo": 1}', b'{"body": "abc",'
           b' "properties": {"delivery_tag": "x", "body_encoding": "base64"}, "headers": {}}']


def _celery_envelope(task: str, args: Any, **headers: Any) -> bytes:
    import base64
    import uuid

    body = base64.b64encode(json.dumps([args, {}, {}]).encode()).decode()
    tid = str(uuid.uuid4())
    return json.dumps({
        "body": body, "content-encoding": "utf-8", "content-type": "application/json",
        "headers": {"lang": "py", "task": task, "id": tid, "root_id": tid, "retries": 0,
                    "timelimit": [None, None], "argsrepr": "", "kwargsrepr": "", **headers},
        "properties": {"correlation_id": tid, "delivery_mode": 2, "priority": 0,
                       "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
                       "delivery_info": {"exchange": "", "routing_key": "mem-256Mi"}},
    }).encode()


def test_garbage_and_forged_messages_on_every_queue_are_refused(make_cluster, tmp_path):
    cluster = make_cluster()
    client = cluster.client()
    good = client.submit(faults.chain3, x=1, delay=0.0)
    assert good.wait(timeout=30) == 4
    pwned = tmp_path / "pwned"
    bundle = json.loads(cluster.redis().hget(f"{cluster.key_prefix}:ex:{good.id}", "spec"))
    spec = GraphSpec.loads((Path(cluster.store_url) / bundle).read_bytes())
    node = node_to_json(spec.nodes[0])  # the self-contained form a task message carries
    forged_spec = {**node, "interface": {"inputs": {"x": {
        "t": "dataclass", "ref": "os:system", "fields": {"command": {"t": "str"}}}},
        "outputs": node["interface"]["outputs"]}}
    forged_task = ["e" + "0" * 19, "bump", 1, {"spec": forged_spec, "token": "t" * 16,
                   "inputs": {"x": {"val": {"v": {"command": f"touch {pwned}"}}},
                              "delay": {"val": {"v": 0.0}}}}]
    for raw in GARBAGE:
        cluster.push_raw("mem-256Mi", raw)
        cluster.add_raw_entry({b"m": raw})
    cluster.push_raw("mem-256Mi", _celery_envelope("no.such.task", []))
    cluster.push_raw("mem-256Mi", _celery_envelope("graft.run_node", ["only", "two"]))
    cluster.push_raw("mem-256Mi", _celery_envelope("graft.run_node", forged_task))
    cluster.publish({"type": "report", "execution": good.id, "node": "bump", "attempt": 1,
                     "token": "f" * 16, "outcome": "values", "outputs": {"o0": {"val": {"v": 9}}}})
    cluster.publish({"type": "report", "execution": "nobody", "node": "n", "attempt": 1,
                     "token": "t", "outcome": "values", "outputs": {}})
    # every process goes on, and other executions run
    after = client.submit(faults.fan_out, n=4, delay=0.0)
    assert after.wait(timeout=60) == 10
    forged_eid = forged_task[0]
    dead = _wait(lambda: (lambda d: d if any(forged_eid in x["reason"] for x in d) else None)(
        cluster.dead_letters()), 20, "the forged task's report to be refused")
    assert cluster.scheduler.alive() and all(w.alive() for w in cluster.workers)
    assert not pwned.exists()
    on_tier = [d["reason"] for d in dead if d["queue"] == "mem-256Mi"]
    on_control = [d["reason"] for d in dead if d["queue"] == "control stream"]
    assert len(on_tier) == 6, on_tier  # 4 kinds of garbage, an unknown task, a bad envelope
    assert sum("not JSON" in r for r in on_tier) == 1
    assert "unknown task name 'no.such.task' (graft workers run only graft.run_node)" in on_tier
    assert any("has 4 arguments" in r for r in on_tier)
    assert len(on_control) == 6, on_control  # 4 kinds of garbage, 2 reports nobody waits for
    assert f"report for unknown execution {forged_eid}" in on_control
    assert "report for unknown execution nobody" in on_control
    # the forged task ran nothing: its interface is not the code's, refused as DATA
    [refused] = [d for d in dead if forged_eid in d["reason"]]
    assert json.loads(refused["body"])["error"]["type"] == "CodeMismatch"
    assert good.outputs() == 4  # the forged report for the finished node changed nothing
    listed = cluster.run_cli("dead", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout)["total"] == len(dead)
    refused = cluster.run_cli("dead", "--purge")  # no terminal to ask on
    assert refused.returncode == 2 and "add --yes to confirm" in refused.stderr
    before = cluster.dead_letters()
    assert len(before) == len(dead) > 2
    purged = cluster.run_cli("dead", "--purge", "--limit", "2", "--yes")  # the two listed
    assert purged.returncode == 0 and "purged 2 dead letter(s)" in purged.stderr
    assert cluster.dead_letters() == before[2:]
    purged = cluster.run_cli("dead", "--purge", "--yes")
    assert purged.returncode == 0 and cluster.dead_letters() == []


def test_with_a_secret_only_signed_messages_are_obeyed(make_cluster, tmp_path):
    cluster = make_cluster(env={"GRAFT_SECRET": "a-long-shared-secret"})
    client = cluster.client()
    execution = client.submit(faults.chain3, x=5, delay=0.0)
    assert execution.wait(timeout=30) == 8
    unsigned = dict(cluster.settings.__dict__)
    unsigned["secret"] = None
    from sdk.model.config import Settings
    from sdk.wire.control import ControlChannel

    ControlChannel(cluster.redis(), Settings(**unsigned)).publish(
        {"type": "refresh", "execution": execution.id})
    cluster.push_raw("mem-256Mi", _celery_envelope("graft.run_node", [
        execution.id, "bump", 1, {"spec": {}, "token": "t", "inputs": {}}]))
    assert client.submit(faults.chain3, x=6, delay=0.0).wait(timeout=30) == 9
    reasons = [d["reason"] for d in cluster.dead_letters()]
    assert any("not signed" in r for r in reasons), reasons
    assert sum("not signed" in r for r in reasons) == 2


def test_a_celery_shutdown_broadcast_does_not_stop_workers(make_cluster):
    cluster = make_cluster()
    from sdk.wire.celery_app import make_app

    app = make_app(cluster.settings)
    assert app.control.inspect(timeout=2).ping()  # read-only commands still answer
    app.control.shutdown()
    time.sleep(2)
    assert all(w.alive() for w in cluster.workers)
    assert cluster.client().submit(faults.chain3, x=0, delay=0.0).wait(timeout=30) == 3


def test_a_redis_password_url_works(make_cluster, private_redis):
    cluster = make_cluster(redis=private_redis(password="p@ss:word/1"))
    assert cluster.client().submit(faults.fan_out, n=3, delay=0.0).wait(timeout=30) == 6


# ---- start-up errors --------------------------------------------------------------------

def _graft(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, float]:
    import subprocess
    import sys

    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "sdk.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stderr + done.stdout, time.monotonic() - started


def _clean_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAFT_")}
    env.update(settings)
    return env


@pytest.mark.parametrize("database_url, cause", [
    ("postgresql+psycopg://nobody:secret@127.0.0.1:1/x", "does not answer"),
    ("not a url", "is not a usable database URL"),
    ("mysql+nosuchdriver://u:secret@h/db", "is not a usable database URL"),
])
def test_a_bad_database_url_is_one_line(private_redis, tmp_path, database_url, cause):
    redis = private_redis()
    env = _clean_env(GRAFT_BROKER_URL=redis.url, GRAFT_DATABASE_URL=database_url,
                     GRAFT_HOME=str(tmp_path))
    code, out, took = _graft(["scheduler"], env, tmp_path)
    assert code != 0 and took < 20
    assert cause in out and "Traceback" not in out and "secret" not in out, out
    assert len([line for line in out.splitlines() if line.startswith("graft:")]) == 1


def test_bad_redis_credentials_or_no_redis_are_one_line(private_redis, tmp_path):
    redis = private_redis(password="right")
    wrong = redis.url.replace(":right@", ":wrong@")
    closed = "redis://127.0.0.1:1/0"
    for url, cause in ((wrong, "refused the credentials"), (closed, "no Redis answers")):
        env = _clean_env(GRAFT_BROKER_URL=url, GRAFT_HOME=str(tmp_path))
        for args in (["scheduler"], ["worker", "--tier", "256Mi"],
                     ["run", "--remote", str(Path(faults.__file__)), "chain3", "--x", "1",
                      "--delay", "0"]):
            code, out, took = _graft(args, env, tmp_path)
            assert code != 0 and took < 20, (args, out)
            assert cause in out and "Traceback" not in out and "wrong" not in out, (args, out)
    code, out, _ = _graft(["--debug", "scheduler"], _clean_env(GRAFT_BROKER_URL=closed,
                                                                GRAFT_HOME=str(tmp_path)),
                          tmp_path)
    assert code != 0 and "Traceback" in out
