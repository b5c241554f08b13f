"""The worker's side of attempt leases: one thread in the worker's main process renews the
lease of every attempt the worker holds, from the moment a message arrives until its request
ends (see `sdk.wire.leases`).

The Celery event loop only updates the set of held attempts; every Redis call happens on this
thread, so a Redis outage never blocks the loop. While Redis is away the thread logs one line,
keeps retrying, and logs one line when it is back; reports of attempts lost meanwhile (a pool
child that died) wait in its outbox.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from typing import Any

import redis

from sdk.model.config import Settings
from sdk.wire.chunks import attempts_in
from sdk.wire.connections import explain, redis_client
from sdk.wire.control import ControlChannel
from sdk.wire.keys import AttemptKey
from sdk.wire.leases import Leases
from sdk.wire.links import link_keys
from worker.outage import OUTAGE
from worker.supervisor import GIVE_UP

log = logging.getLogger("graft.worker")


class LeaseKeeper:
    def __init__(self, settings: Settings):
        self.settings = settings
        client = redis_client(settings.broker_url, timeout_s=max(1.0, settings.lease_ttl_s / 3))
        self.leases = Leases(client, settings.key_prefix, settings.lease_ttl_s)
        self.control = ControlChannel(client, settings)
        self.interval_s = settings.lease_ttl_s / 3
        self._held: Counter[AttemptKey] = Counter()
        self._pids: dict[AttemptKey, set[int]] = {}  # the pool processes running each attempt
        self._untaken: set[AttemptKey] = set()  # held leases renewed only where they exist
        self._released_links: set[AttemptKey] = set()  # of `_released`: drop if reported
        self._released: list[AttemptKey] = []
        self._outbox: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._given_up = False  # the scheduler said it gave attempts up: look at once
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None

    def hold(self, key: AttemptKey, take: bool = True) -> None:
        """Renew `key`'s lease from the next tick on (the claim that starts the attempt takes
        it first). Without `take`, only once its claim took it: a link of a chain
        (`worker.chain`) may never be claimed here, and a lease taken for it would tell the
        scheduler it was lost."""
        with self._lock:
            self._held[key] += 1
            if not take:
                self._untaken.add(key)
        self._start()

    def running(self, key: AttemptKey, pid: int) -> None:
        """A copy of the attempt runs in pool process `pid` (stopped if the scheduler gives
        the attempt up). Celery may tell that a fast task was accepted after it ended: an
        attempt no longer held is not recorded."""
        with self._lock:
            if key in self._held:
                self._pids.setdefault(key, set()).add(pid)

    def drop(self, key: AttemptKey, pid: int | None = None, release: bool = True) -> None:
        """The copy of `key` in pool process `pid` ended: stop renewing the lease once no copy
        holds it; with `release`, delete it too (the attempt reported, or its process died
        and was reported lost)."""
        with self._lock:
            pids = self._pids.get(key)
            if pids is not None and pid is not None:
                pids.discard(pid)
                if not pids:
                    del self._pids[key]
            self._held[key] -= 1
            if self._held[key] <= 0:
                del self._held[key]
                self._pids.pop(key, None)
                if release:
                    self._released.append(key)
                    if key in self._untaken:  # a link: another worker may run it
                        self._released_links.add(key)
                self._untaken.discard(key)

    def report(self, message: dict[str, Any]) -> None:
        """Publish a report from the main process (the attempt's process is gone)."""
        with self._lock:
            self._outbox.append(message)
        self._start()
        self._wake.set()

    def _stop_given_up(self, running: list[AttemptKey]) -> None:
        """Tell the pool processes running an attempt the scheduler gave up on (its execution
        failed or was cancelled) to stop it (GIVE_UP: the pool process kills the attempt's
        runner and everything it started, and reports nothing). The processes are read again,
        under the lock, after the Redis call: one that finished the attempt meanwhile is
        spared."""
        for key in self.leases.superseded(running):
            with self._lock:
                for pid in sorted(self._pids.pop(key, ())):
                    log.warning("attempt %d of node %s of %s was given up by the scheduler; "
                                "stopping it in process %d", key[2], key[1], key[0], pid)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, GIVE_UP)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="graft-leases", daemon=True)
            self._thread.start()
        if self._listener is None or not self._listener.is_alive():
            self._listener = threading.Thread(target=self._listen, name="graft-given-up",
                                              daemon=True)
            self._listener.start()

    def _listen(self) -> None:
        """Wake the lease thread as soon as the scheduler publishes that it gave attempts up,
        so that a cancel stops running attempts in well under a tick. Best effort: while
        Redis is away, the tick that follows its return does the same."""
        while True:
            try:
                pubsub = redis_client(self.settings.broker_url, timeout_s=30).pubsub(
                    ignore_subscribe_messages=True)
                pubsub.subscribe(self.leases.given_up_channel)
                while True:
                    message = pubsub.get_message(timeout=5.0)
                    if message is not None and message.get("type") == "message":
                        self._given_up = True
                        self._wake.set()
            except (redis.RedisError, OSError):
                time.sleep(1.0)

    def _run(self) -> None:
        """Each tick (TTL / 3): renew the held leases, stop given-up attempts, drop released
        leases. A report wakes it early, and so does the scheduler's word that it gave
        attempts up (then it only stops those); holds and releases never do, so the cost
        per attempt stays off the Redis round trips of a tick (a released lease lives at most
        one tick more, well inside its TTL)."""
        next_tick = 0.0
        while True:
            self._wake.wait(max(0.0, next_tick - time.monotonic()))
            self._wake.clear()
            tick = time.monotonic() >= next_tick
            if tick:
                next_tick = time.monotonic() + self.interval_s
            if not self._pass(tick):
                time.sleep(1.0)

    def _pass(self, tick: bool) -> bool:
        """One pass of the thread (with `tick`, renewing and releasing too). False when Redis
        failed: what it was to release or publish is kept for the next pass."""
        look, self._given_up = tick or self._given_up, False
        with self._lock:
            held = [k for k in self._held if k not in self._untaken] if tick else []
            links = [k for k in self._held if k in self._untaken] if tick else []
            running = list(self._pids) if look else []
            released, self._released = (self._released, []) if tick else ([], [])
            outbox, self._outbox = self._outbox, []
            gone = [k for k in released if k not in self._held]
            links_dropped = [k for k in gone if k in self._released_links]
            self._released_links.difference_update(links_dropped)
        dropped = [k for k in gone if k not in links_dropped]
        # Whether this pass sends Redis anything: one with nothing to renew, release, look up
        # or publish sends nothing, and its "success" says nothing of Redis (said to be back,
        # it was lost again at Celery's next retry: a false line every few seconds).
        sends = bool(held or links or gone or running or outbox)
        try:
            if tick:
                self.leases.renew(held, links)
                self.leases.release(dropped, links_dropped)
            if look:
                self._stop_given_up(running)
            while outbox:
                self.control.publish(outbox[0])
                outbox.pop(0)
        except (redis.RedisError, OSError) as exc:
            with self._lock:
                self._released[:0] = released
                self._released_links.update(links_dropped)
                self._outbox[:0] = outbox
            OUTAGE.lost(explain(exc, self.settings.broker_url))
            return False
        if sends:
            OUTAGE.back()
        return True


_KEEPER: list[LeaseKeeper] = []


def keeper() -> LeaseKeeper:
    if not _KEEPER:
        _KEEPER.append(LeaseKeeper(Settings.from_env()))
    return _KEEPER[0]


def attempts_of(args: Any) -> list[AttemptKey]:
    """The attempts a task message's arguments name, if they are well formed: one for
    `graft.run_node` and the links of a chain it carries (`worker.chain`), the items of a
    chunk for `graft.run_items`."""
    key = attempt_of(args)
    if key is None:
        return attempts_in(args)
    payload = args[3]
    return [key, *link_keys(key[0], payload.get("next"))] if isinstance(payload, dict) \
        else [key]


def attempt_of(args: Any) -> AttemptKey | None:
    """The attempt a task message's arguments name, if they are well formed."""
    if isinstance(args, (list, tuple)) and len(args) == 4:
        eid, node, attempt = args[0], args[1], args[2]
        if isinstance(eid, str) and isinstance(node, str) and isinstance(attempt, int):
            return eid, node, attempt
    return None
