"""A node's inputs and outputs resolved from board records alone."""

from __future__ import annotations

from sdk.remote.node_io import node_values
from sdk.values.literals import to_ref
from sdk.values.store import MemoryStore


def test_inputs_follow_references_paths_and_stored_values():
    store = MemoryStore()
    big = list(range(2000))  # stored, not inline
    records = {
        "n0": {"inputs": {"n": {"val": {"v": 3}}},
               "outputs": {"o0": {"val": {"v": {"total": 5, "label": "sq"}}}}},
        "n1": {"inputs": {"total": {"path": {"of": {"ref": ["n0", "o0"]},
                                              "steps": [["attr", "total"]], "from": "n0.o0"}},
                          "xs": {"list": [{"ref": ["n0", "o0"]}, {"val": to_ref(big, store)}]},
                          "later": {"ref": ["n2", "o0"]}},
               "outputs": None},
        "n2": {"inputs": {}, "outputs": None},
    }
    assert node_values(records, "n0", "inputs", store) == {"n": 3}
    shown = node_values(records, "n1", "inputs", store)
    assert shown["total"] == 5
    assert shown["xs"] == [{"total": 5, "label": "sq"}, big]
    assert shown["later"] == "<not available: output 'o0' of node 'n2' does not exist yet>"
    assert node_values(records, "n1", "outputs", store) is None
    assert node_values({"n0": {}}, "n0", "inputs", store) is None  # an older board record
