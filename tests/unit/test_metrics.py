"""The scheduler's Prometheus metrics, each test on a fresh CollectorRegistry: counted from a
scheduler driving real workflows in this process (memory and SQLite state), the executions
gauge rebuilt by a scheduler that takes over, report latency against a fixed clock, queue
depths read from a stand-in Redis, and the HTTP endpoint."""

from __future__ import annotations

import socket
import typing
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from scheduler.dispatch import RecordingDispatcher
from scheduler.metrics import PrometheusMetrics, QueueDepth, entry_time_s, serve
from scheduler.observer import Observer
from scheduler.service import Scheduler
from scheduler.state import MemoryState
from scheduler.state_sql import SqlState
from sdk import Resources, dynamic, map_task, task, workflow
from sdk.model.config import Settings
from sdk.model.errors import ConfigError
from sdk.values.shapes import encode_inputs
from sdk.values.store import MemoryStore, put_blob
from worker.attempt import run_attempt


@task
def metric_square(x: int) -> int:
    return x * x


@task(limits=Resources(mem="1Gi"))
def metric_total(xs: typing.List[int]) -> int:
    return sum(xs)


@dynamic
def metric_squares(n: int) -> typing.List[int]:
    return [metric_square(x=i) for i in range(n)]


@workflow
def metric_wf(n: int) -> int:
    return metric_total(xs=metric_squares(n=n))


@task
def metric_boom(x: int) -> int:
    raise ValueError(f"boom {x}")


@workflow
def metric_failing(x: int) -> int:
    return metric_square(x=metric_boom(x=x))


class FakeRedis:
    """What the metrics ask of Redis: TIME, and pipelined LLENs."""

    def __init__(self, now_s: float = 0.0, depths: dict[str, int] | None = None,
                 down: bool = False):
        self.now_s = now_s
        self.depths = depths or {}
        self.down = down
        self.queued: list[str] = []

    def time(self) -> tuple[int, int]:
        return int(self.now_s), round((self.now_s % 1) * 1e6)

    def pipeline(self, transaction: bool = True) -> FakeRedis:
        self.queued = []
        return self

    def __enter__(self) -> FakeRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def llen(self, key: str) -> None:
        self.queued.append(key)

    def execute(self) -> list[int]:
        if self.down:
            raise ConnectionError("Redis is away")
        return [self.depths.get(k, 0) for k in self.queued]


class Harness:
    """A scheduler with Prometheus metrics and an in-process 'worker' that runs whatever it
    dispatched."""

    def __init__(self, state):
        self.store = MemoryStore()
        self.settings = Settings(database_url=state.url)
        self.state = state
        self.dispatcher = RecordingDispatcher()
        self.new_scheduler()

    def new_scheduler(self, **options) -> None:
        """A fresh scheduler with fresh metrics on the same state (a restart)."""
        self.registry = CollectorRegistry()
        self.metrics = PrometheusMetrics(self.settings, self.registry, queue_depth=False)
        self.scheduler = Scheduler(self.settings, self.state, self.dispatcher, self.store,
                                   metrics=self.metrics, **options)
        self.metrics.started(FakeRedis(), self.state)

    def submit(self, wf, execution_id: str, **inputs) -> None:
        spec_key = put_blob(self.store, wf.compile().dumps().encode(), prefix="specs")
        body = {"type": "submit", "execution": execution_id, "spec": spec_key,
                "inputs": encode_inputs(wf, inputs, self.store), "workflow": wf.name}
        assert not self.scheduler.handle([body]).refused

    def step(self) -> int:
        """Run every dispatched node once and apply the reports; return how many ran."""
        sent, self.dispatcher.sent = self.dispatcher.sent, []
        reports = [run_attempt(self.store, *d.args) for d in sent]
        if reports:
            self.scheduler.handle(reports)
        return len(reports)

    def run_to_end(self) -> None:
        for _ in range(20):
            if not self.step():
                return
        raise AssertionError("execution did not finish")

    def value(self, name: str, **labels: str) -> float:
        found = self.registry.get_sample_value(name, labels)
        return 0.0 if found is None else found


@pytest.fixture(params=["memory", "sqlite"])
def h(request, tmp_path):
    if request.param == "memory":
        return Harness(MemoryState())
    return Harness(SqlState(f"sqlite:///{tmp_path}/state.db"))


