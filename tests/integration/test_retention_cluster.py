"""Retention on a real cluster (SQLite state, folder store): `graft gc` prunes exactly the
executions that ended before the cutoff and the store objects only they named, a dry run
deletes nothing, gc while a workflow runs breaks neither it nor a cached re-run, Redis keys
of ended executions expire, and the schedulers' periodic gc runs once at a time.

The cluster is this module's own (its store is swept): a scheduler with GRAFT_GC_OLDER_THAN
set (its first gc runs at start) and the usual tier workers, on Redis database 8 of the
session's server. Executions are made old by moving their end time back in the database,
objects by moving their write time back, never by sleeping."""

from __future__ import annotations

import datetime
import json
import os
import time
import uuid

import pytest
from conftest import Cluster
from conftest import _wait_for as wait
from sqlalchemy import create_engine, update
from workflows.failing import count
from workflows.retention import gc_run_wf, gc_wf

from scheduler.db import ExecutionRow
from scheduler.metrics import PrometheusMetrics
from scheduler.retention.collect import collect
from scheduler.retention.daily import DailyGc, GcSettings
from scheduler.state import EventRecord, ExecutionRecord, TickRecord
from scheduler.state_sql import SqlState
from sdk.values.store import FsspecStore, put_blob
from sdk.wire.keys import Keys

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

REDIS_DB = 8  # its own database of the session's Redis (the S3 cluster has 14)
BOARD_TTL_S = 3600
DAY_S = 86400


@pytest.fixture(scope="module")
def gc_cluster(redis_server, tmp_path_factory):
    c = Cluster("sqlite", tmp_path_factory.mktemp("cluster-gc"), redis_url=redis_server.url)
    c.redis_db = REDIS_DB
    c.broker_url = f"{redis_server.url.rstrip('/')}/{REDIS_DB}"
    c.env = c._env()
    c.env.update(GRAFT_GC_OLDER_THAN="30d", GRAFT_BOARD_TTL_S=str(BOARD_TTL_S))
    try:
        c.start()
        # The scheduler's first gc runs as it starts: wait for it, so that no test's gc
        # finds the lock held.
        wait(lambda: c.redis().exists(Keys(c.key_prefix).gc_last), 30, "the scheduler's gc")
    except BaseException:
        c.stop()
        raise
    yield c
    c.stop()


@pytest.fixture
def gc(gc_cluster, monkeypatch, request):
    monkeypatch.setenv("GRAFT_STORE", gc_cluster.store_url)
    gc_cluster.ensure_running()
    yield gc_cluster
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(gc_cluster.logs_tail())


def _age_execution(c: Cluster, eid: str, days: float = 40) -> None:
    engine = create_engine(c.database_url)
    ended = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    try:
        with engine.begin() as conn:
            assert conn.execute(update(ExecutionRow).where(ExecutionRow.id == eid)
                                .values(updated_at=ended)).rowcount == 1
    finally:
        engine.dispose()


def _objects(c: Cluster) -> dict[str, float]:
    """Every object of the store, by key: its write time."""
    found = {}
    for folder, _, files in os.walk(c.store_url):
        for name in files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, c.store_url)] = os.stat(path).st_mtime
    return found


def _age_store(c: Cluster, seconds: float) -> None:
    _age_tree(c.store_url, seconds)


