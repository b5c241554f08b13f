"""The one Celery task graft runs: execute a node and report the outcome to the scheduler."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from typing import Any

from sdk.model.errors import GraftError, StoreError
from sdk.model.spec import node_from_json
from sdk.remote import messages
from sdk.remote.board import Board
from sdk.remote.broker import publish_with
from sdk.runtime.bundle import load_entity
from sdk.runtime.execute import Outcome, error_info, execute
from sdk.values.store import open_store, put_blob
from worker.app import app, settings

log = logging.getLogger("graft.worker")


@app.task(name="graft.run_node", bind=True)
def run_node(self: Any, execution_id: str, node_id: str, attempt: int,
             payload: dict[str, Any]) -> str:
    """Run attempt `attempt` of node `node_id`; the monitored name is the user's task.

    Every run ends in a report. A message for an attempt that already started somewhere is
    not run again: a plain duplicate (the scheduler resends queued nodes after a restart) is
    dropped, and a redelivery (the worker running it died: killed, out of memory, crashed)
    reports a retriable `WorkerLost` error, so `retries` apply and the node cannot loop.
    """
    started = time.time()
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    claim = _claim(execution_id, node_id, attempt, self.request.hostname)
    if claim is False and not redelivered:
        log.info("node %s of %s attempt %s already started elsewhere: duplicate dropped",
                 node_id, execution_id, attempt)
        return "duplicate"
    if claim is False:
        outcome = Outcome("error", error={
            "type": "WorkerLost", "message": f"the worker running node {node_id!r} (attempt "
            f"{attempt}) died before reporting: killed, out of memory, or crashed"})
    else:
        try:
            outcome = _run(execution_id, node_id, payload)
        except Exception as exc:  # a defect of graft's own: still report, never go silent
            log.exception("node %s of %s", node_id, execution_id)
            outcome = Outcome("error", error=error_info(exc), retriable=True)
    body = _report(execution_id, node_id, attempt, outcome)
    body["worker"] = self.request.hostname
    body["duration_s"] = round(time.time() - started, 6)
    # The report is the only record of the work done: wait for the broker rather than let
    # Celery acknowledge a task whose outcome never reached the scheduler.
    with app.producer_or_acquire() as producer:
        publish_with(producer, settings, body, max_retries=None)
    return outcome.kind


_BOARD: list[Board] = []


def _claim(execution_id: str, node_id: str, attempt: int, worker: str) -> bool | None:
    """Mark this attempt started: True if it is ours, False if it was started before, None
    when Redis cannot say (then it runs: better twice than never)."""
    try:
        if not _BOARD:
            _BOARD.append(Board(settings))
        board = _BOARD[0]
        key = f"{board.prefix}:started:{execution_id}:{node_id}:{attempt}"
        ttl_s = 2 * int(app.conf.broker_transport_options.get("visibility_timeout", 3600))
        return bool(board.redis.set(key, worker or "?", nx=True, ex=ttl_s))
    except Exception as exc:
        log.warning("cannot mark node %s of %s started: %s", node_id, execution_id, exc)
        return None


def _run(execution_id: str, node_id: str, payload: dict[str, Any]) -> Outcome:
    store = open_store(settings.store_url)
    try:
        spec = node_from_json(payload["node"])
        inputs = payload.get("inputs")
        if inputs is None:
            inputs = json.loads(store.get(payload["inputs_key"]))
    except StoreError as exc:
        return Outcome("error", error=error_info(exc), retriable=True)
    except (GraftError, KeyError, TypeError, ValueError) as exc:
        return Outcome("error", error={"type": "MalformedTask", "message":
                       f"node {node_id!r} of execution {execution_id}: malformed task "
                       f"message ({exc!r})"}, retriable=False)
    try:
        entity = load_entity(spec.task, store)
    except StoreError as exc:
        return Outcome("error", error=error_info(exc), retriable=True)
    except GraftError as exc:
        return Outcome("error", error=error_info(exc), retriable=False)
    workdir = _workdir()
    previous = os.getcwd()
    os.chdir(workdir)
    try:
        return execute(spec, entity, inputs, store, bundle=spec.task.bundle)
    finally:
        os.chdir(previous)
        _empty(workdir)


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


def _report(execution_id: str, node_id: str, attempt: int, outcome: Outcome) -> dict[str, Any]:
    if outcome.kind == "values":
        return messages.report(execution_id, node_id, attempt, outcome="values",
                               outputs=outcome.outputs)
    if outcome.kind == "subgraph":
        assert outcome.subgraph is not None
        try:
            key = put_blob(open_store(settings.store_url), outcome.subgraph.dumps().encode(),
                           prefix="subgraphs")
        except StoreError as exc:
            outcome = Outcome("error", error=error_info(exc), retriable=True)
        else:
            return messages.report(execution_id, node_id, attempt, outcome="subgraph",
                                   subgraph=key)
    log.info("node %s of %s failed: %s", node_id, execution_id,
             (outcome.error or {}).get("message"))
    return messages.report(execution_id, node_id, attempt, outcome="error",
                           error=outcome.error, retriable=outcome.retriable)
