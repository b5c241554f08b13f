"""Retention (scheduler/retention): the mark phase, and one gc over a SQLite database and a
folder store, without a cluster."""

from __future__ import annotations

import datetime
import json
import os
import time

import pytest
from sqlalchemy import update

from scheduler.db import ExecutionRow
from scheduler.retention.collect import collect
from scheduler.retention.mark import Marker, digests, kind_of
from scheduler.retention.sweep import delete_if_old
from scheduler.state import NODE_FIELDS, EventRecord, ExecutionRecord, LaunchPlanRecord
from scheduler.state_sql import SqlState
from sdk.model.config import parse_duration
from sdk.model.errors import ConfigError
from sdk.values.store import FsspecStore, MemoryStore, put_blob, sha256

OLD_S = 40 * 86400  # how old the old objects and executions are made


def test_digests_and_kinds():
    d = "a" * 64
    assert digests(f'{{"u":"values/{d}","x":"{"b" * 65}","b":"{d.upper()}"}}') == {d}
    assert kind_of(f"blobs/{d}") == ("content", d)
    assert kind_of(f"bundles/{d}") == ("content", d)
    assert kind_of("logs/ex1/n0/1.json") == ("execution", "ex1")
    assert kind_of("checkpoints/ex1/dyn/n1/checkpoint") == ("execution", "ex1")
    assert kind_of("cache/k.json") == ("root", "cache")
    assert kind_of(f"blobs/.tmp-{d[:8]}") == ("temp", "")
    assert kind_of("elsewhere/x") == ("other", "")


def test_marking_follows_stored_json_and_bare_bundle_ids():
    store = MemoryStore()
    blob = put_blob(store, b"file bytes")
    value = put_blob(store, json.dumps({"file": {"key": blob}}).encode(), prefix="values")
    bundle = put_blob(store, b"zip", prefix="bundles")
    spec = put_blob(store, json.dumps({"task": {"bundle": bundle.rpartition("/")[2]},
                                       "x": {"u": value}}).encode(), prefix="specs")
    stray = put_blob(store, b"nobody names me")
    marker = Marker(store, [blob, value, bundle, spec, stray])
    marker.text(json.dumps({"spec_key": spec}))
    marker.expand()
    assert all(marker.keeps(k) for k in (blob, value, bundle, spec))
    assert not marker.keeps(stray)
    assert marker.keeps("logs/ex1/n/1.json", {"ex1"})
    assert not marker.keeps("logs/ex2/n/1.json", {"ex1"})


def test_durations():
    assert parse_duration("30d", "x") == 30 * 86400
    assert parse_duration("1h30m", "x") == 5400
    assert parse_duration("90", "x") == 90
    with pytest.raises(ConfigError, match="GRAFT_GC_OLDER_THAN='soon'"):
        parse_duration("soon", "GRAFT_GC_OLDER_THAN")


def _old(store: FsspecStore, key: str) -> str:
    t = time.time() - OLD_S
    os.utime(os.path.join(store.root, key), (t, t))
    return key


def _execution(state: SqlState, eid: str, status: str, spec: str, outputs: object,
               node_outputs: object, event: object) -> None:
    with state.transaction() as tx:
        tx.add_execution(ExecutionRecord(id=eid, workflow="wf", status=status, spec_key=spec,
                                         inputs={}, outputs=outputs))
        row = {k: None for k in NODE_FIELDS}
        row.update(execution_id=eid, node_id="n0", task="t", kind="task", state="SUCCEEDED",
                   attempt=1, cached=False, outputs=node_outputs)
        tx.insert_nodes([row])
        tx.append_event(EventRecord(eid, 1, "n0", 1, "values", event))


@pytest.fixture
def world(tmp_path):
    """An old ended execution, a running one and a recent ended one sharing objects, a cache
    entry and a registry entry naming objects only the old execution's rows name too, and
    objects nothing names, old and young."""
    store = FsspecStore(str(tmp_path / "store"))
    state = SqlState(f"sqlite:///{tmp_path / 'state.db'}")
    k = {}
    k["shared_spec"] = _old(store, put_blob(store, b'{"spec": "shared"}', prefix="specs"))
    k["old_spec"] = _old(store, put_blob(store, b'{"spec": "old only"}', prefix="specs"))
    k["old_out"] = _old(store, put_blob(store, b"old output"))
    k["old_value"] = _old(store, put_blob(store, json.dumps(
        {"file": {"key": k["old_out"]}}).encode(), prefix="values"))
    k["cached_out"] = _old(store, put_blob(store, b"an output a cache entry names"))
    k["sub_spec_blob"] = _old(store, put_blob(store, b"named by a sub-graph only"))
    k["sub_spec"] = _old(store, put_blob(store, json.dumps(
        {"x": {"key": k["sub_spec_blob"]}}).encode(), prefix="specs"))
    k["registered"] = _old(store, put_blob(store, b'{"spec": "registered"}', prefix="specs"))
    k["lp_spec"] = _old(store, put_blob(store, b'{"spec": "launch plan"}', prefix="specs"))
    k["stray_old"] = _old(store, put_blob(store, b"nobody, old"))
    k["stray_young"] = put_blob(store, b"nobody, just written")
    k["snapshot"] = _old(store, put_blob(store, b"the running one's engine", "snapshots"))
    k["replaced_snapshot"] = _old(store, put_blob(store, b"an engine replaced", "snapshots"))
    store.put("logs/old/n0/1.json", b"{}")
    k["old_log"] = _old(store, "logs/old/n0/1.json")
    store.put("logs/running/n0/1.json", b"{}")
    k["running_log"] = _old(store, "logs/running/n0/1.json")
    store.put("blobs/.tmp-dead", b"half")
    k["tmp"] = _old(store, "blobs/.tmp-dead")
    _execution(state, "old", "SUCCEEDED", k["old_spec"], {"o": {"val": {"u": k["old_value"]}}},
               {"o": {"val": {"u": k["old_value"]}}},
               {"outputs": {"c": {"val": {"v": {"key": k["cached_out"]}}}}})
    _execution(state, "running", "RUNNING", k["shared_spec"], None, None,
               {"subgraph": k["sub_spec"]})
    _execution(state, "recent", "FAILED", k["shared_spec"], None, None, {"error": "boom"})
    with state.transaction() as tx:
        tx.update_execution("running", snapshot_key=k["snapshot"], snapshot_seq=1)
    with state.transaction() as tx:
        tx.put_launch_plan(LaunchPlanRecord("lp", "wf", k["lp_spec"], {}, {"cron": "* * * * *"},
                                            False, 0, 0))
    ended = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=OLD_S)
    with state.engine.begin() as conn:
        conn.execute(update(ExecutionRow).where(ExecutionRow.id == "old")
                     .values(updated_at=ended))
    store.put("cache/" + sha256(b"key") + ".json", json.dumps(
        {"outputs": {"o": {"val": {"v": {"key": k["cached_out"]}}}}, "sig": "x"}).encode())
    store.put("registry/" + sha256(b"r") + ".json", json.dumps(
        {"kind": "workflow", "spec": k["registered"]}).encode())
    return store, state, k