def _gc(c: Cluster, *args: str) -> dict:
    done = c.run_cli("gc", "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _stored(c: Cluster, eid: str) -> dict[str, str]:
    """The store keys an execution's node rows name, by node id."""
    out = {}
    for node, outputs in c.query("SELECT node_id, outputs FROM graft_nodes WHERE "
                                 "execution_id = :e", e=eid):
        ref = json.loads(outputs or "{}").get("o0", {}).get("val", {})
        if "u" in ref:
            out[node] = ref["u"]
    return out


def _rows(c: Cluster, eid: str) -> int:
    return sum(c.query(f"SELECT count(*) FROM {t} WHERE {col} = :e", e=eid)[0][0]
               for t, col in (("graft_executions", "id"), ("graft_nodes", "execution_id"),
                              ("graft_events", "execution_id")))


def _redis_keys(c: Cluster, eid: str) -> list[bytes]:
    return list(c.redis().scan_iter(f"{c.key_prefix}:*{eid}*"))


def test_gc_prunes_exactly_the_old_executions_and_what_only_they_name(gc, tmp_path):
    client = gc.client()
    old = client.submit(gc_wf, n=700, delay_s=0.0, counter_dir=str(tmp_path))
    kept = client.submit(gc_wf, n=600, delay_s=0.0, counter_dir=str(tmp_path))
    assert old.wait(timeout=60) == sum(range(1, 701))
    assert kept.wait(timeout=60) == sum(range(1, 601))

    # Every Redis key naming an ended execution expires; its board records within the TTL.
    r = gc.redis()
    for eid in (old.id, kept.id):
        keys = _redis_keys(gc, eid)
        assert any(k.endswith(f":ex:{eid}".encode()) for k in keys)
        for key in keys:
            ttl = r.ttl(key)
            assert ttl > 0, f"{key!r} never expires"
            if b":ex:" in key:
                assert ttl <= BOARD_TTL_S

    old_values = _stored(gc, old.id)
    spec = gc.query("SELECT spec_key FROM graft_executions WHERE id = :e", e=old.id)[0][0]
    assert spec == gc.query("SELECT spec_key FROM graft_executions WHERE id = :e",
                            e=kept.id)[0][0]
    produced, shifted = old_values["gc_produce"], old_values["gc_shift"]
    _age_execution(gc, old.id)
    _age_store(gc, 2 * DAY_S)  # past any grace period: only what names them keeps them
    before = _objects(gc)
    only_old = {shifted} | {k for k in before if k.split("/")[1:2] == [old.id]}

    dry = _gc(gc, "--older-than", "30d", "--dry-run")
    assert _objects(gc) == before and _rows(gc, old.id) > 0
    assert set(dry["freed"]) == only_old
    assert dry["executions"] == {"SUCCEEDED": 1} and dry["objects_freed"] == len(only_old)

    report = _gc(gc, "--older-than", "30d")
    assert report["executions"] == {"SUCCEEDED": 1}
    assert report["rows"]["graft_executions"] == 1 and report["rows"]["graft_nodes"] >= 3
    assert report["objects_freed"] == len(only_old) and report["bytes_freed"] > 0
    assert set(_objects(gc)) == set(before) - only_old
    # The spec the kept execution shares, and the list a cache entry names, stay.
    assert {spec, produced} <= set(_objects(gc))
    assert _rows(gc, old.id) == 0 and _rows(gc, kept.id) > 0
    # Its board records went with it; its attempts' claims expire by themselves (above).
    assert not [k for k in _redis_keys(gc, old.id) if b":ex:" in k]
    assert [k for k in _redis_keys(gc, kept.id) if b":ex:" in k]
    assert r.zscore(Keys(gc.key_prefix).executions, old.id) is None

    again = client.submit(gc_wf, n=700, delay_s=0.0, counter_dir=str(tmp_path))
    assert again.wait(timeout=60) == sum(range(1, 701))
    assert {n.id for n in again.nodes() if n.cached} == {"gc_produce", "gc_total"}
    assert count(str(tmp_path), "gc_produce") == 2  # n=700 and n=600, each once


def test_gc_during_a_run_breaks_neither_it_nor_a_cached_rerun(gc, tmp_path):
    client = gc.client()
    first = client.submit(gc_run_wf, n=800, delay_s=0.0, counter_dir=str(tmp_path))
    assert first.wait(timeout=60) == sum(range(1, 801)) + sum(range(2, 802))
    _age_execution(gc, first.id)
    running = client.submit(gc_run_wf, n=900, delay_s=12.0, counter_dir=str(tmp_path))

    def slow_step_running() -> bool:
        states = sorted(n.state for n in running.nodes() if n.task.endswith("gc_shift"))
        return states == ["RUNNING", "SUCCEEDED"]

    wait(slow_step_running, 60, "the slow step to start")
    # What the run wrote so far is older than the grace period now: only the database rows
    # of the running execution (and the cache entries) keep it.
    _age_store(gc, 2 * 3600)
    needed = set(_stored(gc, running.id).values())
    assert len(needed) == 2  # the produced list, and the first shift's (read at the end)
    report = _gc(gc, "--older-than", "30d", "--grace", "1h")
    assert report["executions"] == {"SUCCEEDED": 1}  # `first`
    assert report["objects_freed"] >= 2  # `first`'s lists that no cache entry names
    assert needed <= set(_objects(gc))
    assert running.status() == "RUNNING"
    assert running.wait(timeout=60) == sum(range(1, 901)) + sum(range(2, 902))

    for n in (900, 800):  # 800: its entry's execution was pruned
        rerun = client.submit(gc_run_wf, n=n, delay_s=0.0, counter_dir=str(tmp_path))
        assert rerun.wait(timeout=60) == sum(range(1, n + 1)) + sum(range(2, n + 2))
        assert [x.id for x in rerun.nodes() if x.cached] == ["gc_produce"]
    assert count(str(tmp_path), "gc_produce") == 2


def test_the_periodic_gc_runs_on_one_scheduler_at_a_time(gc, tmp_path):
    assert "gc: pruned 0 executions" in gc.scheduler_log()  # the cluster's, at its start
    client = gc.redis()
    names = Keys(f"gc-{uuid.uuid4().hex[:8]}")
    state = SqlState(f"sqlite:///{tmp_path / 'state.db'}")
    store = FsspecStore(str(tmp_path / "store"))
    stray = put_blob(store, b"nothing names this")
    t = time.time() - DAY_S
    os.utime(os.path.join(store.root, stray), (t, t))
    settings = GcSettings(older_than_s=30 * DAY_S, every_s=DAY_S, grace_s=3600)

    def scheduler(name: str) -> tuple[DailyGc, PrometheusMetrics]:
        metrics = PrometheusMetrics(gc.settings, queue_depth=False)
        return DailyGc(settings, client, names.prefix, state.engine, store, None, metrics,
                       name), metrics

    client.set(names.gc_lock, "graft gc elsewhere", px=60_000)
    busy, _ = scheduler("a")
    busy.poll()
    busy.join(10)
    assert store.exists(stray)  # another gc held the lock
    client.delete(names.gc_lock)

    due, metrics = scheduler("a")
    started = time.monotonic()
    due.poll()
    assert time.monotonic() - started < 0.5  # the loop's turn does not wait for it
    due.join(30)
    assert not store.exists(stray) and client.exists(names.gc_last)
    assert client.get(names.gc_lock) is None
    value = metrics.registry.get_sample_value
    assert value("graft_gc_runs_total", {"result": "ok"}) == 1
    assert value("graft_gc_objects_freed_total") == 1
    assert value("graft_store_objects") == 0

    other, _ = scheduler("b")
    other.poll()
    assert not other.running  # the last gc ended less than GRAFT_GC_EVERY ago


def test_pruning_on_postgresql(postgres_server, tmp_path):
    """The same statements on PostgreSQL: an old execution's rows go, with the schedule
    ticks that started it but each launch plan's newest; a running one's stay."""
    database = f"graft_it_gc_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(database)
    state = SqlState(postgres_server.url_for(database))
    try:
        store = FsspecStore(str(tmp_path / "store"))
        specs = {eid: put_blob(store, eid.encode(), prefix="specs") for eid in ("a", "b", "c")}
        with state.transaction() as tx:
            for eid, status in (("a", "SUCCEEDED"), ("b", "ABORTED"), ("c", "RUNNING")):
                tx.add_execution(ExecutionRecord(id=eid, workflow="wf", status=status,
                                                 spec_key=specs[eid], inputs={}))
                tx.append_event(EventRecord(eid, 1, "n0", 1, "values", {}))
            for tick_s, eid in ((100, "a"), (200, "b")):
                tx.add_tick(TickRecord("lp", tick_s, eid))
        for eid in ("a", "b"):
            ended = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=40)
            with state.engine.begin() as conn:
                conn.execute(update(ExecutionRow).where(ExecutionRow.id == eid)
                             .values(updated_at=ended))
        _age_tree(store.root, DAY_S)
        dry = collect(state.engine, store, older_than_s=30 * DAY_S, dry_run=True)
        report = collect(state.engine, store, older_than_s=30 * DAY_S, list_keys=True)
        for r in (dry, report):
            assert r.executions == {"SUCCEEDED": 1, "ABORTED": 1}
            assert r.rows == {"graft_executions": 2, "graft_events": 2,
                              "graft_schedule_ticks": 1}
            assert sorted(r.freed) == sorted([specs["a"], specs["b"]])
        with state.transaction() as tx:
            assert [e.id for e in tx.executions()] == ["c"]
            assert [t.tick_s for t in tx.ticks("lp")] == [200]
        assert store.exists(specs["c"])
    finally:
        state.engine.dispose()
        postgres_server.drop_database(database)


def _age_tree(root: str, seconds: float) -> None:
    t = time.time() - seconds
    for folder, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(folder, name), (t, t))
