"""Whether the Redis the scheduler talks to still holds what graft wrote there.

Redis may come back from an outage empty (emptied, or restarted without persistence), or, under
Sentinel, as another server: a replica promoted after the master died, holding the master's
writes up to some point and none after it. Either way the scheduler rebuilds from its database
what Redis held (`Loop._recover_wiped`). An empty Redis is told by the epoch key, a random value
the scheduler writes once and finds gone; a failover by the server's `run_id`, which is followed
only on a `sentinel://` broker URL (a plain URL names one server for good).
"""

from __future__ import annotations

import uuid
from enum import Enum

import redis


class Change(str, Enum):
    """What happened to Redis since the last check."""

    NONE = "none"
    EMPTIED = "emptied"
    FAILED_OVER = "failed over"


class Epoch:
    """The epoch key `key` in `client`'s Redis, and (`follow_server`) the server's identity."""

    def __init__(self, client: redis.Redis, key: str, follow_server: bool = False):
        self.client = client
        self.key = key
        self.follow_server = follow_server
        self.value = ""
        self.server = ""

    def forget(self) -> None:
        """Forget what was seen: the next check only records what it finds."""
        self.value = ""
        self.server = ""

    def check(self) -> Change:
        """What happened since the last check: NONE the first time, or when Redis holds the
        same epoch on the same server. Redis errors are raised."""
        server = str(self.client.info("server").get("run_id", "")) if self.follow_server else ""
        current = self.client.get(self.key)
        if current is not None and current.decode() == self.value and server == self.server:
            return Change.NONE
        if current is None:
            self.client.set(self.key, uuid.uuid4().hex, nx=True)
            current = self.client.get(self.key)
        seen, emptied = bool(self.value), current is None or current.decode() != self.value
        self.value = current.decode() if current else ""
        self.server = server
        if not seen:
            return Change.NONE
        return Change.EMPTIED if emptied else Change.FAILED_OVER
