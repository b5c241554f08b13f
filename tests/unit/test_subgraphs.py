"""Sub-graphs loaded off the loop: a slow one puts off its report and what follows it in its
execution, a quick one does not, and a load's error reaches whoever takes it."""

from __future__ import annotations

import threading

import pytest

from scheduler.subgraphs import Subgraphs
from sdk.model.errors import StoreObjectMissing


def report(eid, node, key):
    return {"type": "report", "execution": eid, "node": node, "attempt": 1,
            "outcome": "subgraph", "subgraph": key}


def test_a_slow_sub_graph_puts_off_its_execution_and_nothing_else():
    release = threading.Event()

    def load(key, node):
        if key == "slow":
            release.wait(10)
        return f"spec {key} of {node}"

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
    subgraphs = Subgraphs(lambda key, node: key)
    bodies = [report("a", "dyn", "k1"), report("a", "dyn2", "k2")]
    subgraphs.start(bodies)
    subgraphs.discard(bodies)  # e.g. both refused: neither took its sub-graph
    assert subgraphs._loading == {}
