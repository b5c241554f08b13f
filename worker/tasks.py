"""The one Celery task graft runs: execute a node attempt and report its outcome.

Every message is checked before anything runs: its shape, and with `GRAFT_SECRET` its
signature; one that fails goes to the dead-letter list. An attempt runs only once: a copy of
one that started elsewhere (the broker redelivered it, or a restarted scheduler sent it
again) and one the scheduler gave up on are dropped unrun. An attempt runs in this pool
process's runner, held to its timeout and memory limit (`worker.supervisor`). Every attempt
that runs ends in a report on the control stream (one given up while it ran aside); while
Redis is away, the report waits for it. After a failed attempt's report, the task raises so
that Celery monitors show it as FAILURE or RETRY (`worker.monitor`). A message may carry the
links of a chain to run after its attempt, each claimed by the report before it
(`worker.chain`).

`graft.run_items` runs a chunk: attempts of several children of one node in one message
(`sdk.wire.chunks`).
Each item is an attempt of its own, claimed (all in one round trip), run in turn by the same
runner under its own limits, and reported; the outcomes go out together, one `reports` entry
on the control stream about every `REPORT_EVERY_S` and at the end. An item the scheduler gave
up (its execution was cancelled or timed out) is skipped, or stopped if it runs.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import redis
from celery import signals

from sdk.model.errors import GraftError
from sdk.runtime.cache import entry_key
from sdk.values.store_access import runner_options
from sdk.wire.chunks import check_chunk, item_keys, item_payload, reports_message
from sdk.wire.connections import explain, redis_client
from sdk.wire.control import ControlChannel
from sdk.wire.keys import CHUNK_TASK_NAME, TASK_NAME, AttemptKey
from sdk.wire.leases import Leases
from sdk.wire.messages import check_task
from worker.app import GraftTask, app, settings
from worker.chain import Chain
from worker.monitor import NodeFailed, failure_for_monitors
from worker.outage import OUTAGE
from worker.refuse import refuse
from worker.supervisor import Runner, failed_message, install_signals, limits_of

log = logging.getLogger("graft.worker")

REPORT_EVERY_S = 0.2  # a chunk's outcomes wait at most about this long to be reported
LOOK_EVERY_S = 1.0  # how often a chunk looks whether its next items were given up


# `throws`: a failed node is logged by Celery in one INFO line, not as an unexpected error
# with graft's traceback (the user's traceback is in the report, `graft logs` and Flower).
@app.task(name=TASK_NAME, bind=True, base=GraftTask, throws=(NodeFailed,))
def run_node(self: Any, *args: Any) -> str:
    """Run one node attempt; the monitored name is the user's task (Celery `shadow`). Returns
    the outcome of an attempt that did not fail; raises, once a failed attempt is reported,
    for monitors only (`worker.monitor`)."""
    queue = str((self.request.delivery_info or {}).get("routing_key") or "?")
    try:
        eid, node, attempt, payload = check_task(args, settings.secret)
    except GraftError as exc:
        refuse(queue, str(exc), {"args": list(args)})
        return "refused"
    holder = f"{self.request.hostname or '?'}|{os.getpid()}"
    status, who = _until_redis(lambda: _leases().start((eid, node, attempt), holder),
                               f"claiming node {node} of {eid}")
    if status == "superseded":
        log.info("node %s of %s attempt %s was given up by the scheduler: not run",
                 node, eid, attempt)
        return "superseded"
    if status == "claimed":
        log.info("node %s of %s attempt %s already started (%s): duplicate dropped",
                 node, eid, attempt, who)
        return "duplicate"
    message = _run(eid, node, attempt, payload, queue, self.request.hostname or "")
    if message is None:
        log.info("node %s of %s attempt %s was given up by the scheduler: stopped", node, eid,
                 attempt)
        return "superseded"
    if message["outcome"] == "error":
        log.info("node %s of %s failed: %s", node, eid, message["error"].get("message"))
    hostname = self.request.hostname or ""

    def run_link(link: str, link_attempt: int, link_payload: dict[str, Any]) -> Any:
        return _run(eid, link, link_attempt, link_payload, queue, hostname)

    chain = Chain(_leases(), _control(), holder, _until_redis, _events(hostname),
                  str(self.request.id or ""))
    chain.run((eid, node, attempt), message, payload.get("next") or [], run_link)
    if message["outcome"] == "error":
        raise failure_for_monitors(message, payload)
    return str(message["outcome"])


@app.task(name=CHUNK_TASK_NAME, bind=True, base=GraftTask)
def run_items(self: Any, *args: Any) -> dict[str, Any]:
    """Run the items of a chunk in turn (the monitored name is the user's task). Returns what
    became of them; `dropped` lists the items left to another copy or given up before they
    started (their leases are not this worker's to release)."""
    queue = str((self.request.delivery_info or {}).get("routing_key") or "?")
    try:
        eid, parent_id, payload = check_chunk(args, settings.secret)
    except GraftError as exc:
        refuse(queue, str(exc), {"args": list(args)})
        return {"refused": str(exc)}
    holder = f"{self.request.hostname or '?'}|{os.getpid()}"
    keys = item_keys(eid, payload)
    claims = _until_redis(lambda: _leases().start_many(keys, holder),
                          f"claiming {len(keys)} items under node {parent_id} of {eid}")
    todo, dropped = [], []
    for key, item, (status, who) in zip(keys, payload["items"], claims):
        if status == "ok":
            todo.append((key, item))
            continue
        dropped.append(list(key))
        log.info("item %s of %s attempt %s %s: not run", key[1], eid, key[2],
                 "was given up by the scheduler" if status == "superseded"
                 else f"already started ({who})")
    given_up: set[AttemptKey] = set()
    outbox = _ChunkReports(eid, parent_id)
    looked = time.monotonic()
    ran = failed = 0
    for i, (key, item) in enumerate(todo):
        rest = [k for k, _ in todo[i:]]
        if time.monotonic() - looked > LOOK_EVERY_S:
            looked = time.monotonic()
            given_up |= _superseded(rest)
        if key in given_up:
            log.info("item %s of %s attempt %s was given up by the scheduler: not run",
                     key[1], eid, key[2])
            continue
        message = _run(eid, key[1], key[2], item_payload(payload, item), queue,
                       self.request.hostname or "", watch=rest, given_up=given_up)
        if message is None:
            log.info("item %s of %s attempt %s was given up by the scheduler: stopped",
                     key[1], eid, key[2])
            continue
        ran += 1
        if message["outcome"] == "error":
            failed += 1
            log.info("item %s of %s failed: %s", key[1], eid, message["error"].get("message"))
        outbox.add(key, message)
    outbox.flush()
    return {"items": len(keys), "ran": ran, "failed": failed, "dropped": dropped}


class _ChunkReports:
    """A chunk's outcomes waiting to be reported: one stream entry for several items, which
    marks their claims reported with it."""

    def __init__(self, eid: str, parent_id: str) -> None:
        self.eid, self.parent_id = eid, parent_id
        self.keys: list[AttemptKey] = []
        self.messages: list[dict[str, Any]] = []
        self.since = 0.0

    def add(self, key: AttemptKey, message: dict[str, Any]) -> None:
        if not self.keys:
            self.since = time.monotonic()
        self.keys.append(key)
        self.messages.append(message)
        if time.monotonic() - self.since >= REPORT_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if not self.keys:
            return
        message = reports_message(self.eid, self.messages)
        keys, fields, stream = self.keys, _control().fields(message), _control().key_for(message)
        _until_redis(lambda: _leases().report_many(keys, stream, fields),
                     f"reporting {len(keys)} items under node {self.parent_id} of {self.eid}")
        self.keys, self.messages = [], []


def _superseded(keys: list[AttemptKey]) -> set[AttemptKey]:
    try:
        return _leases().superseded(keys)
    except (redis.RedisError, OSError):
        return set()  # not proven: they run, and their reports change nothing


_CLIENTS: dict[str, Any] = {}


def _leases() -> Leases:
    if "leases" not in _CLIENTS:
        client = redis_client(settings.broker_url)
        _CLIENTS["leases"] = Leases(client, settings.key_prefix, settings.lease_ttl_s)
        _CLIENTS["control"] = ControlChannel(client, settings)
    return _CLIENTS["leases"]


def _control() -> ControlChannel:
    _leases()
    return _CLIENTS["control"]


def _events(hostname: str) -> Any:
    """This pool process's dispatcher of the task events of chain links (`worker.chain`),
    None when the worker sends no task events."""
    if "events" not in _CLIENTS:
        _CLIENTS["events"] = app.events.Dispatcher(
            app.connection_for_write(), hostname=hostname, buffer_group=["task"],
            buffer_limit=1_000) if app.conf.worker_send_task_events else None
    return _CLIENTS["events"]


def _until_redis(call: Any, what: str) -> Any:
    """`call()`, retried with backoff while Redis is away (one log line when lost, one when
    back): the attempt's outcome is the only record of its work."""
    delay = 0.2
    while True:
        try:
            result = call()
        except (redis.RedisError, OSError) as exc:
            OUTAGE.lost(f"{explain(exc, settings.broker_url)} (while {what})")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
            continue
        OUTAGE.back()
        return result


RUNNER = Runner()
# The store's storage options with the worker's store credentials (GRAFT_STORE_OPTIONS, the
# AWS variables): they reach the runner in each request, never in its environment.
STORE_OPTIONS = runner_options(settings.store_url, settings.store_options, os.environ)
# The runner gets the key cache entries are signed with, never GRAFT_SECRET itself.
CACHE_SIGNING_KEY = (entry_key(settings.secret) or b"").hex()


@signals.worker_process_init.connect
def _pool_process_started(**_: Any) -> None:
    """Each pool process: take the signals that stop an attempt, and start its runner now, so
    that the first attempt does not wait for it."""
    install_signals()
    RUNNER.start()


@signals.worker_process_shutdown.connect
def _pool_process_ending(**_: Any) -> None:
    RUNNER.stop()


def _run(eid: str, node: str, attempt: int, payload: dict[str, Any], queue: str,
         worker: str, watch: list[AttemptKey] | None = None,
         given_up: set[AttemptKey] | None = None) -> dict[str, Any] | None:
    """The report of one attempt, run by this pool process's runner and held to its limits;
    None when the scheduler gave it up while it ran. In a chunk, a GIVE_UP signal looks at
    the attempts of `watch` (this one and those after it) and adds those given up to
    `given_up`."""
    limits = limits_of(payload, queue)
    request = {"store": settings.store_url, "store_options": STORE_OPTIONS, "execution": eid,
               "node": node, "attempt": attempt, "payload": payload, "worker": worker,
               "locks": {"url": settings.broker_url, "prefix": settings.key_prefix},
               "cache_signing_key": CACHE_SIGNING_KEY}
    key = (eid, node, attempt)

    def was_given_up() -> bool:
        try:
            found = _leases().superseded(watch or [key])
        except (redis.RedisError, OSError):
            return False  # not proven: the attempt runs on, its report changes nothing
        if given_up is not None:
            given_up.update(found)
        return key in found

    why, detail, peak = RUNNER.run(request, limits, was_given_up)
    if why == "reply":
        message: dict[str, Any] = detail
        refused = message.pop("cache_refused", None)
        if refused:
            log.warning("node %s of %s: %s", node, eid, refused)
        message["peak_memory_bytes"] = max(peak, int(message.get("peak_memory_bytes") or 0))
        return message
    message = failed_message(eid, node, attempt, payload["token"], why, detail, limits,
                             worker)
    if message is not None:
        message["peak_memory_bytes"] = peak
    return message
