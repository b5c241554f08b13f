"""The scheduler's Prometheus metrics: what it runs, how soon it hears back, how full queues are.

Off unless `graft scheduler --metrics-port PORT` (or `GRAFT_METRICS_PORT`) is given; then
`serve()` starts prometheus_client's HTTP server on a thread of its own, which answers
`/metrics` from this module's registry. The scheduler tells its `Observer` what happened;
the base class ignores it (metrics off), `PrometheusMetrics` counts it. Node and execution
counts are taken only from batches that committed, so a batch rolled back and read again is
not counted twice.

Report latency is measured from the report's control-stream entry id, which is the time in
milliseconds Redis appended it (by Redis's clock), to the commit of the batch that applied it
(by the scheduler's clock, corrected by the offset to Redis's clock that `sync_clock` measures
every few seconds: the two may run on different hosts). Queue depths are read from Redis
(`LLEN` of each tier's queue, one pipelined round trip) when Prometheus scrapes, not on every
pass of the loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from scheduler.observer import Observation, Observer
from sdk.model.config import Settings
from sdk.model.errors import ConfigError
from sdk.model.states import ExecutionState
from sdk.wire.connections import redis_client
from sdk.wire.keys import queue_tier, tier_queue

log = logging.getLogger("graft.scheduler.metrics")

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                     10.0, 30.0, 60.0)
GRAFT_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
SCRAPE_REDIS_TIMEOUT_S = 2.0

def entry_time_s(entry_id: bytes | str) -> float | None:
    """When Redis appended a stream entry (seconds since the epoch, Redis's clock): the
    millisecond part of its id `<ms>-<seq>`. None for an id of another shape."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    try:
        return int(text.split("-", 1)[0]) / 1000.0
    except ValueError:
        return None


class PrometheusMetrics(Observer):
    """The scheduler's metrics in `registry` (a new one by default: never the global one), with
    prometheus_client's process, platform and garbage-collector collectors alongside.
    `queue_depth=False` leaves out the collector that reads Redis at scrape time."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None,
                 *, queue_depth: bool = True, clock: Any = time.time):
        self.registry = registry if registry is not None else CollectorRegistry()
        self.clock = clock
        self.clock_offset_s = 0.0  # Redis's clock minus ours
        r = self.registry
        self.executions = Gauge("graft_executions", "Executions in the state database by "
                                "status.", ["state"], registry=r)
        self.nodes_dispatched = Counter(
            "graft_nodes_dispatched", "Node attempts sent to a tier queue (first attempts, "
            "retries, and copies sent again after a restart), or run there as the link of a "
            "chain.", ["tier"], registry=r)
        self.nodes_finished = Counter(
            "graft_nodes_finished", "Nodes run on workers that reached a final state.",
            ["tier", "state"], registry=r)
        self.report_latency = Histogram(
            "graft_report_latency_seconds", "From a report's append to the control stream "
            "(Redis's clock) to the scheduler having applied it (its batch committed, the "
            "nodes it made ready sent; its entry is acknowledged with the next read).",
            buckets=LATENCY_BUCKETS_S, registry=r)
        self.graft_duration = Histogram(
            "graft_graft_duration_seconds", "Time to graft a dynamic's sub-graph into its "
            "execution: load and check it, insert its nodes, prepare its ready nodes.",
            buckets=GRAFT_BUCKETS_S, registry=r)
        self.batch_duration = Histogram(
            "graft_scheduler_batch_duration_seconds", "Time to apply one batch of control "
            "messages, from decoding to the sends after its commit (its entries are "
            "acknowledged with the next read).",
            buckets=LATENCY_BUCKETS_S, registry=r)
        self.batch_messages = Histogram(
            "graft_scheduler_batch_messages", "Control messages per batch.",
            buckets=BATCH_SIZE_BUCKETS, registry=r)
        self.is_serving = Gauge("graft_scheduler_serving", "1 while this scheduler holds the "
                                "lock and serves, 0 while it stands by.", registry=r)
        self.shards_held = Gauge("graft_scheduler_shards", "Shards of the executions this "
                                 "scheduler serves (its leases).", registry=r)
        self.held = Gauge("graft_scheduler_nodes_held", "Nodes the executions this scheduler "
                          "holds keep in memory, as last counted (every 0.2 s).", registry=r)
        self.clock_offset = Gauge("graft_scheduler_redis_clock_offset_seconds", "Redis's clock "
                                  "minus this host's, as last measured.", registry=r)
        self._gc_metrics(r)
        for state in ExecutionState:
            self.executions.labels(state.value)
        for tier in settings.tiers:
            self.nodes_dispatched.labels(queue_tier(tier_queue(tier)))
        if queue_depth:
            r.register(QueueDepth(settings))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    def dispatched(self, queues: Iterable[str]) -> None:
        counts: dict[str, int] = {}
        for queue in queues:
            counts[queue] = counts.get(queue, 0) + 1
        for queue, n in counts.items():
            self.nodes_dispatched.labels(queue_tier(queue)).inc(n)

    def committed(self, observed: list[Observation]) -> None:
        moves: dict[str, list[str | None]] = {}  # execution id -> [status before, after]
        for item in observed:
            kind = item[0]
            if kind == "finished":
                self.nodes_finished.labels(queue_tier(item[1]), item[2]).inc()
            elif kind == "execution":
                moves.setdefault(item[1], [item[2], item[3]])[1] = item[3]
            elif kind == "graft":
                self.graft_duration.observe(item[1])
            elif kind == "continued":
                self.nodes_dispatched.labels(queue_tier(item[1])).inc()
        for old, new in moves.values():
            if old == new:
                continue
            if old is not None:
                self.executions.labels(old).dec()
            if new is not None:
                self.executions.labels(new).inc()

    def _gc_metrics(self, r: CollectorRegistry) -> None:
        self.store_objects = Gauge("graft_store_objects", "Objects in the store, as the last "
                                   "gc counted them (after its sweep).", registry=r)
        self.store_bytes = Gauge("graft_store_bytes", "Bytes in the store, as the last gc "
                                 "counted them (after its sweep).", registry=r)
        self.gc_runs = Counter("graft_gc_runs", "gc runs of this scheduler, by result (ok, "
                               "failed).", ["result"], registry=r)
        self.gc_duration = Gauge("graft_gc_duration_seconds", "How long the last gc of this "
                                 "scheduler took.", registry=r)
        self.gc_rows = Counter("graft_gc_rows_pruned", "Database rows gc deleted, by table.",
                               ["table"], registry=r)
        self.gc_objects = Counter("graft_gc_objects_freed", "Store objects gc deleted.",
                                  registry=r)
        self.gc_bytes = Counter("graft_gc_bytes_freed", "Store bytes gc deleted.", registry=r)
        for result in ("ok", "failed"):
            self.gc_runs.labels(result)

    def gc_finished(self, report: Any) -> None:
        self.gc_runs.labels("ok").inc()
        self.gc_duration.set(report.duration_s)
        self.store_objects.set(report.objects - report.objects_freed)
        self.store_bytes.set(report.bytes - report.bytes_freed)
        self.gc_objects.inc(report.objects_freed)
        self.gc_bytes.inc(report.bytes_freed)
        for table, n in report.rows.items():
            self.gc_rows.labels(table).inc(n)
        for status, n in report.executions.items():
            self.executions.labels(status).dec(n)

    def gc_failed(self) -> None:
        self.gc_runs.labels("failed").inc()

    def reports_applied(self, entry_ids: list[bytes]) -> None:
        now = self.clock() + self.clock_offset_s
        for entry_id in entry_ids:
            sent = entry_time_s(entry_id)
            if sent is not None:
                self.report_latency.observe(max(0.0, now - sent))

    def batch_applied(self, messages: int, seconds: float) -> None:
        self.batch_messages.observe(messages)
        self.batch_duration.observe(seconds)

    def started(self, client: Any, state: Any) -> None:
        with state.transaction() as tx:
            self.executions_counted(tx.count_by_status())
        self.sync_clock(client)

    def executions_counted(self, counts: dict[str, int]) -> None:
        """Set the executions gauge to these counts by status (the others to 0)."""
        for status in {*(s.value for s in ExecutionState), *counts}:
            self.executions.labels(status).set(counts.get(status, 0))

    def serving(self, serving: bool) -> None:
        self.is_serving.set(1 if serving else 0)

    def shards(self, count: int) -> None:
        self.shards_held.set(count)

    def nodes_held(self, count: int) -> None:
        self.held.set(count)

    def sync_clock(self, client: Any) -> None:
        before = self.clock()
        seconds, micros = client.time()
        after = self.clock()
        self.clock_offset_s = seconds + micros / 1e6 - (before + after) / 2
        self.clock_offset.set(self.clock_offset_s)


class QueueDepth(Collector):
    """`graft_queue_depth{tier}`: messages waiting in each tier's queue, read from Redis when
    Prometheus scrapes (one pipelined round trip of `LLEN`s, on a client of its own with a
    short timeout). While Redis does not answer, the metric has no samples."""

    def __init__(self, settings: Settings):
        self.queues = [tier_queue(t) for t in settings.tiers]
        self.url = settings.broker_url
        self._client: Any = None

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily("graft_queue_depth", "Node attempts waiting in a tier's "
                                 "queue (Redis LLEN of mem-<tier>), read at scrape time.",
                                 labels=["tier"])

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield self._family()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        try:
            if self._client is None:
                self._client = redis_client(self.url, timeout_s=SCRAPE_REDIS_TIMEOUT_S)
            with self._client.pipeline(transaction=False) as pipe:
                for queue in self.queues:
                    pipe.llen(queue)
                depths = pipe.execute()
        except Exception as exc:  # Redis away: the scrape still answers, without depths
            log.debug("queue depths not read: %s", exc)
        else:
            for queue, depth in zip(self.queues, depths):
                family.add_metric([queue_tier(queue)], depth)
        yield family


def serve(metrics: PrometheusMetrics, host: str, port: int) -> Any:
    """Serve `/metrics` on `host:port` from a daemon thread; returns the HTTP server. Raises
    ConfigError when it cannot listen there."""
    try:
        server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}; "
                          f"choose another --metrics-port (GRAFT_METRICS_PORT)") from None
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server
