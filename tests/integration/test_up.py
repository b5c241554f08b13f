"""`graft up` and `graft run --remote --up`: the local stack as a newcomer starts it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import redis
from servers import free_port

REDIS_DB = 11  # this file's own database: no other test uses it

WORKFLOW = """
import typing
from sdk import dynamic, task, workflow

@task
def double(x: int) -> int:
    return 2 * x

@dynamic
def doubles(n: int) -> typing.List[int]:
    return [double(x=i) for i in range(n)]

@workflow
def wf(n: int) -> typing.List[int]:
    return doubles(n=n)
"""


@pytest.fixture
def stack_env(tmp_path, redis_server):
    url = f"{redis_server.url}/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(GRAFT_BROKER_URL=url, GRAFT_TIERS="256Mi,1Gi",
               GRAFT_HOME=str(tmp_path / "home"), GRAFT_STORE=str(tmp_path / "store"),
               GRAFT_CACHE_DIR=str(tmp_path / "cache"))
    folder = tmp_path / f"flow_{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "flow.py").write_text(textwrap.dedent(WORKFLOW))
    yield env, folder / "flow.py"
    redis.Redis.from_url(url).flushdb()


def _graft(*args: str, env: dict, cwd, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sdk.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[2] != "Z"


def _processes_with(entry: str) -> list[int]:
    """Live processes whose environment holds `entry` (e.g. this test's GRAFT_HOME)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/environ", "rb") as fh:
                    if entry.encode() in fh.read().split(b"\0") and _alive(int(name)):
                        found.append(int(name))
            except OSError:
                continue
    return found


@pytest.mark.timeout(180)
def test_up_serves_runs_and_stops_everything_on_ctrl_c(stack_env, tmp_path):
    env, flow = stack_env
    ui_port, flower_port = free_port(), free_port()
    env = {**env, "GRAFT_UI_PORT": str(ui_port)}  # `up` serves the page there, `run` says so
    log = open(tmp_path / "up.log", "w")  # noqa: SIM115
    up = subprocess.Popen([sys.executable, "-m", "sdk.cli", "up", "--flower", str(flower_port)],
                          env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)
    try:
        done = _graft("run", "--remote", "--wait", str(flow), "wf", "--n", "4", env=env,
                      cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        execution_id, outputs = done.stdout.strip().splitlines()
        assert outputs == "[0, 2, 4, 6]"
        page = f"http://127.0.0.1:{ui_port}/executions/{execution_id}"
        assert f"graph page: {page}" in done.stderr
        assert f"graft status {execution_id}" in done.stderr
        assert f"graft logs {execution_id} --follow" in done.stderr
        with urllib.request.urlopen(page, timeout=10) as answer:  # served by `up`
            assert answer.status == 200
        api = f"http://127.0.0.1:{ui_port}/api/executions/{execution_id}"
        with urllib.request.urlopen(api, timeout=10) as answer:
            assert json.loads(answer.read())["status"] == "SUCCEEDED"
        with urllib.request.urlopen(f"http://127.0.0.1:{flower_port}/healthcheck",
                                    timeout=10) as answer:
            assert answer.status == 200
        assert "[SUCCEEDED] 5/5 nodes done" in done.stderr
        assert "0/0" not in done.stderr  # before the scheduler has it, no count is shown
        local = _graft("run", str(flow), "wf", "--n", "4", env=env, cwd=tmp_path)
        assert local.stdout.strip() == outputs
        status = _graft("status", execution_id, env=env, cwd=tmp_path)
        assert "SUCCEEDED" in status.stdout and "doubles/double-3" in status.stdout

        children = _children(up.pid)
        assert len(children) == 5  # the scheduler, one worker per tier, the page, Flower
        assert len(_processes_with(f"GRAFT_HOME={env['GRAFT_HOME']}")) > 3  # + prefork pools
        os.killpg(up.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert up.wait(timeout=60) == 0
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in children if _alive(p)]
        assert _processes_with(f"GRAFT_HOME={env['GRAFT_HOME']}") == []
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        log.close()
    text = (tmp_path / "up.log").read_text()
    assert "worker mem-256Mi: concurrency" in text and "worker mem-1Gi: concurrency" in text


@pytest.mark.timeout(180)
def test_run_with_up_starts_and_stops_its_own_stack(stack_env, tmp_path):
    env, flow = stack_env
    done = _graft("run", "--remote", "--up", str(flow), "wf", "--n", "3", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[0, 2, 4]"
    started = next(line for line in done.stderr.splitlines() if "local stack started" in line)
    assert "mem-256Mi x" in started and "mem-1Gi" not in started  # only the tier it uses
    assert _processes_with(f"GRAFT_HOME={env['GRAFT_HOME']}") == []
    # The scheduler stopped cleanly and gave its shard leases back.
    with sqlite3.connect(Path(env["GRAFT_HOME"]) / "graft.db") as db:
        assert db.execute("SELECT count(*) FROM graft_shards").fetchone() == (16,)
        assert db.execute("SELECT count(*) FROM graft_shards WHERE owner IS NOT NULL"
                          ).fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM graft_schedulers").fetchone() == (0,)
