"""gc run by the schedulers: every `GRAFT_GC_EVERY` (default 24h) once `GRAFT_GC_OLDER_THAN`
is set, by one scheduler at a time, on a thread of its own so that no turn of the loop waits.

The schedulers share two Redis keys (`sdk.wire.keys`): `<p>:gc:last`, when the last gc ended,
which says whether one is due, and `<p>:gc:lock`, held (and renewed by a thread) by the one
gc running now, a scheduler's or `graft gc`'s. A serving scheduler looks once a minute; when a
gc is due it starts the thread, which takes the lock, looks at `<p>:gc:last` again (another
scheduler's gc may have just ended) and runs it. A scheduler that dies mid-gc leaves the lock
to lapse within its TTL, and the next one runs gc again from the start: every step of it may
be repeated.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import redis
from sqlalchemy.engine import Engine as SqlEngine

from scheduler.observer import Observer
from scheduler.retention.collect import DEFAULT_GRACE_S, Forgetter, GcReport, collect
from sdk.model.config import env_duration
from sdk.model.store import Store
from sdk.wire.cache_lock import RELEASE_IF_HELD
from sdk.wire.keys import Keys

__all__ = ["DailyGc", "GcLock", "GcSettings", "describe"]

log = logging.getLogger("graft.gc")

LOCK_TTL_S = 60.0
CHECK_S = 60.0  # how often a serving scheduler looks whether a gc is due
RETRY_S = 600.0  # after a gc failed

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass(frozen=True)
class GcSettings:
    """The schedulers' gc: off (`older_than_s` None) unless `GRAFT_GC_OLDER_THAN` is set;
    every `GRAFT_GC_EVERY` (24h), keeping objects younger than `GRAFT_GC_GRACE` (1h)."""

    older_than_s: float | None = None
    every_s: float = 24 * 3600.0
    grace_s: float = DEFAULT_GRACE_S

    @classmethod
    def from_env(cls) -> GcSettings:
        return cls(older_than_s=env_duration("GRAFT_GC_OLDER_THAN", None),
                   every_s=max(60.0, env_duration("GRAFT_GC_EVERY", 24 * 3600.0) or 0.0),
                   grace_s=env_duration("GRAFT_GC_GRACE", DEFAULT_GRACE_S) or 0.0)


class GcLock:
    """The one gc running now, under the key prefix `prefix`: a Redis key holding its
    holder's name, renewed by a thread while it runs."""

    def __init__(self, client: redis.Redis, prefix: str, ttl_s: float = LOCK_TTL_S):
        self.redis = client
        self.names = Keys(prefix)
        self.ttl_ms = int(ttl_s * 1000)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(RELEASE_IF_HELD)

    def holder(self) -> str | None:
        value = self.redis.get(self.names.gc_lock)
        return value.decode() if value is not None else None

    def last(self) -> float | None:
        """When the last gc ended (unix seconds), or None."""
        value = self.redis.get(self.names.gc_last)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def ended(self, at: float) -> None:
        self.redis.set(self.names.gc_last, repr(at))

    @contextlib.contextmanager
    def held(self, holder: str) -> Iterator[bool]:
        """Take the lock for the block (True), or False when another gc holds it."""
        if not self.redis.set(self.names.gc_lock, holder, nx=True, px=self.ttl_ms):
            yield False
            return
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.ttl_ms / 3000):
                with contextlib.suppress(redis.RedisError, OSError):
                    self._renew(keys=[self.names.gc_lock], args=[holder, self.ttl_ms])

        thread = threading.Thread(target=renew, name="graft-gc-lock", daemon=True)
        thread.start()
        try:
            yield True
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(redis.RedisError, OSError):
                self._release(keys=[self.names.gc_lock], args=[holder])


class DailyGc:
    """A serving scheduler's part in the periodic gc: `poll()` from its loop (it returns at
    once), which starts a gc on a thread when one is due."""

    def __init__(self, gc: GcSettings, client: redis.Redis, prefix: str, engine: SqlEngine,
                 store: Store, board: Forgetter | None, observer: Observer, owner: str,
                 clock: Callable[[], float] = time.time):
        if gc.older_than_s is None:
            raise ValueError("DailyGc needs GRAFT_GC_OLDER_THAN")
        self.gc = gc
        self.lock = GcLock(client, prefix)
        self.engine = engine
        self.store = store
        self.board = board
        self.observer = observer
        self.owner = f"{owner}:{uuid.uuid4().hex[:6]}"
        self.clock = clock
        self._check_at = 0.0
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poll(self) -> None:
        """Start a gc when one is due (looked at once a minute; one Redis read)."""
        now = time.monotonic()
        if self.running or now < self._check_at:
            return
        self._check_at = now + CHECK_S
        if not self._due():
            return
        self._thread = threading.Thread(target=self._run, name="graft-gc", daemon=True)
        self._thread.start()

    def _due(self) -> bool:
        last = self.lock.last()
        return last is None or self.clock() - last >= self.gc.every_s

    def _run(self) -> None:
        try:
            with self.lock.held(self.owner) as took:
                if not took or not self._due():
                    return
                report = collect(self.engine, self.store, older_than_s=self.gc.older_than_s or 0,
                                 grace_s=self.gc.grace_s, board=self.board, clock=self.clock)
                self.lock.ended(self.clock())
        except Exception as exc:
            log.error("gc failed (%s: %s); trying again in %g minutes", type(exc).__name__,
                      exc, RETRY_S / 60)
            self._check_at = time.monotonic() + RETRY_S
            self.observer.gc_failed()
            return
        self.observer.gc_finished(report)
        log.info("gc: %s", describe(report))

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for a gc running now to end (tests)."""
        if self._thread is not None:
            self._thread.join(timeout_s)


def describe(report: GcReport) -> str:
    """One line saying what a gc did (or would do)."""
    verb = "would prune" if report.dry_run else "pruned"
    by = ", ".join(f"{s} {n}" for s, n in sorted(report.executions.items())) or "none"
    tables = ", ".join(f"{t} {n}" for t, n in sorted(report.rows.items()))
    free = "would free" if report.dry_run else "freed"
    return (f"{verb} {sum(report.executions.values())} executions ({by}), "
            f"{report.rows_pruned} rows{f' ({tables})' if tables else ''}; store "
            f"{report.objects} objects, {_size(report.bytes)}: {free} "
            f"{report.objects_freed} objects, {_size(report.bytes_freed)}"
            f"{f'; {report.errors} objects could not be deleted' if report.errors else ''}"
            f" in {report.duration_s:.1f} s")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
