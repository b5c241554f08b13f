"""Sub-graphs loaded off the loop: a slow one puts off its report and what follows it in its
execution, a quick one does not, and a load's error reaches whoever takes it."""

from __future__ import annotations

import gc
import threading

import pytest

from scheduler import collector
from scheduler.subgraphs import Subgraphs
from sdk.model.errors import StoreObjectMissing


class Spec:
    """What a load returns, as far as Subgraphs looks (its nodes)."""

    def __init__(self, text, nodes=0):
        self.text, self.nodes = text, [None] * nodes

    def __eq__(self, other):
        return self.text == other


def report(eid, node, key):
    return {"type": "report", "execution": eid, "node": node, "attempt": 1,
            "outcome": "subgraph", "subgraph": key}


def test_a_slow_sub_graph_puts_off_its_execution_and_nothing_else():
    release = threading.Event()

    def load(key, node):
        if key == "slow":
            release.wait(10)
        return Spec(f"spec {key} of {node}")

    subgraphs = Subgraphs(load)
    bodies = [{"type": "submit", "execution": "a"}, report("a", "dyn", "slow"),
              {"type": "report", "execution": "b", "node": "t", "outcome": "values"},
              {"type": "cancel", "execution": "a"}, report("b", "dyn", "quick")]
    assert subgraphs.start(bodies) == {1, 3}
    assert subgraphs.take("quick", "dyn") == "spec quick of dyn"
    assert subgraphs.loading() and not subgraphs.finished.is_set()
    release.set()
    assert subgraphs.finished.wait(5)
    assert subgraphs.start([bodies[1], bodies[3]]) == set()  # loaded: nothing put off
    assert subgraphs.take("slow", "dyn") == "spec slow of dyn"
    assert not subgraphs.loading()


def test_the_error_of_a_load_is_raised_by_take_and_a_key_nobody_loaded_loads_inline():
    def load(key, node):
        raise StoreObjectMissing(f"{key} is gone (node {node})")

    subgraphs = Subgraphs(load)
    assert subgraphs.start([report("a", "dyn", "k")]) == set()
    with pytest.raises(StoreObjectMissing, match="k is gone"):
        subgraphs.take("k", "dyn")
    with pytest.raises(StoreObjectMissing, match="other is gone"):
        subgraphs.take("other", "dyn")


def test_what_applied_messages_loaded_is_forgotten():
    subgraphs = Subgraphs(lambda key, node: Spec(key))
    bodies = [report("a", "dyn", "k1"), report("a", "dyn2", "k2")]
    subgraphs.start(bodies)
    subgraphs.discard(bodies)  # e.g. both refused: neither took its sub-graph
    assert subgraphs._loading == {}


def test_a_sub_graph_loads_with_the_collector_paused_and_a_large_one_is_frozen(monkeypatch):
    monkeypatch.setattr("scheduler.subgraphs.FREEZE_ABOVE", 100)
    seen = []

    def load(key, node):
        seen.append(gc.isenabled())
        return Spec(key, nodes=100 if key == "large" else 99)

    gc.unfreeze()
    subgraphs = Subgraphs(load)
    try:
        subgraphs.start([report("a", "dyn", "small")])
        assert subgraphs.take("small", "dyn") == "small"
        assert gc.get_freeze_count() == 0
        subgraphs.start([report("b", "dyn", "large")])
        assert subgraphs.take("large", "dyn") == "large"
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert seen == [False, False] and gc.isenabled()


def test_paused_collection_resumes_after_the_last_of_several_threads():
    started, release = threading.Barrier(3), threading.Event()

    def hold():
        with collector.collection_paused():
            started.wait(5)
            release.wait(5)

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    started.wait(5)
    with collector.collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the two threads still hold it
    release.set()
    for t in threads:
        t.join(5)
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.collection_paused():
            pass
        assert not gc.isenabled()  # off before: left off
    finally:
        gc.enable()
