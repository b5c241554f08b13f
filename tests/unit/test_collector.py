"""The scheduler's guard against full garbage collections over the graphs it holds
(scheduler/collector.py). These change the interpreter's collector, so each restores it."""

from __future__ import annotations

import gc
import time
import weakref

import pytest

from scheduler.collector import GraphCollector


@pytest.fixture(autouse=True)
def restored_collector():
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.collect()


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Held:
    """What the scheduler says it holds, and how often it was asked."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.asked = 0

    def __call__(self):
        self.asked += 1
        return self.nodes


def test_below_the_bound_nothing_is_frozen():
    collector = GraphCollector(Held(999), freeze_above=1000, clock=Clock())
    collector.after_turn()
    assert not collector.frozen and gc.get_freeze_count() == 0


def test_a_large_graph_is_frozen_each_turn_and_handed_back_once_it_shrinks():
    held, clock = Held(1000), Clock()
    collector = GraphCollector(held, freeze_above=1000, check_s=0.2, clock=clock)
    collector.after_turn()
    assert collector.frozen and gc.get_freeze_count() > 0
    survivors = [[i] for i in range(1000)]  # made by the next turn, and kept
    before = gc.get_freeze_count()
    collector.after_turn()
    assert gc.get_freeze_count() >= before + len(survivors)
    held.nodes = 500  # not under half yet
    clock.now = 1.0
    collector.after_turn()
    assert collector.frozen
    held.nodes = 499
    clock.now = 2.0
    collector.after_turn()
    assert not collector.frozen and gc.get_freeze_count() == 0


def test_the_size_held_is_asked_at_most_once_per_check_period():
    held, clock = Held(10), Clock()
    collector = GraphCollector(held, freeze_above=1000, check_s=0.2, clock=clock)
    for _ in range(50):
        collector.after_turn()
    assert held.asked == 1
    clock.now = 0.25
    collector.after_turn()
    assert held.asked == 2


class Node:
    pass


def test_garbage_cycles_made_while_frozen_are_still_collected_by_the_turn():
    collector = GraphCollector(Held(10), freeze_above=1, clock=Clock())
    collector.after_turn()
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    collector.after_turn()
    assert gone() is None


def test_release_hands_everything_back():
    collector = GraphCollector(Held(10), freeze_above=1, clock=Clock())
    collector.after_turn()
    assert gc.get_freeze_count() > 0
    collector.release()
    assert not collector.frozen and gc.get_freeze_count() == 0


def full_collection_s():
    started = time.perf_counter()
    gc.collect()
    return time.perf_counter() - started


def test_a_full_collection_no_longer_walks_a_frozen_graph():
    graph = [{"id": str(i), "bindings": {"x": {"val": {"v": i}}}, "dependents": []}
             for i in range(300_000)]  # about 1.2 million container objects
    unfrozen = min(full_collection_s() for _ in range(3))
    collector = GraphCollector(lambda: len(graph), freeze_above=100_000, clock=Clock())
    collector.after_turn()
    frozen = min(full_collection_s() for _ in range(3))
    assert frozen < unfrozen / 10, (frozen, unfrozen)


def test_graft_scheduler_runs_with_the_collector_tuned_for_it(monkeypatch):
    """`graft scheduler` runs the loop through `serve`: the youngest generation is collected
    every `GC_YOUNG` allocations, not 700, and what it built before serving is frozen. (The
    command built its `Loop` itself before, and ran with Python's defaults: a full collection
    every 2 to 3 s in a 1,000,000-item map.)"""
    from click.testing import CliRunner

    from scheduler import loop
    from sdk import cli

    seen = {}

    class Loop:
        def __init__(self, settings, state=None, metrics=None):
            self.notifier = type("Notifier", (), {"close": lambda self: seen.update(closed=1)})()
            seen["state"] = state

        def run(self):
            seen.update(threshold=gc.get_threshold(), frozen=gc.get_freeze_count())

    thresholds = gc.get_threshold()
    monkeypatch.setattr(loop, "Loop", Loop)
    monkeypatch.setattr(loop, "open_state", lambda url: "the state")
    monkeypatch.setattr(cli, "check_redis", lambda url: None)
    monkeypatch.setattr(cli, "check_store", lambda settings: None)
    monkeypatch.setenv("GRAFT_METRICS_PORT", "0")
    try:
        result = CliRunner().invoke(cli.cli, ["scheduler"])
    finally:
        gc.set_threshold(*thresholds)
    assert result.exit_code == 0, result.output
    assert seen["threshold"] == (loop.GC_YOUNG, 20, 100)
    assert seen["frozen"] > 0
    assert seen["state"] == "the state" and seen["closed"] == 1
