"""Snapshots of an engine (scheduler/snapshots.py): one restored goes on exactly as the engine
that took it, its large specs read again from the store; a snapshot made by other code, with
other settings, of another execution, or naming what is not the engine's, is refused; and a
scheduler rebuilds an execution from its newest snapshot and the events after it."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
import zlib

import pytest
from test_engine import INTS, complete, graph, node, ref, snapshot, val
from test_scheduler import Harness, squares_wf

from scheduler import snapshots
from scheduler.snapshots import SnapshotError, stored_graph
from scheduler.state import MemoryState
from sdk.model import config, spec_lazy
from sdk.model.engine import Engine
from sdk.model.errors import SpecError, StoreError
from sdk.model.report import Report
from sdk.model.retry import RetryPolicy
from sdk.model.spec import GraphSpec, OutputSpec
from sdk.model.states import ExecutionState
from sdk.values.store import MemoryStore, put_blob

SETTINGS = {"graft_slice": 50, "window": 200, "gather_above": None}


def fan_spec(n: int) -> GraphSpec:
    children = [node(f"c{i}", {"x": val(i)}) for i in range(n)]
    return GraphSpec("fan", {}, children,
                     [OutputSpec("o0", INTS, {"list": [ref(f"c{i}") for i in range(n)]})])


def top_spec() -> GraphSpec:
    return graph([node("d", kind="dynamic", outputs={"o0": INTS})],
                 outputs={"o0": (INTS, ref("d"))})


def spill(ids):
    """The outputs of evicted children, as the scheduler reads them from their rows."""
    return {nid: {"o0": val(int(nid.rpartition("c")[2]) + 1)} for nid in ids}


@pytest.fixture
def stored(monkeypatch):
    """A store holding the top graph and a 1,000-node sub-graph read lazily."""
    monkeypatch.setattr(spec_lazy, "LAZY_CHARS", 0)
    store = MemoryStore()
    top = put_blob(store, top_spec().dumps().encode(), "specs")
    sub = put_blob(store, fan_spec(1_000).dumps().encode(), "specs")
    return store, top, sub


def started(store, top, sub, **options) -> tuple[Engine, list[str]]:
    engine = Engine(stored_graph(store, top), {}, graft_slice=50, window=200, spill=spill,
                    **options)
    engine.start()
    ready = engine.apply(Report.grafted("d", 1, stored_graph(store, sub)))
    return engine, ready


def run(engine: Engine, ready: list[str], count: int | None = None) -> list[str]:
    """Complete `count` children (all, when None) as a scheduler would: the next slice as
    the window allows, what settled dropped every 50 reports; return what is still ready."""
    done = 0
    while (ready or engine.grafting) and (count is None or done < count):
        if engine.can_graft:
            ready += engine.graft_more()
        nid = ready.pop(0)
        ready += complete(engine, nid, 1, {"o0": val(int(nid.rpartition("c")[2]) + 1)})
        done += 1
        if done % 50 == 0:
            engine.drain_changes()
            engine.evict()
    return ready


def restore(data: bytes, store, top, execution="e1", settings=SETTINGS):
    restored = snapshots.load(data, execution, settings, stored_graph(store, top),
                              lambda key: stored_graph(store, key))
    restored.engine.reattach(spill, RetryPolicy())
    return restored


def test_a_restored_engine_goes_on_as_the_one_that_took_the_snapshot(stored):
    store, top, sub = stored
    engine, ready = started(store, top, sub)
    ready = run(engine, ready, 430)
    assert engine.grafting and engine.evicted > 0  # mid-graft, some nodes dropped
    data = snapshots.dump(engine, "e1", 431, {"d": "cache-key"}, SETTINGS)

    restored = restore(data, store, top)
    assert (restored.seq, restored.cache_keys) == (431, {"d": "cache-key"})
    copy = restored.engine
    assert snapshot(copy) == snapshot(engine)
    assert (copy.active, copy.queued, copy.evicted, copy.size, copy.total) == \
        (engine.active, engine.queued, engine.evicted, engine.size, engine.total)
    # The sub-graph's nodes are read from the store again, not carried in the snapshot.
    assert len(data) < 100_000
    nodes = copy._window.grafts[0].graph.nodes
    assert nodes.source == sub
    # It reads on where the engine had got to, not from the first node again.
    assert nodes.cursor == engine._window.grafts[0].graph.nodes.cursor != (0, nodes.cursor[1])
    with pytest.raises(SpecError, match="no node starts at"):
        nodes.resume((2_000, 0))

    run(engine, list(ready))
    run(copy, list(ready))
    assert engine.state == copy.state == ExecutionState.SUCCEEDED
    assert copy.outputs == engine.outputs
    assert copy.outputs["o0"] == {"list": [val(i + 1) for i in range(1_000)]}


def test_a_snapshot_of_another_execution_code_or_settings_is_refused(stored, monkeypatch):
    store, top, sub = stored
    engine, ready = started(store, top, sub)
    run(engine, ready, 10)
    data = snapshots.dump(engine, "e1", 11, {}, SETTINGS)
    with pytest.raises(SnapshotError, match="of execution 'e1'"):
        restore(data, store, top, execution="e2")
    with pytest.raises(SnapshotError, match="other settings"):
        restore(data, store, top, settings={**SETTINGS, "window": 20_000})
    with pytest.raises(SnapshotError, match="not an engine snapshot"):
        restore(b"{}", store, top)
    monkeypatch.setattr(snapshots, "code_digest", lambda: "0" * 64)
    with pytest.raises(SnapshotError, match="another version of the engine"):
        restore(data, store, top)


class _Forged:
    def __reduce__(self):
        return os.system, ("echo forged > forged.txt",)


class _Globals:
    def __reduce__(self):
        return getattr, (config.env_number, "__globals__")


class _Attribute:
    def __reduce__(self):
        return getattr, (config.env_number, "x")


def _forged(body: bytes) -> bytes:
    header = {"execution": "e1", "seq": 1, "code": snapshots.code_digest(),
              "settings": SETTINGS}
    return snapshots.MAGIC + json.dumps(header).encode() + b"\n" + zlib.compress(body)


@pytest.mark.parametrize("body, refused", [
    (pickle.dumps((_Forged(), {})), "names posix.system|names nt.system"),
    # a name the engine's module imported, not one of its own
    (b"\x80\x05csdk.model.config\nos\n.", "names sdk.model.config.os"),
    # `getattr` is only for the engine's bound methods
    (pickle.dumps((_Globals(), {})), "'__globals__' of a function"),
    (pickle.dumps((_Attribute(), {})), "'x' of a function"),
])
def test_a_snapshot_naming_what_is_not_the_engines_is_refused(stored, tmp_path, monkeypatch,
                                                               body, refused):
    store, top, _ = stored
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SnapshotError, match=refused):
        restore(_forged(body), store, top)
    assert not (tmp_path / "forged.txt").exists()


def test_what_cannot_be_kept_is_not_snapshotted(stored):
    store, top, sub = stored
    engine, ready = started(store, top, sub, gather_above=10)
    run(engine, ready)
    assert engine.gathers  # the 1,000 outputs are left to the driver to gather
    with pytest.raises(pickle.PicklingError, match="gather"):
        snapshots.dump(engine, "e1", 1_001, {}, SETTINGS)

    unnamed = Engine(top_spec(), {}, graft_slice=50, window=200, spill=spill)
    unnamed.start()
    unnamed.apply(Report.grafted("d", 1, GraphSpec.loads(store.get(sub))))  # no `source`
    with pytest.raises(pickle.PicklingError, match="names no store object"):
        snapshots.dump(unnamed, "e1", 2, {}, SETTINGS)


# ---- the scheduler ----------------------------------------------------------------------

@pytest.fixture
def h(tmp_path):
    harness = Harness(MemoryState())
    harness.settings = dataclasses.replace(harness.settings, snapshot_events=6)
    harness.scheduler = harness.new_scheduler(graft_slice=4, window=6)
    return harness


def advance(h: Harness, turns: int) -> None:
    for _ in range(turns):
        h.handle(h.work())
        h.scheduler.graft_more()


def snapshots_in(h: Harness) -> list[str]:
    return h.store.keys("snapshots")


def test_a_rebuild_replays_only_the_events_after_the_newest_snapshot(h, caplog):
    h.submit(squares_wf, "e1", n=30)
    advance(h, 5)
    record = h.execution("e1")
    assert record.snapshot_seq >= 6 and record.snapshot_key.startswith("snapshots/")
    assert snapshots_in(h) == [record.snapshot_key]  # each replaced the one before
    events = h.events("e1")
    assert events > record.snapshot_seq

    h.scheduler = h.new_scheduler(graft_slice=4, window=6)
    with caplog.at_level(logging.INFO, "graft.scheduler"):
        h.scheduler.resend(h.scheduler.recover())
    assert (f"rebuilt from its snapshot after event {record.snapshot_seq}: "
            f"{events - record.snapshot_seq} events replayed") in caplog.text
    h.run_to_end()
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(30)]
    # Its snapshot went with its end.
    assert h.execution("e1").snapshot_key is None and snapshots_in(h) == []


@pytest.mark.parametrize("damage", ["seq", "settings", "gone"])
def test_a_snapshot_that_cannot_be_used_is_passed_over_for_every_event(h, caplog, damage):
    h.submit(squares_wf, "e1", n=30)
    advance(h, 5)
    record = h.execution("e1")
    assert record.snapshot_key is not None
    options = {"graft_slice": 4, "window": 6}
    if damage == "seq":  # the row names another event than the snapshot holds
        with h.state.transaction() as tx:
            tx.update_execution("e1", snapshot_seq=record.snapshot_seq - 1)
    elif damage == "settings":
        options["window"] = 8
    else:
        h.store.delete(record.snapshot_key)
    h.scheduler = h.new_scheduler(**options)
    with caplog.at_level(logging.INFO, "graft.scheduler"):
        h.scheduler.resend(h.scheduler.recover())
    assert "cannot be used" in caplog.text and "rebuilt from its snapshot" not in caplog.text
    # The first batch after the rebuild snapshots it again, under this scheduler's settings.
    advance(h, 1)
    assert h.execution("e1").snapshot_key not in (None, record.snapshot_key)
    h.run_to_end()
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(30)]


def test_snapshots_can_be_turned_off(h):
    h.settings = dataclasses.replace(h.settings, snapshot_events=0)
    h.scheduler = h.new_scheduler(graft_slice=4, window=6)
    h.submit(squares_wf, "e1", n=30)
    advance(h, 5)
    assert h.execution("e1").snapshot_key is None and snapshots_in(h) == []


@pytest.mark.parametrize("failing", ["dump", "store"])
def test_a_snapshot_that_cannot_be_taken_leaves_the_run_as_it_was(h, monkeypatch, caplog,
                                                                   failing):
    dump = snapshots.dump

    def refuse(*args, **kwargs):
        if failing == "dump":
            raise pickle.PicklingError("a gather is under way")
        return dump(*args, **kwargs)

    def put(key, data):
        if key.startswith("snapshots/"):
            raise StoreError("the store is down")
        return MemoryStore.put(h.store, key, data)

    monkeypatch.setattr(snapshots, "dump", refuse)
    if failing == "store":
        monkeypatch.setattr(h.store, "put", put)
    h.submit(squares_wf, "e1", n=60)
    with caplog.at_level(logging.INFO, "graft.scheduler"):
        advance(h, 5)
    assert h.execution("e1").snapshot_key is None and snapshots_in(h) == []
    assert ("a gather is under way" if failing == "dump" else "was not stored") in caplog.text
    monkeypatch.undo()  # snapshots are taken again, as many events later
    advance(h, 3)
    assert h.execution("e1").status == "RUNNING" and h.execution("e1").snapshot_key is not None
    h.run_to_end()
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(60)]


def test_snapshots_off_are_not_used_either(h, caplog):
    h.submit(squares_wf, "e1", n=30)
    advance(h, 5)
    assert h.execution("e1").snapshot_key is not None
    h.settings = dataclasses.replace(h.settings, snapshot_events=0)
    h.scheduler = h.new_scheduler(graft_slice=4, window=6)
    with caplog.at_level(logging.INFO, "graft.scheduler"):
        h.scheduler.resend(h.scheduler.recover())
    assert "rebuilt from its snapshot" not in caplog.text
    h.run_to_end()
    assert h.outputs(squares_wf, "e1") == [i * i for i in range(30)]


def test_a_large_top_graph_is_read_on_from_where_it_was(monkeypatch):
    monkeypatch.setattr(spec_lazy, "LAZY_CHARS", 0)
    store = MemoryStore()
    top = put_blob(store, fan_spec(1_000).dumps().encode(), "specs")
    engine = Engine(stored_graph(store, top), {}, graft_slice=50, window=200, spill=spill)
    ready = run(engine, engine.start(), 300)
    data = snapshots.dump(engine, "e1", 301, {}, SETTINGS)
    loaded = []

    def graph_at(key):
        loaded.append(key)
        return stored_graph(store, key)

    copy = snapshots.load(data, "e1", SETTINGS, stored_graph(store, top), graph_at).engine
    copy.reattach(spill, RetryPolicy())
    assert loaded == []  # the top graph given is the one read on, outputs included
    assert copy.spec.nodes.cursor == engine.spec.nodes.cursor
    run(copy, list(ready))
    assert copy.outputs["o0"] == {"list": [val(i + 1) for i in range(1_000)]}
