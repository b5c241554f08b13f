"""`graft scheduler`: consume the control queue in batches and drive the `Scheduler`.

Messages are acknowledged only after their batch is committed and its nodes are sent, so a
scheduler killed mid-batch loses nothing: the broker hands the messages out again and the
duplicates change nothing.

Only one scheduler serves a broker and key prefix at a time: `SchedulerLock` holds a Redis key
that a background thread renews. A scheduler that finds the key taken waits; one that loses
it while serving (another scheduler took it over) hands its batch back and exits with status 1.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time
from typing import Any

import redis
from kombu import Connection

from scheduler.db import open_database
from scheduler.dispatch import CeleryDispatcher
from scheduler.service import Scheduler
from sdk.model.config import Settings
from sdk.model.errors import GraftError
from sdk.remote.board import Board
from sdk.remote.broker import control_queue, redact
from sdk.values.store import open_store

log = logging.getLogger("graft.scheduler")

BATCH_SIZE = 500
LOCK_TTL_S = 15

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

# Delete the lock only if it is still ours.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


class SchedulerLockLost(GraftError):
    """Another scheduler holds the lock now (or ours may have expired): stop serving."""


class SchedulerLock:
    """One scheduler per broker and key prefix: a Redis key that a background thread renews
    every `ttl_s / 3` while this scheduler serves.

    Renewal and release compare the key's value with `owner` atomically (Lua), so a scheduler
    never extends or deletes another's lock. When the thread finds the key owned by someone
    else, or cannot renew it for a whole TTL (the key may have expired and been taken), the
    lock is lost for good: `lost` turns true and the loop must stop serving.
    """

    def __init__(self, board: Board, owner: str, ttl_s: float = LOCK_TTL_S):
        self.ttl_s = ttl_s
        self.interval_s = ttl_s / 3
        # Its own client, with timeouts shorter than a renew interval: a call that hangs must
        # not hold the renewal past the TTL (the board's client waits up to 30 s).
        self.redis: redis.Redis = redis.Redis.from_url(
            board.url, socket_connect_timeout=min(3.0, self.interval_s),
            socket_timeout=self.interval_s)
        self.key = f"{board.prefix}:scheduler:lock"
        self.owner = owner
        self.renewed = 0.0  # monotonic time before the last successful SET/renewal
        self._renew_script = self.redis.register_script(_RENEW)
        self._release_script = self.redis.register_script(_RELEASE)
        self._lost = threading.Event()
        self._lost_reason = ""
        self._losing = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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

    def acquire(self) -> None:
        """Wait until the lock is free, take it, and start renewing it."""
        warned = False
        while True:
            started = time.monotonic()
            if self.redis.set(self.key, self.owner, nx=True, px=self._ttl_ms):
                break
            if not warned:
                holder = self.redis.get(self.key)
                log.warning("another scheduler (%s) is serving this broker; waiting for it to "
                            "stop", holder.decode() if holder else "?")
                warned = True
            time.sleep(1)
        self.renewed = started
        self._lost.clear()
        self._lost_reason = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_forever, args=(self._stop,),
                                        name="graft-scheduler-lock", daemon=True)
        self._thread.start()

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
            log.warning("could not renew the scheduler lock %s (%s); retrying in %.1f s",
                        self.key, exc, self.interval_s)
            return True
        if isinstance(result, bytes):
            self._lose(f"the lock is held by {result.decode(errors='replace')}")
            return False
        if self.lost:  # renewed, but too late: the key may have been someone else's meanwhile
            return False
        if result == 2:
            log.warning("the scheduler lock %s had vanished (expired, or Redis lost it); "
                        "took it again", self.key)
        self.renewed = started
        return True

    def release(self) -> None:
        """Stop renewing and delete the lock if it is still ours."""
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
        log.error("scheduler lock %s lost: %s; another scheduler took over (or may have), so "
                  "this one stops serving", self.key, reason)


def restore_orphans(settings: Settings) -> int:
    """Hand back the control messages a dead scheduler had taken but not acknowledged.

    On Redis, kombu keeps a delivered message in its `unacked` hash until it is acknowledged,
    and gives it back only after the visibility timeout (an hour by default). Only the holder of
    the scheduler lock consumes the control queue, so at startup every unacknowledged control
    message belongs to a scheduler that died; Celery's task messages in the same hash are left
    alone. Returns how many messages went back on the queue.
    """
    with Connection(settings.broker_url) as conn:
        if conn.transport.driver_type != "redis":
            return 0  # AMQP brokers requeue a dead consumer's messages themselves
        channel = conn.default_channel
        queue = control_queue(settings)
        queue(channel).declare()
        restored = 0
        for tag, raw in channel.client.hgetall(channel.unacked_key).items():
            try:
                _, exchange, routing_key = json.loads(raw)
            except (ValueError, TypeError):
                continue
            if exchange == queue.exchange.name and routing_key == queue.routing_key:
                channel.qos.restore_by_tag(tag.decode())
                restored += 1
        return restored


class Loop:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.stopping = False
        board = Board(settings)
        self.scheduler = Scheduler(settings, open_database(settings.database_url),
                                   CeleryDispatcher(), open_store(settings.store_url), board)
        self.lock = SchedulerLock(board, f"{socket.gethostname()}:{os.getpid()}")

    def stop(self, *_: Any) -> None:
        self.stopping = True

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT; raise `SchedulerLockLost` (exit status 1) when another
        scheduler takes the lock over."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.lock.acquire()
        try:
            orphans = restore_orphans(self.settings)
            recovered = self.scheduler.recover()
            self._check_lock()
            log.info("scheduler serving %s (queue %s, database %s); %d running executions "
                     "recovered, %d unacknowledged messages handed back",
                     redact(self.settings.broker_url), self.settings.control_queue,
                     redact(self.settings.database_url), recovered, orphans)
            while not self.stopping:
                self._check_lock()
                try:
                    self._consume()
                except OSError as exc:  # broker gone: retry
                    log.error("broker connection lost (%s); reconnecting", exc)
                    time.sleep(1)
        finally:
            self.lock.release()

    def _check_lock(self) -> None:
        if self.lock.lost:
            raise SchedulerLockLost(f"scheduler lock {self.lock.key} lost "
                                    f"({self.lock.lost_reason}): another scheduler took over; "
                                    "this one stopped serving")

    def _consume(self) -> None:
        pending: list[tuple[Any, Any]] = []

        def on_message(body: Any, message: Any) -> None:
            pending.append((body, message))

        def on_decode_error(message: Any, exc: Exception) -> None:
            log.warning("refused control message that is not JSON (%s): %r", exc,
                        message.body[:200])
            message.ack()

        with Connection(self.settings.broker_url) as conn:
            conn.ensure_connection(max_retries=None, interval_start=1, interval_max=5)
            consumer = conn.Consumer([control_queue(self.settings)], callbacks=[on_message],
                                     accept=["json"], on_decode_error=on_decode_error,
                                     prefetch_count=BATCH_SIZE)
            with consumer:
                while not self.stopping:
                    self._check_lock()
                    if self.scheduler.backlog:  # sends and board writes the broker missed
                        self.scheduler.flush()
                    try:
                        conn.drain_events(timeout=1.0)
                    except TimeoutError:
                        continue
                    while len(pending) < BATCH_SIZE:  # take what has arrived, never wait
                        try:
                            conn.drain_events(timeout=0)
                        except TimeoutError:
                            break
                    self._handle(pending)
                    pending.clear()

    def _handle(self, pending: list[tuple[Any, Any]]) -> None:
        if self.lock.lost:  # another scheduler serves now: leave the batch to it
            for _, message in pending:
                message.requeue()
            self._check_lock()
        try:
            self.scheduler.handle([body for body, _ in pending])
        except (GraftError, Exception) as exc:
            log.exception("batch of %d messages not applied (%s); handing them back",
                          len(pending), exc)
            for _, message in pending:
                message.requeue()
            time.sleep(1)
            return
        for _, message in pending:
            message.ack()


def serve(settings: Settings | None = None) -> None:
    Loop(settings or Settings.from_env()).run()
