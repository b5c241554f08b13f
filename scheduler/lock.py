"""One active scheduler per broker and key prefix on a `memory://` state: a lock in Redis,
renewed while it serves. (On a SQL database, schedulers share the work through shard leases,
scheduler/shards.py.)

`SchedulerLock` holds a Redis key that a background thread renews every `ttl_s / 3`. A second
`graft scheduler` started beside it is a standby: it waits and takes the lock over within
`ttl_s` of the active one's death (at once when the holder ran on this machine and its process
is provably gone). One that loses the lock while serving (another scheduler took it over, or
Redis was away longer than the TTL) stops serving and stands by in turn.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import redis

from sdk.wire import sentinel
from sdk.wire.cache_lock import RELEASE_IF_HELD
from sdk.wire.connections import Outage, explain
from sdk.wire.control import ALL_SHARDS
from sdk.wire.keys import Keys

log = logging.getLogger("graft.scheduler")

LOCK_TTL_S = 5.0

# KEYS[1] = the lock, ARGV[1] = our owner id, ARGV[2] = TTL in ms. Ours: extend it (1). Gone
# (expired, or Redis lost it): take it again (2). Someone else's: leave it, return the holder.
_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
end
if not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 2
end
return holder
"""



class SchedulerLock:
    """One scheduler per broker and key prefix: a Redis key that a background thread renews
    every `ttl_s / 3` while this scheduler serves.

    Renewal and release compare the key's value with `owner` atomically (Lua), so a scheduler
    never extends or deletes another's lock. When the thread finds the key owned by someone
    else, or cannot renew it for a whole TTL (the key may have expired and been taken), the
    lock is lost for good: `lost` turns true and the loop must stop serving.
    """

    def __init__(self, url: str, prefix: str, owner: str | None = None,
                 ttl_s: float = LOCK_TTL_S, outage: Outage | None = None):
        self.ttl_s = ttl_s
        self.interval_s = ttl_s / 3
        # Its own client, with timeouts shorter than a renew interval: a call that hangs must
        # not hold the renewal past the TTL.
        self.url = url
        timeouts = {"socket_connect_timeout": min(3.0, self.interval_s),
                    "socket_timeout": self.interval_s}
        self.redis: redis.Redis = (sentinel.master_client(url, **timeouts)
                                   if sentinel.is_sentinel(url)
                                   else redis.Redis.from_url(url, **timeouts))
        self.key = Keys(prefix).scheduler_lock
        self.owner = owner or holder_id()
        self.outage = outage or Outage(log)
        self.renewed = 0.0  # monotonic time before the last successful SET/renewal
        self._renew_script = self.redis.register_script(_RENEW)
        self._release_script = self.redis.register_script(RELEASE_IF_HELD)  # if still ours
        self._lost = threading.Event()
        self._lost_reason = ""
        self._losing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.shards = ALL_SHARDS  # the one scheduler serves every execution

    @property
    def changed(self) -> bool:
        """Never: the lock holder serves every shard."""
        return False

    @property
    def lost(self) -> bool:
        """True once the lock is someone else's, or may be: never false again after that."""
        if self._lost.is_set():
            return True
        if self._thread is not None and time.monotonic() - self.renewed >= self.ttl_s:
            self._lose(f"the lock could not be renewed for {self.ttl_s:g} s and may have "
                       "expired")
            return True
        return False

    @property
    def lost_reason(self) -> str:
        return self._lost_reason

    def acquire(self, stopping: threading.Event | None = None) -> bool:
        """Wait until the lock is free (or provably abandoned), take it, and start renewing
        it. Survives Redis outages while it waits. False when `stopping` was set first."""
        warned = False
        while stopping is None or not stopping.is_set():
            started = time.monotonic()
            try:
                if self.redis.set(self.key, self.owner, nx=True, px=self._ttl_ms):
                    break
                holder = self.redis.get(self.key)
                holder_text = holder.decode(errors="replace") if holder else ""
                if holder and holder_gone(holder_text):
                    if self._release_script(keys=[self.key], args=[holder]):
                        log.warning("took over the scheduler lock from %s, whose process is "
                                    "gone", holder_text)
                    continue
                self.outage.back()
                if not warned:
                    log.warning("another scheduler (%s) is serving this broker; standing by "
                                "to take over", holder_text or "?")
                    warned = True
            except (redis.RedisError, OSError) as exc:
                self.outage.lost(explain(exc, self.url))
            time.sleep(0.5)
        else:
            return False
        self.outage.back()
        self.renewed = started
        self._lost.clear()
        self._lost_reason = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_forever, args=(self._stop,),
                                        name="graft-scheduler-lock", daemon=True)
        self._thread.start()
        return True

    def renew(self) -> bool:
        """Extend the lock once; False when it is lost (then it stays lost).

        A Redis error only logs: the next tick tries again, until a whole TTL has passed
        since the last renewal."""
        if self.lost:
            return False
        started = time.monotonic()
        try:
            result = self._renew_script(keys=[self.key], args=[self.owner, self._ttl_ms])
        except redis.RedisError as exc:
            if self.lost:  # a whole TTL without renewal
                return False
            self.outage.lost(explain(exc, self.url))
            return True
        if isinstance(result, bytes):
            self._lose(f"the lock is held by {result.decode(errors='replace')}")
            return False
        if self.lost:  # renewed, but too late: the key may have been someone else's meanwhile
            return False
        self.outage.back()
        if result == 2:
            log.warning("the scheduler lock %s had vanished (expired, or Redis lost it); "
                        "took it again", self.key)
        self.renewed = started
        return True

    def release(self, final: bool = True) -> None:
        """Stop renewing and delete the lock if it is still ours (`final` or not: a standby
        may take it meanwhile)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval_s + 5)
            self._thread = None
        try:
            self._release_script(keys=[self.key], args=[self.owner])
        except redis.RedisError as exc:
            log.warning("could not release the scheduler lock %s (%s); it expires within "
                        "%g s", self.key, exc, self.ttl_s)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_s * 1000))

    def _renew_forever(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            try:
                if not self.renew():
                    return
            except Exception:  # never let the thread die silently while the loop serves
                log.exception("unexpected error renewing the scheduler lock %s", self.key)

    def _lose(self, reason: str) -> None:
        with self._losing:  # the renew thread and the loop may both find out
            if self._lost.is_set():
                return
            self._lost_reason = reason
            self._lost.set()
        log.error("scheduler lock %s lost: %s; another scheduler may serve now, so this one "
                  "stops serving and stands by", self.key, reason)


def _start_ticks(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[19]
    except (OSError, IndexError):
        return None


def holder_id() -> str:
    """This process as a lock holder: host, pid and the pid's start time, so that a later
    process that reuses the pid is not mistaken for the holder."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or '?'}"


def holder_gone(holder: str) -> bool:
    """Whether the lock holder `holder` provably no longer runs: it ran on this host and its
    pid is gone or belongs to a later process. Holders on other hosts cannot be proven gone;
    their lock expires with its TTL."""
    host, _, rest = holder.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or not os.path.isdir("/proc"):
        return False
    now = _start_ticks(int(pid_text))
    return now is None or (ticks not in ("", "?") and now != ticks)
