"""The scheduler's Prometheus endpoint on a real cluster: a real `graft scheduler` started with
GRAFT_METRICS_PORT, tier workers, workflows with a dynamic, a failure and a node no worker
serves; /metrics is scraped over HTTP and parsed with prometheus_client's parser. The
executions gauge must survive a scheduler restart."""

from __future__ import annotations

import ipaddress
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from servers import free_port
from workflows import cluster_wf, dynamics, failing

from sdk.model.errors import ExecutionFailed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of http://127.0.0.1:PORT/metrics, by (name, sorted labels)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text.decode())
            for s in family.samples}


def value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def listening_on(port: int) -> set[str]:
    """The IPv4 addresses a TCP socket listens on at `port` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(str(ipaddress.IPv4Address(bytes.fromhex(address)[::-1])))
    return found


def test_scheduler_serves_metrics_of_what_it_ran(make_cluster, wait_for):
    port = free_port()
    cluster = make_cluster(env={"GRAFT_METRICS_PORT": str(port)})
    client = cluster.client()
    # Without --metrics-host the endpoint, which has no login, is this host's only.
    assert listening_on(port) == {"127.0.0.1"}

    # A node for 4Gi, a tier no worker of this cluster serves: it waits in mem-4Gi.
    big = client.submit(cluster_wf.big_wf, x=4)
    wait_for(lambda: value(scrape(port), "graft_queue_depth", tier="4Gi") == 1, 30,
             "mem-4Gi's depth to be 1")
    samples = scrape(port)
    assert value(samples, "graft_queue_depth", tier="256Mi") == 0
    assert value(samples, "graft_executions", state="RUNNING") == 1
    assert value(samples, "graft_nodes_dispatched_total", tier="4Gi") == 1
    assert value(samples, "graft_scheduler_serving") == 1

    # The dynamic, its three squares and the total; add, explode (raises), add (skipped).
    assert client.submit(dynamics.fan_out_wf, n=3).wait(timeout=60) == 5
    with pytest.raises(ExecutionFailed):
        client.submit(failing.failing_wf, x=1).wait(timeout=60)
    assert big.cancel("test over")
    reports = 5 + 2

    samples = wait_for(
        lambda: (s := scrape(port)) and value(s, "graft_report_latency_seconds_count") == reports
        and value(s, "graft_executions", state="ABORTED") == 1 and s, 30,
        f"{reports} reports and the cancel to be counted")
    assert value(samples, "graft_nodes_dispatched_total", tier="256Mi") == 7
    assert value(samples, "graft_nodes_dispatched_total", tier="1Gi") == 0
    assert value(samples, "graft_nodes_dispatched_total", tier="4Gi") == 1
    assert value(samples, "graft_nodes_finished_total", tier="256Mi", state="SUCCEEDED") == 6
    assert value(samples, "graft_nodes_finished_total", tier="256Mi", state="FAILED") == 1
    assert value(samples, "graft_nodes_finished_total", tier="256Mi", state="SKIPPED") == 1
    assert value(samples, "graft_nodes_finished_total", tier="4Gi", state="CANCELLED") == 1
    expected = {"QUEUED": 0, "RUNNING": 0, "SUCCEEDED": 1, "FAILED": 1, "ABORTED": 1}
    assert {s: value(samples, "graft_executions", state=s) for s in expected} == expected
    assert value(samples, "graft_graft_duration_seconds_count") == 1
    assert 0 < value(samples, "graft_graft_duration_seconds_sum") < 5
    # Reports are applied within seconds of being sent, by Redis's clock.
    assert 0 < value(samples, "graft_report_latency_seconds_sum") < reports * 5
    assert value(samples, "graft_report_latency_seconds_bucket", le="+Inf") == reports
    assert value(samples, "graft_scheduler_batch_messages_sum") >= reports + 3  # + submits

    # A new scheduler process counts the executions from the database; its counters start
    # from zero, as Prometheus counters of a restarted process do.
    cluster.stop_scheduler()
    cluster.start_scheduler()
    samples = wait_for(lambda: _scrape_or_none(port), 30, "the new scheduler's metrics")
    assert {s: value(samples, "graft_executions", state=s) for s in expected} == expected
    assert value(samples, "graft_nodes_dispatched_total", tier="256Mi") == 0
    assert value(samples, "graft_graft_duration_seconds_count") == 0


def _scrape_or_none(port: int) -> dict[Any, float] | None:
    try:
        return scrape(port)
    except OSError:
        return None
