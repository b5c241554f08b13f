"""`graft scheduler`: consume the control queue in batches and drive the `Scheduler`.

Messages are acknowledged only after their batch is committed and its nodes are sent, so a
scheduler killed mid-batch loses nothing: the broker hands the messages out again and the
duplicates change nothing.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import time
from typing import Any

import redis
from kombu import Connection

from scheduler.db import open_database
from scheduler.dispatch import CeleryDispatcher
from scheduler.service import Scheduler
from sdk.board import Board
from sdk.broker import control_queue, redact
from sdk.config import Settings
from sdk.errors import GraftError
from sdk.store import open_store

log = logging.getLogger("graft.scheduler")

BATCH_SIZE = 500
LOCK_TTL_S = 15


class SchedulerLock:
    """One scheduler per broker and key prefix: a Redis key renewed while serving."""

    def __init__(self, board: Board, owner: str):
        self.redis: redis.Redis = board.redis
        self.key = f"{board.prefix}:scheduler:lock"
        self.owner = owner
        self.renewed = 0.0

    def acquire(self) -> None:
        warned = False
        while not self.redis.set(self.key, self.owner, nx=True, ex=LOCK_TTL_S):
            if not warned:
                holder = self.redis.get(self.key)
                log.warning("another scheduler (%s) is serving this broker; waiting for it to "
                            "stop", holder.decode() if holder else "?")
                warned = True
            time.sleep(1)
        self.renewed = time.monotonic()

    def renew(self) -> None:
        if time.monotonic() - self.renewed > LOCK_TTL_S / 3:
            self.redis.set(self.key, self.owner, ex=LOCK_TTL_S)
            self.renewed = time.monotonic()

    def release(self) -> None:
        if self.redis.get(self.key) == self.owner.encode():
            self.redis.delete(self.key)


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
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.lock.acquire()
        try:
            orphans = restore_orphans(self.settings)
            recovered = self.scheduler.recover()
            log.info("scheduler serving %s (queue %s, database %s); %d running executions "
                     "recovered, %d unacknowledged messages handed back",
                     redact(self.settings.broker_url), self.settings.control_queue,
                     redact(self.settings.database_url), recovered, orphans)
            while not self.stopping:
                try:
                    self._consume()
                except OSError as exc:  # broker gone: retry
                    log.error("broker connection lost (%s); reconnecting", exc)
                    time.sleep(1)
        finally:
            self.lock.release()

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
                    self.lock.renew()
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
