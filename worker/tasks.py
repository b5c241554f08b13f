"""The one Celery task graft runs: execute a node attempt and report its outcome.

Every message is checked before anything runs: its shape, and with `GRAFT_SECRET` its
signature; one that fails goes to the dead-letter list. An attempt runs only once: a copy of
one that started elsewhere (the broker redelivered it, or a restarted scheduler sent it
again) and one the scheduler gave up on are dropped unrun. Every attempt that runs ends in a
report on the control stream; while Redis is away, the report waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from typing import Any

import redis

from sdk.model.errors import GraftError
from sdk.remote.attempt import run_attempt
from sdk.remote.celery_app import TASK_NAME
from sdk.remote.connections import explain, redis_client
from sdk.remote.control import ControlChannel
from sdk.remote.leases import Leases
from sdk.remote.messages import check_task
from sdk.values.store import open_store
from worker.app import GraftTask, app, settings
from worker.outage import OUTAGE
from worker.refuse import refuse

log = logging.getLogger("graft.worker")


@app.task(name=TASK_NAME, bind=True, base=GraftTask)
def run_node(self: Any, *args: Any) -> str:
    """Run one node attempt; the monitored name is the user's task (Celery `shadow`)."""
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
    workdir = _workdir()
    previous = os.getcwd()
    os.chdir(workdir)
    try:
        message = run_attempt(open_store(settings.store_url), eid, node, attempt, payload,
                              worker=self.request.hostname or "")
    finally:
        os.chdir(previous)
        _empty(workdir)
    if message["outcome"] == "error":
        log.info("node %s of %s failed: %s", node, eid, message["error"].get("message"))
    control = _control()
    _until_redis(lambda: _leases().report((eid, node, attempt), control.key,
                                          control.fields(message)),
                 f"reporting node {node} of {eid}")
    return str(message["outcome"])


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


_WORKDIR: list[str] = []


def _workdir() -> str:
    """This process's working folder for tasks (files they write land here)."""
    if not _WORKDIR or not os.path.isdir(_WORKDIR[0]):
        _WORKDIR[:] = [tempfile.mkdtemp(prefix=f"graft-node-{os.getpid()}-")]
    return _WORKDIR[0]


def _empty(folder: str) -> None:
    """Remove what a task left behind, so the next one starts in an empty folder."""
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
