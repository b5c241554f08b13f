"""Serialized cache runs (`cache_serialize=True`): one run per cache key at a time.

The first attempt to take a key's lock runs the task; attempts with the same key that start
meanwhile, in any execution, wait and take its result from the cache when it lands. The lock
is a Redis key (`SET NX PX`) holding the runner's name, renewed every `ttl / 3` seconds by a
thread of the process running the task. If that process dies, the lock lapses within `ttl`
and one waiter takes it over and runs the task itself. A run that fails leaves no entry:
the next waiter to take the lock runs it again.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import redis

from sdk.wire.connections import redis_client
from sdk.wire.keys import Keys

# KEYS = the lock's names (today's, then the legacy one); ARGV[1] = holder, ARGV[2] = ttl (ms).
# Take every name at once, or none while any is held.
_TAKE = """
for _, key in ipairs(KEYS) do
    if redis.call('EXISTS', key) == 1 then return 0 end
end
for _, key in ipairs(KEYS) do
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return 1
"""

# Extend, or delete, only the names this holder has.
_RENEW = """
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]) end
end
return 0
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""

# KEYS[1] = lock; ARGV[1] = holder. Delete only a lock this holder has (the scheduler's lock,
# scheduler/lock.py).
RELEASE_IF_HELD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class CacheLocks:
    """Locks on cache keys in the Redis at `url`, under `prefix`.

    A lock is held under its name (`Keys.cache_lock`) and under the name graft gave it
    before (`Keys.legacy_cache_lock`), taken and released together: workers of the previous
    version, which look only there, wait for a run of this one, and this one waits for
    theirs."""

    def __init__(self, url: str, prefix: str, ttl_s: float = 10.0, poll_s: float = 0.2):
        self.client = redis_client(url)
        self.names = Keys(prefix)
        self.ttl_ms = int(ttl_s * 1000)
        self.poll_s = poll_s
        self._take = self.client.register_script(_TAKE)
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(_RELEASE)

    def _keys(self, key: str) -> list[str]:
        return [self.names.cache_lock(key), self.names.legacy_cache_lock(key)]

    def run_once(self, key: str, cached: Callable[[], Any], run: Callable[[], Any],
                 holder: str = "") -> tuple[Any, bool]:
        """`(cached(), True)` as soon as the cache has the key's result, else `(run(), False)`
        run while holding the key's lock; waits while another holder runs it."""
        holder = f"{holder or 'runner'}:{uuid.uuid4().hex[:8]}"
        while True:
            hit = cached()
            if hit is not None:
                return hit, True
            if self._try(key, holder):
                with self._held(key, holder):
                    hit = cached()  # the result may have landed just before we took it
                    return (hit, True) if hit is not None else (run(), False)
            time.sleep(self.poll_s)

    def _try(self, key: str, holder: str) -> bool:
        try:
            return bool(self._take(keys=self._keys(key), args=[holder, self.ttl_ms]))
        except (redis.RedisError, OSError):
            return False  # Redis away: wait, as for a held lock

    def holder(self, key: str) -> str | None:
        """Who holds the key's lock (under either name), or None."""
        for value in self.client.mget(self._keys(key)):
            if value is not None:
                return value.decode() if isinstance(value, bytes) else value
        return None

    @contextlib.contextmanager
    def _held(self, key: str, holder: str) -> Iterator[None]:
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.ttl_ms / 3000):
                with contextlib.suppress(redis.RedisError, OSError):
                    self._renew(keys=self._keys(key), args=[holder, self.ttl_ms])

        thread = threading.Thread(target=renew, name="graft-cache-lock", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(redis.RedisError, OSError):
                self._release(keys=self._keys(key), args=[holder])
