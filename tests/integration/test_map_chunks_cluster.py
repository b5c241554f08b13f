"""A large map travels in chunks (several items a message, `sdk.wire.chunks`) and gives what
the in-process runner gives: items that fail retry on their own, a tolerant map keeps None for
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


def test_a_chunked_map_with_failing_and_retried_items_equals_in_process(cluster):
    client = cluster.client()
    before = len(chunk_lines(cluster))
    tolerant = client.submit(cf.chunked_map, n=ITEMS)
    strict = client.submit(cf.chunked_map_strict, n=ITEMS)
    local = cf.chunked_map(n=ITEMS)
    assert local[13] is None and local[113] is None and local[14] == 42
    assert tolerant.wait(timeout=180) == local
    with pytest.raises(ExecutionFailed) as remote:
        strict.wait(timeout=180)
    with pytest.raises(ExecutionFailed) as in_process:
        cf.chunked_map_strict(n=ITEMS)
    [r], [p] = remote.value.failures, in_process.value.failures
    # Items 13 and 113 always fail, and the strict map fails with the first that runs out of
    # attempts: 13 in process; on the cluster either, as their retries happen to run.
    either = {p.message, p.message.replace("map_shaky/13: ValueError: 13 ",
                                           "map_shaky/113: ValueError: 113 ")}
    assert len(either) == 2
    assert (r.node_id, r.error_type) == (p.node_id, p.error_type) and r.message in either
    # The items went out in chunks, and each retried item has the attempts it would alone.
    assert len(chunk_lines(cluster)) > before
    nodes = {n.id: n for n in tolerant.nodes()}
    item = next(nid for nid in nodes if nid.endswith("/7"))
    assert nodes[item].attempts == 2 and nodes[item].state == "SUCCEEDED"
    gone = next(nid for nid in nodes if nid.endswith("/13"))
    assert nodes[gone].attempts == 2 and nodes[gone].state == "FAILED"


def test_a_chunked_dynamic_fan_out_equals_in_process(cluster):
    """A dynamic's siblings of one task template share messages; the failures and retries
    are each node's own, as in process."""
    client = cluster.client()
    before = len(chunk_lines(cluster))
    fan = client.submit(cf.chunked_fan, n=ITEMS)
    failing = client.submit(cf.chunked_fan_failing, n=ITEMS)
    assert fan.wait(timeout=180) == cf.chunked_fan(n=ITEMS)
    with pytest.raises(ExecutionFailed) as remote:
        failing.wait(timeout=180)
    with pytest.raises(ExecutionFailed) as in_process:
        cf.chunked_fan_failing(n=ITEMS)
    assert [(f.node_id, f.error_type, f.message) for f in remote.value.failures] == \
        [(f.node_id, f.error_type, f.message) for f in in_process.value.failures]
    assert len(chunk_lines(cluster)) > before
    nodes = {n.id: n for n in fan.nodes()}
    retried = [n for n in nodes.values() if n.attempts == 2]
    assert retried and all(n.state == "SUCCEEDED" for n in retried)
    assert all(n.attempts == 1 for n in nodes.values()
               if n.id.count("/") == 1 and n.id not in {r.id for r in retried})
