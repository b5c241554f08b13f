"""A large map travels in chunks (several items a message, `sdk.wire.chunks`) and runs as if
each item were sent alone: items that fail retry on their own, a tolerant map keeps None for
those that failed for good, a strict one fails naming them."""

from __future__ import annotations

import pytest
from workflows import control_flow as cf

from sdk import ExecutionFailed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ITEMS = 600


def chunk_lines(cluster) -> list[str]:
    """The worker log lines of chunks that ran."""
    lines = []
    for path in sorted(cluster.logs.glob("*worker*.log")):
        lines += [line for line in path.read_text(errors="replace").splitlines()
                  if "'ran':" in line]
    return lines


def test_a_chunked_map_with_failing_and_retried_items(cluster):
    """(Not compared with in-process runs, which retry nothing, as flytekit's.)"""
    client = cluster.client()
    before = len(chunk_lines(cluster))
    tolerant = client.submit(cf.chunked_map, n=ITEMS)
    strict = client.submit(cf.chunked_map_strict, n=ITEMS)
    assert tolerant.wait(timeout=180) == [None if x in (13, 113) else 3 * x
                                          for x in range(ITEMS)]
    with pytest.raises(ExecutionFailed) as remote:
        strict.wait(timeout=180)
    [r] = remote.value.failures
    # Items 13 and 113 always fail, and the strict map fails with the first that runs out of
    # attempts: either, as their retries happen to run.
    assert (r.node_id, r.error_type) == ("map_shaky", "MapFailed")
    assert r.message.startswith(f"map 'map_shaky': 1 of {ITEMS} items failed, at most 0 may: ")
    assert r.message.endswith(("map_shaky/13: ValueError: 13 always fails",
                               "map_shaky/113: ValueError: 113 always fails"))
    # The items went out in chunks, and each retried item has the attempts it would alone.
    assert len(chunk_lines(cluster)) > before
    nodes = {n.id: n for n in tolerant.nodes()}
    item = next(nid for nid in nodes if nid.endswith("/7"))
    assert nodes[item].attempts == 2 and nodes[item].state == "SUCCEEDED"
    gone = next(nid for nid in nodes if nid.endswith("/13"))
    assert nodes[gone].attempts == 2 and nodes[gone].state == "FAILED"


def test_a_chunked_dynamic_fan_out(cluster):
    """A dynamic's siblings of one task template share messages; the failures and retries
    are each node's own."""
    client = cluster.client()
    before = len(chunk_lines(cluster))
    fan = client.submit(cf.chunked_fan, n=ITEMS)
    failing = client.submit(cf.chunked_fan_failing, n=ITEMS)
    assert fan.wait(timeout=180) == [3 * x for x in range(ITEMS) if x not in (13, 113)]
    with pytest.raises(ExecutionFailed) as remote:
        failing.wait(timeout=180)
    assert [(f.node_id, f.error_type) for f in remote.value.failures] in (
        [("shaky_fan/shaky-13", "ValueError")], [("shaky_fan/shaky-113", "ValueError")])
    assert len(chunk_lines(cluster)) > before
    nodes = {n.id: n for n in fan.nodes()}
    retried = [n for n in nodes.values() if n.attempts == 2]
    assert retried and all(n.state == "SUCCEEDED" for n in retried)
    assert all(n.attempts == 1 for n in nodes.values()
               if n.id.count("/") == 1 and n.id not in {r.id for r in retried})
