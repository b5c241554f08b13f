"""Outages in the logs: one line when a server is lost, one when it is back, and nothing else
(no traceback, no line per retry, no "back" before it is).

Real processes on private servers: a scheduler whose PostgreSQL restarts mid-run, and workers
through a Redis outage.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import _wait_for as _wait
from workflows import faults

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

PASSWORD = "s3cret-pw"


class WithPassword:
    """A PostgresServer whose database URLs carry a password (its trust authentication
    ignores it): the logs must never show it."""

    def __init__(self, server: Any):
        self.server = server

    def url_for(self, database: str) -> str:
        return self.server.url_for(database).replace("//postgres@",
                                                     f"//postgres:{PASSWORD}@")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


def _count(text: str, *words: str) -> list[int]:
    return [text.count(w) for w in words]


def test_a_postgres_restart_is_one_line_lost_and_one_back_in_the_schedulers_log(
        make_cluster, private_postgres):
    pg = private_postgres()
    cluster = make_cluster("postgresql", postgres=WithPassword(pg))
    execution = cluster.client().submit(faults.fan_out, n=50, delay=0.2)
    _wait(lambda: execution.info().get("done", 0) > 5, 30, "the fan-out to run")
    pg.restart(down_s=4.0)
    assert execution.wait(timeout=90) == 50 * 51 // 2
    # every report applied once, nothing lost in the restart
    events = cluster.query("SELECT node_id, count(*) FROM graft_events WHERE execution_id = :e "
                           "GROUP BY node_id", e=execution.id)
    assert len(events) == 52 and all(count == 1 for _, count in events)
    log = cluster.scheduler_log()
    lost = [line for line in log.splitlines() if "database lost" in line]
    assert _count(log, "database lost", "database is back", "Traceback") == [1, 1, 0], log
    assert f"127.0.0.1:{pg.port}/{cluster.pg_database} does not answer" in lost[0]
    assert [line for line in log.splitlines() if " ERROR " in line] == lost, log
    assert PASSWORD not in log and "***" in lost[0]


def _broker_lines(path: Path) -> list[int]:
    return _count(path.read_text(errors="replace"), "broker lost", "broker is back")


def test_a_redis_outage_is_one_line_lost_and_one_back_in_a_workers_log(
        make_cluster, private_redis):
    """A worker whose lease thread runs with nothing to renew said "broker is back" at each
    of its ticks, and "broker lost" again at Celery's next retry."""
    server = private_redis(persistent=True)
    cluster = make_cluster(redis=server, env={"GRAFT_LEASE_TTL_S": "3"})  # a tick a second
    assert cluster.client().submit(faults.chain3, x=1, delay=0.0).wait(timeout=30) == 4
    time.sleep(1.5)  # the leases released: the lease thread has nothing left to send
    server.stop()
    time.sleep(15)
    during = {w.name: _broker_lines(w.log) for w in cluster.workers}
    server.start()
    assert cluster.client().submit(faults.chain3, x=2, delay=0.0).wait(timeout=60) == 5
    assert during == {w.name: [1, 0] for w in cluster.workers}
    _wait(lambda: all(_broker_lines(w.log) == [1, 1] for w in cluster.workers), 30,
          "every worker to say once that the broker is back")
    for w in cluster.workers:
        text = w.log.read_text(errors="replace")
        assert "Connection to broker lost" not in text, text  # Celery's own, every loss
        assert "CPendingDeprecationWarning" not in text and "Traceback" not in text, text