def test_a_workflow_with_a_dynamic_is_counted(h):
    h.submit(metric_wf, "ex-1", n=3)
    assert h.value("graft_executions", state="RUNNING") == 1
    h.run_to_end()
    # The dynamic, its three squares (256Mi) and the total (1Gi).
    assert h.value("graft_nodes_dispatched_total", tier="256Mi") == 4
    assert h.value("graft_nodes_dispatched_total", tier="1Gi") == 1
    assert h.value("graft_nodes_finished_total", tier="256Mi", state="SUCCEEDED") == 4
    assert h.value("graft_nodes_finished_total", tier="1Gi", state="SUCCEEDED") == 1
    assert h.value("graft_executions", state="SUCCEEDED") == 1
    assert h.value("graft_executions", state="RUNNING") == 0
    assert h.value("graft_graft_duration_seconds_count") == 1
    assert h.value("graft_graft_duration_seconds_sum") > 0


def test_failures_are_counted_by_state(h):
    h.submit(metric_failing, "ex-f", x=2)
    h.run_to_end()
    assert h.value("graft_nodes_finished_total", tier="256Mi", state="FAILED") == 1
    assert h.value("graft_nodes_finished_total", tier="256Mi", state="SKIPPED") == 1
    assert h.value("graft_nodes_dispatched_total", tier="256Mi") == 1
    assert h.value("graft_executions", state="FAILED") == 1
    assert h.value("graft_executions", state="RUNNING") == 0
    assert h.value("graft_graft_duration_seconds_count") == 0


def test_a_refused_submission_counts_as_failed(h):
    body = {"type": "submit", "execution": "ex-bad", "spec": "specs/missing",
            "inputs": {}, "workflow": "nope"}
    h.scheduler.handle([body])
    assert h.value("graft_executions", state="FAILED") == 1
    assert h.value("graft_executions", state="RUNNING") == 0


def test_a_scheduler_that_takes_over_counts_from_the_state_and_never_twice(h):
    h.submit(metric_wf, "ex-done", n=1)
    h.run_to_end()
    h.submit(metric_wf, "ex-open", n=2)
    h.step()  # the dynamic ran and grafted; its squares are queued
    h.new_scheduler()  # a restart: fresh metrics, the engine rebuilt from events on demand
    assert h.value("graft_executions", state="SUCCEEDED") == 1
    assert h.value("graft_executions", state="RUNNING") == 1
    assert h.value("graft_nodes_finished_total", tier="256Mi", state="SUCCEEDED") == 0
    h.scheduler.recover()
    h.run_to_end()
    assert h.value("graft_executions", state="SUCCEEDED") == 2
    assert h.value("graft_executions", state="RUNNING") == 0
    # Only what finished after the restart: the two squares, the dynamic and the total;
    # the replayed graft is not timed again.
    assert h.value("graft_nodes_finished_total", tier="256Mi", state="SUCCEEDED") == 3
    assert h.value("graft_nodes_finished_total", tier="1Gi", state="SUCCEEDED") == 1
    assert h.value("graft_graft_duration_seconds_count") == 0


def test_count_executions_by_status(h):
    h.submit(metric_wf, "ex-a", n=1)
    h.submit(metric_failing, "ex-b", x=1)
    h.run_to_end()
    h.submit(metric_wf, "ex-c", n=1)
    with h.state.transaction() as tx:
        assert tx.count_by_status() == {"SUCCEEDED": 1, "FAILED": 1, "RUNNING": 1}


def test_report_latency_from_the_stream_entry_id_and_redis_clock():
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(Settings(), registry, queue_depth=False, clock=lambda: 1000.0)
    metrics.sync_clock(FakeRedis(now_s=1000.5))  # Redis runs half a second ahead
    assert metrics.clock_offset_s == pytest.approx(0.5)
    # appended at 1000.490 and 1000.300 by Redis's clock; applied at 1000.5 by it
    metrics.reports_applied([b"1000490-0", b"1000300-7", b"not-an-id"])
    assert registry.get_sample_value("graft_report_latency_seconds_count") == 2
    assert registry.get_sample_value("graft_report_latency_seconds_sum") == pytest.approx(0.21)
    assert registry.get_sample_value("graft_report_latency_seconds_bucket",
                                     {"le": "0.01"}) == 1
    assert registry.get_sample_value("graft_scheduler_redis_clock_offset_seconds") == 0.5
    assert entry_time_s("1700000000123-4") == pytest.approx(1700000000.123)
    assert entry_time_s(b"x-1") is None


