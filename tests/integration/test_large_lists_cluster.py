"""Large lists in and out of tasks of the 256Mi tier on a real cluster, each summed there as
in-process: lists of a million items made by a task and read by another, and a list collected
by a dynamic as a binding per item (the shape of a fan-out's collected outputs) and by a map.

Before lists of numbers were stored as buffers and inputs with a binding per item were read
lightly, a runner needed ~430 bytes an item to receive a collected list: 600,000 items were
stopped by the 256Mi limit (`test_a_collected_list_is_read_in_256mi` fails there with
OutOfMemory). The dynamic building 600,000 bindings is what takes the time of that test
(~20 s on an idle 2-core machine)."""

from __future__ import annotations

import pytest
from workflows import large_lists as ll

pytestmark = [pytest.mark.integration]

MILLION = 1_000_000
COLLECTED = 600_000


def _read_in_256mi(execution) -> None:
    readers = [n for n in execution.nodes()
               if n.id.startswith(("total", "float_total", "count_true"))]
    assert readers and {(n.state, n.queue) for n in readers} == {("SUCCEEDED", "mem-256Mi")}


@pytest.mark.timeout(120)
def test_a_million_items_made_and_read_in_256mi(cluster):
    made = cluster.client().submit(ll.made_wf, n=MILLION)
    assert made.wait(timeout=100) == ll.made_wf(n=MILLION)
    _read_in_256mi(made)


@pytest.mark.timeout(400)
def test_a_collected_list_is_read_in_256mi(cluster):
    client = cluster.client()
    collected = client.submit(ll.collected_wf, n=COLLECTED)
    mapped = client.submit(ll.mapped_wf, xs=list(range(300)))
    assert mapped.wait(timeout=120) == ll.mapped_wf(xs=list(range(300)))
    assert collected.wait(timeout=360) == ll.collected_wf(n=COLLECTED)
    _read_in_256mi(collected)
