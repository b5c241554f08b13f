"""Who is up: schedulers serving, and the workers of each tier queue, as Redis heartbeats.

Each serving scheduler and each worker says it is alive every few seconds in a sorted set
(`<prefix>:alive:<role>`, member = its name, score = when its word runs out). A client that
waits on something tells from these whether anyone is there to do it: no scheduler seen
(nothing will start a submitted execution), no worker on a tier's queue (its nodes stay
QUEUED). A heartbeat missed by a stuck or killed process runs out after its TTL.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import redis

from sdk.wire.keys import Keys

log = logging.getLogger(__name__)

SCHEDULER = "scheduler"
BEAT_S = 3.0
TTL_S = 12.0


def worker_role(queue: str) -> str:
    """The role the workers of tier queue `queue` (e.g. `mem-1Gi`) beat as."""
    return f"worker:{queue}"


class Presence:
    """Heartbeats under one key prefix."""

    def __init__(self, client: redis.Redis, prefix: str):
        self.redis = client
        self.keys = Keys(prefix)

    def _key(self, role: str) -> str:
        return self.keys.alive(role)

    def beat(self, role: str, member: str, ttl_s: float = TTL_S) -> None:
        """Say `member` is alive as `role` for `ttl_s` seconds (and drop words run out)."""
        now = time.time()
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self._key(role), {member: now + ttl_s})
            pipe.zremrangebyscore(self._key(role), "-inf", now)
            pipe.expire(self._key(role), int(ttl_s * 10))
            pipe.execute()

    def gone(self, role: str, member: str) -> None:
        """`member` stops as `role` (a clean shutdown, seen at once)."""
        self.redis.zrem(self._key(role), member)

    def alive(self, role: str) -> list[str]:
        """The members whose word has not run out."""
        return [m.decode() for m in self.redis.zrangebyscore(self._key(role), time.time(),
                                                             "+inf")]


class Heartbeat:
    """A daemon thread that beats for one member until stopped (a Redis error is logged at
    debug and retried next beat: a missed beat only makes the member look gone a while)."""

    def __init__(self, presence: Presence, role: str, member: str):
        self.presence, self.role, self.member = presence, role, member
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"graft-heartbeat-{role}",
                                       daemon=True)

    def start(self) -> Heartbeat:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.presence.beat(self.role, self.member)
            except (redis.RedisError, OSError) as exc:
                log.debug("heartbeat of %s %s not written: %s", self.role, self.member, exc)
            self.stopping.wait(BEAT_S)

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(redis.RedisError, OSError):  # its word runs out anyway
            self.presence.gone(self.role, self.member)
