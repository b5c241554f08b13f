"""A dynamic's own memory on a real cluster (issue 26, point 4): the body of a dynamic that
generates 30,000 nodes runs in a 96Mi tier, and the result is the in-process run's.

Why 30,000 nodes in 96Mi rather than 100,000 in 256Mi: the runner process starts at ~45 MiB,
so 96Mi leaves ~50 MiB for the body. At ~2,500 bytes a generated node (before this change) a
30,000-node body needs ~73 MiB above that and is stopped as OutOfMemory; at the bound of
300 bytes a node it needs ~9 MiB. The same ratio of headroom to nodes as 100,000 in 256Mi,
with 30,000 few-ms children rather than 100,000, so that the test stays near a minute on a
two-core machine."""

from __future__ import annotations

import pytest
from workflows import big_dynamic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

N = 30_000


def test_a_30000_node_dynamic_body_runs_in_a_96mi_tier(make_cluster):
    cluster = make_cluster(env={"GRAFT_TIERS": "96Mi,256Mi,1Gi,4Gi,16Gi"})
    cluster.start_worker("96Mi")
    expected = big_dynamic.wide_small_wf(n=N)  # in-process
    assert expected == sum(range(1, N + 1))
    execution = cluster.client().submit(big_dynamic.wide_small_wf, n=N)
    assert execution.wait(timeout=240) == expected, cluster.logs_tail()
