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

from sdk.remote.connections import redis_client

# KEYS[1] = lock; ARGV[1] = holder, ARGV[2] = ttl (ms). Extend only a lock this holder has.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS[1] = lock; ARGV[1] = holder. Delete only a lock this holder has (the scheduler's lock
# releases itself with it too).
RELEASE_IF_HELD = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class CacheLocks:
    """Locks on cache keys in the Redis at `url`, under `prefix`."""

    def __init__(self, url: str, prefix: str, ttl_s: float = 10.0, poll_s: float = 0.2):
        self.client = redis_client(url)
        self.prefix = prefix
        self.ttl_ms = int(ttl_s * 1000)
        self.poll_s = poll_s
        self._renew = self.client.register_script(_RENEW)
        self._release = self.client.register_script(RELEASE_IF_HELD)

    def _key(self, key: str) -> str:
        return f"{self.prefix}cache-lock:{key}"

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
            return bool(self.client.set(self._key(key), holder, nx=True, px=self.ttl_ms))
        except (redis.RedisError, OSError):
            return False  # Redis away: wait, as for a held lock

    def holder(self, key: str) -> str | None:
        value = self.client.get(self._key(key))
        return value.decode() if isinstance(value, bytes) else value

    @contextlib.contextmanager
    def _held(self, key: str, holder: str) -> Iterator[None]:
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.ttl_ms / 3000):
                with contextlib.suppress(redis.RedisError, OSError):
                    self._renew(keys=[self._key(key)], args=[holder, self.ttl_ms])

        thread = threading.Thread(target=renew, name="graft-cache-lock", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(redis.RedisError, OSError):
                self._release(keys=[self._key(key)], args=[holder])