def _present(store: FsspecStore, keys: dict[str, str]) -> set[str]:
    return {name for name, key in keys.items() if store.exists(key)}


def test_dry_run_deletes_nothing_and_lists_what_would_go(world):
    store, state, k = world
    report = collect(state.engine, store, older_than_s=7 * 86400, dry_run=True)
    assert _present(store, k) == set(k)
    assert sorted(report.freed) == sorted(k[n] for n in (
        "old_spec", "old_out", "old_value", "stray_old", "old_log", "tmp", "replaced_snapshot"))
    assert report.executions == {"SUCCEEDED": 1}
    assert report.rows == {"graft_executions": 1, "graft_nodes": 1, "graft_events": 1}
    with state.transaction() as tx:
        assert tx.get_execution("old") is not None


def test_gc_prunes_old_rows_and_sweeps_only_what_nothing_kept_names(world):
    store, state, k = world
    report = collect(state.engine, store, older_than_s=7 * 86400, list_keys=True)
    gone = {"old_spec", "old_out", "old_value", "stray_old", "old_log", "tmp",
            "replaced_snapshot"}
    assert sorted(report.freed) == sorted(k[n] for n in gone)
    # The cache entry keeps `cached_out` (only the pruned execution's rows named it besides);
    # the running execution's events keep its sub-graph and what that names, its row its
    # engine's snapshot, and a snapshot it replaced goes; the registry
    # and the launch plan keep their specs; the grace period keeps the young stray.
    assert _present(store, k) == set(k) - gone
    assert report.objects_freed == len(gone)
    assert report.bytes_freed == sum(len(n) for n in (
        b'{"spec": "old only"}', b"old output", b"nobody, old", b"{}", b"half",
        b"an engine replaced")) + len(
        json.dumps({"file": {"key": k["old_out"]}}).encode())
    assert report.rows_pruned == 3
    with state.transaction() as tx:
        assert tx.get_execution("old") is None and tx.nodes("old") == []
        assert tx.events("old") == []
        assert {r.id for r in tx.executions()} == {"running", "recent"}
    assert not os.path.exists(os.path.join(store.root, "logs", "old"))
    again = collect(state.engine, store, older_than_s=7 * 86400)
    assert again.objects_freed == 0 and again.rows_pruned == 0


def test_an_object_refreshed_after_the_listing_is_kept(tmp_path):
    store = FsspecStore(str(tmp_path))
    key = _old(store, put_blob(store, b"used again"))
    cutoff = time.time() - 60
    put_blob(store, b"used again")  # a client finds it there: its write time is made now
    assert delete_if_old(store, key, cutoff) is None
    assert store.exists(key)
    _old(store, key)
    assert delete_if_old(store, key, cutoff) == len(b"used again")
    assert not store.exists(key)


def test_graft_gc_refuses_a_memory_database_and_a_bad_duration(monkeypatch):
    from click.testing import CliRunner

    from sdk.cli_gc import gc

    monkeypatch.setenv("GRAFT_DATABASE_URL", "memory://")
    done = CliRunner().invoke(gc, [])
    assert done.exit_code == 1 and "gc needs the scheduler's SQL database" in done.output
    done = CliRunner().invoke(gc, ["--older-than", "soon"])
    assert done.exit_code == 2 and "expected a duration" in done.output


def test_periodic_gc_settings(monkeypatch):
    from scheduler.retention.daily import GcSettings

    for name in ("GRAFT_GC_OLDER_THAN", "GRAFT_GC_EVERY", "GRAFT_GC_GRACE"):
        monkeypatch.delenv(name, raising=False)
    assert GcSettings.from_env().older_than_s is None  # off unless asked for
    monkeypatch.setenv("GRAFT_GC_OLDER_THAN", "30d")
    monkeypatch.setenv("GRAFT_GC_EVERY", "12h")
    monkeypatch.setenv("GRAFT_GC_GRACE", "2h")
    assert GcSettings.from_env() == GcSettings(30 * 86400, 12 * 3600, 7200)
    monkeypatch.setenv("GRAFT_GC_EVERY", "1s")
    assert GcSettings.from_env().every_s == 60  # at least a minute
