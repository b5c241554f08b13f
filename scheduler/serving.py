"""What the loop knows that the scheduler's core asks for: which shards this scheduler serves
now (its `Tenure`), and how full the broker's queues are (its `QueueDepths`)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import redis

from scheduler.state import StateTx
from sdk.wire.control import ControlChannel, shard_of

# Reports waiting in the control streams (read from their lengths with the queue depths) past
# which no attempt is sent: workers that report faster than the scheduler applies would only
# grow that backlog, and the small executions of a shard wait behind it in its stream.
BACKLOG_REPORTS = 2_000


class Shards:
    """The shards served now (`serve`, as the lock grants them) and the lock's fence."""

    def __init__(self, lock: Any):
        self.lock = lock
        self.held: frozenset[int] = frozenset()

    def serve(self, shards: Collection[int]) -> None:
        self.held = frozenset(shards)

    def owns(self, execution_id: str) -> bool:
        return shard_of(execution_id) in self.held

    def fence(self, tx: StateTx) -> None:
        """The shard leases' fence (scheduler/shards.py); the Redis lock has none."""
        fence = getattr(self.lock, "fence", None)
        if fence is not None:
            fence(tx)


class Depths:
    """The depths of the tier queues and, in the same round trip, how many reports wait in
    the control streams this scheduler reads (entries counted as the reports they lately
    carried, `observe`)."""

    def __init__(self, client: redis.Redis, control: ControlChannel):
        self.redis = client
        self.control = control
        self.per_entry = 1.0  # reports per control stream entry, lately
        self.backlog = 0.0  # reports waiting in the control streams, at the last read

    def read(self, queues: list[str]) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for queue in queues:
            pipe.llen(queue)
        for key in self.control.keys:
            pipe.xlen(key)
        replies = pipe.execute()
        self.backlog = sum(replies[len(queues):]) * self.per_entry
        return dict(zip(queues, replies[:len(queues)]))

    def backlogged(self) -> bool:
        return self.backlog > BACKLOG_REPORTS

    def observe(self, reports: int, entries: int) -> None:
        """A read took `entries` entries carrying `reports` reports."""
        if entries:
            self.per_entry = reports / entries