def test_batches_and_serving():
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(Settings(), registry, queue_depth=False)
    metrics.batch_applied(3, 0.004)
    metrics.serving(True)
    assert registry.get_sample_value("graft_scheduler_batch_messages_sum") == 3
    assert registry.get_sample_value("graft_scheduler_batch_duration_seconds_count") == 1
    assert registry.get_sample_value("graft_scheduler_serving") == 1
    metrics.serving(False)
    assert registry.get_sample_value("graft_scheduler_serving") == 0


def test_queue_depth_is_read_at_scrape_time_and_absent_while_redis_is_away():
    settings = Settings(tiers=[256 * 2**20, 2**30])
    collector = QueueDepth(settings)
    fake = FakeRedis(depths={"mem-256Mi": 7})
    collector._client = fake
    registry = CollectorRegistry()
    registry.register(collector)
    assert registry.get_sample_value("graft_queue_depth", {"tier": "256Mi"}) == 7
    assert registry.get_sample_value("graft_queue_depth", {"tier": "1Gi"}) == 0
    fake.depths["mem-1Gi"] = 2
    assert registry.get_sample_value("graft_queue_depth", {"tier": "1Gi"}) == 2
    fake.down = True
    assert registry.get_sample_value("graft_queue_depth", {"tier": "256Mi"}) is None


def test_the_base_observer_ignores_everything():
    observer = Observer()
    observer.dispatched(["mem-256Mi"])
    observer.committed([("graft", 0.1)])
    observer.reports_applied([b"1-0"])
    observer.started(None, None)
    observer.sync_clock(None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_metrics_and_says_when_the_port_is_taken():
    metrics = PrometheusMetrics(Settings(), CollectorRegistry(), queue_depth=False)
    metrics.dispatched(["mem-256Mi", "mem-256Mi"])
    port = _free_port()
    server = serve(metrics, "127.0.0.1", port)
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        families = {f.name: f for f in text_string_to_metric_families(text.decode())}
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for s in families["graft_nodes_dispatched"].samples}
        assert samples[("graft_nodes_dispatched_total", (("tier", "256Mi"),))] == 2
        assert "process_resident_memory_bytes" in families or "process_cpu_seconds" in families
        with pytest.raises(ConfigError, match="another --metrics-port"):
            serve(metrics, "127.0.0.1", port)
    finally:
        server.shutdown()
        server.server_close()


@workflow
def metric_map_wf(xs: typing.List[int]) -> typing.List[int]:
    return map_task(metric_square)(x=xs)


def test_map_items_count_and_the_map_node_does_not(h):
    h.submit(metric_map_wf, "ex-m", xs=[1, 2, 3])
    h.run_to_end()
    assert h.value("graft_nodes_dispatched_total", tier="256Mi") == 3
    assert h.value("graft_nodes_finished_total", tier="256Mi", state="SUCCEEDED") == 3
    assert h.value("graft_executions", state="SUCCEEDED") == 1


@workflow
def metric_cron_wf(n: int = 2) -> int:
    return metric_square(x=n)


def test_executions_a_launch_plan_schedule_starts_are_counted(h):
    from scheduler.cron import Ticker
    from sdk import CronSchedule, LaunchPlan
    from sdk.wire.messages import check

    start = 1767225600.0 + 10  # 2026-01-01 00:00:10 UTC
    now = [start]
    h.new_scheduler(clock=lambda: now[0])  # the time an activation counts its ticks from
    ticker = Ticker(h.scheduler)
    plan = LaunchPlan.get_or_create(metric_cron_wf, name="metric_minutely",
                                    schedule=CronSchedule(schedule="* * * * *"))
    spec_key = put_blob(h.store, plan.graph().dumps().encode(), prefix="specs")
    assert not h.scheduler.handle([check({
        "type": "activate", "launch_plan": plan.name, "workflow": plan.workflow.name,
        "spec": spec_key, "schedule": plan.schedule.to_json(),
        "inputs": encode_inputs(plan, plan.scheduled_inputs(), h.store)})]).refused
    now[0] = start + 120  # the ticks of 00:01 and 00:02
    n = len(ticker.tick())
    assert n == 2
    assert h.value("graft_executions", state="RUNNING") == n
    h.run_to_end()
    assert h.value("graft_executions", state="SUCCEEDED") == n
    assert h.value("graft_executions", state="RUNNING") == 0
    assert h.value("graft_nodes_finished_total", tier="256Mi", state="SUCCEEDED") == n
