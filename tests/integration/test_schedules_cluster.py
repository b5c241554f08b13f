"""A scheduled launch plan on a real cluster: `graft launchplan activate` starts it, the
scheduler is SIGKILLed and restarted meanwhile, then SIGKILLed again while a second scheduler
shares the work, and every tick has exactly one execution,
with the tick time as its input; the ticks missed while the scheduler was down are caught
up; `graft launchplan deactivate` stops it."""

from __future__ import annotations

import collections
import datetime
import json
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

FILE = str(Path(__file__).parents[1] / "workflows" / "scheduled.py")
PLAN = "it_every_2s"
RATE_S = 2


def _ticks(cluster) -> list[tuple[int, str]]:
    return cluster.query("SELECT tick_s, execution_id FROM graft_schedule_ticks "
                         "WHERE launch_plan = :lp ORDER BY tick_s", lp=PLAN)


def _plan(cluster) -> dict:
    out = cluster.run_cli("launchplan", "ls", "--json")
    assert out.returncode == 0, out.stderr
    return {r["name"]: r for r in json.loads(out.stdout)}.get(PLAN, {})


def test_a_fixed_rate_plan_fires_each_tick_once_across_a_scheduler_kill(cluster, wait_for):
    activated = cluster.run_cli("launchplan", "activate", FILE, PLAN)
    try:
        assert activated.returncode == 0, activated.stderr
        assert f"launch plan '{PLAN}' active: every 0:00:02" in activated.stdout
        plan = _plan(cluster)
        assert plan["active"] is True and plan["next_run_s"] > plan["anchor_s"]
        wait_for(lambda: len(_ticks(cluster)) >= 2, 30, "two ticks to fire")

        # SIGKILL the scheduler, leave it down over a few ticks, start another.
        cluster.kill_scheduler()
        down_at = time.time()
        time.sleep(3 * RATE_S + 1)
        cluster.start_scheduler()
        restarted_at = time.time()
        wait_for(lambda: _ticks(cluster)[-1][0] >= restarted_at + 2 * RATE_S, 30,
                 "ticks after the restart")

        # A second scheduler joins and serves half of the shards; SIGKILL the first: the
        # second adopts the rest, shard 0 with them if the first held it, and fires the ticks.
        second = cluster._spawn("scheduler", ["scheduler"], "scheduler serving")
        wait_for(second.is_ready, 30, "the second scheduler to serve")
        cluster.kill_scheduler()
        cluster.scheduler = second
        wait_for(lambda: cluster.query("SELECT count(DISTINCT owner) FROM graft_shards")
                 == [(1,)], 30, "the second scheduler to hold every shard")
        taken_over_at = time.time()
        wait_for(lambda: _ticks(cluster)[-1][0] >= taken_over_at + 2 * RATE_S, 30,
                 "ticks after the second scheduler took over")
        listed = cluster.run_cli("launchplan", "ls")
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.startswith("NAME") and PLAN in listed.stdout
    finally:
        stopped = cluster.run_cli("launchplan", "deactivate", PLAN)
    assert stopped.returncode == 0, stopped.stderr
    assert _plan(cluster)["active"] is False
    assert [p["active"] for p in cluster.client().launch_plans() if p["name"] == PLAN] == [False]
    stopped_at = time.time()

    # Deactivated: no tick after it.
    time.sleep(2 * RATE_S + 1)
    ticks = _ticks(cluster)
    assert ticks[-1][0] <= stopped_at
    times = [t for t, _ in ticks]
    [anchor] = [p["anchor_s"] for p in cluster.client().launch_plans() if p["name"] == PLAN]
    # Every tick from the first to the last, none missing (the ones while the scheduler was
    # down were caught up), none twice.
    assert times == list(range(anchor + RATE_S, times[-1] + 1, RATE_S))
    assert any(down_at < t < restarted_at for t in times), "no tick fell in the outage"

    # Exactly one execution per tick, each given its tick time, counted from the executions
    # themselves (not from the tick records).
    client = cluster.client()
    mine = [e for e in client.executions(limit=1000) if e["workflow"] == PLAN]
    outputs = [client.get(e["id"]).wait(timeout=120) for e in mine]
    kicked = collections.Counter(outputs)
    expected = {f"rate@{datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat()}"
                for t in times}
    assert set(kicked) == expected
    assert max(kicked.values()) == 1, [o for o, n in kicked.items() if n > 1]
    rows = cluster.query("SELECT count(*) FROM graft_executions WHERE workflow = :lp",
                         lp=PLAN)
    assert rows[0][0] == len(times)


def test_activate_refuses_what_is_not_a_scheduled_launch_plan(cluster):
    out = cluster.run_cli("launchplan", "activate", FILE, "stamped")
    assert out.returncode != 0
    assert "not a launch plan" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = cluster.run_cli("launchplan", "deactivate", "no_such_plan")
    assert out.returncode != 0 and "no launch plan 'no_such_plan'" in out.stderr


@pytest.mark.parametrize("args", [["ls"], ["ls", "--json"], ["deactivate", PLAN],
                                  ["activate", FILE, PLAN]])
def test_launchplan_commands_without_redis_say_so_in_one_line(args, tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAFT_")}
    env.update(GRAFT_BROKER_URL="redis://127.0.0.1:1/0", GRAFT_STORE=str(tmp_path / "store"),
               GRAFT_HOME=str(tmp_path / "home"), GRAFT_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-m", "sdk.cli", "launchplan", *args], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    assert len(out.stderr.splitlines()) == 1 and "no Redis answers" in out.stderr
