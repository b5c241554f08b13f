"""What the scheduler tells its metrics, and the `Observer` that ignores it (metrics off).
`scheduler.metrics.PrometheusMetrics` counts it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# What a committed batch observed (`Batch.observed`), applied by `Observer.committed`:
#   ("finished", queue, node_state)      a node that runs on a worker reached a final state
#   ("execution", id, old_status, new)   an execution's status changed (old None: it is new;
#                                        the first old and the last new of a batch count)
#   ("graft", seconds)                   a dynamic's sub-graph was grafted
#   ("continued", queue)                 a node runs as the link of a chain, on a worker of
#                                        this tier queue (scheduler/continuation.py)
Observation = tuple[Any, ...]


class Observer:
    """What the scheduler reports to its metrics. This base ignores everything: it is what
    the scheduler holds when metrics are off, and costs a method call per event."""

    def dispatched(self, queues: Iterable[str]) -> None:
        """Attempt messages were sent, one per item, to these tier queues."""

    def committed(self, observed: list[Observation]) -> None:
        """A batch committed; `observed` lists what it changed."""

    def reports_applied(self, entry_ids: list[bytes]) -> None:
        """The reports these control-stream entries carried were applied and committed."""

    def batch_applied(self, messages: int, seconds: float) -> None:
        """The loop applied a batch of `messages` control messages in `seconds`."""

    def started(self, client: Any, state: Any) -> None:
        """This scheduler took over: count the executions `state` (a StateStore) holds, and
        measure the clock offset to Redis (`client`)."""

    def serving(self, serving: bool) -> None:
        """This scheduler took the lock and serves (True), or stands by (False)."""

    def shards(self, count: int) -> None:
        """This scheduler serves `count` shards of the executions."""

    def nodes_held(self, count: int) -> None:
        """The executions this scheduler holds keep `count` nodes in memory (their window:
        a large graph's nodes not yet in, a map's items not yet created, and the nodes
        dropped once done are not counted)."""

    def sync_clock(self, client: Any) -> None:
        """Measure the offset from this host's clock to Redis's (`client`: a redis.Redis)."""

    def gc_finished(self, report: Any) -> None:
        """A gc ended (`scheduler.retention.collect.GcReport`): what it pruned and freed, and
        what the store holds now."""

    def gc_failed(self) -> None:
        """A gc stopped on an error."""
