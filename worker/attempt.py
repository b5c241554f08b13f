"""Running one dispatched attempt and turning its outcome into a report message: what a
worker does with a task message once it has verified it (and what `InlineDispatcher` does in
the scheduler's own process)."""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
import time
from collections.abc import Callable
from typing import IO, Any

from sdk.model.bindings import Binding, loads_inputs
from sdk.model.errors import GraftError, StoreError, TypeConversionError
from sdk.model.failures import failure_of
from sdk.model.report import Outcome, Report, data_failure, system_failure
from sdk.model.spec import GraphSpec, NodeSpec, node_from_json
from sdk.model.store import Store
from sdk.runtime.bundle import load_entity
from sdk.runtime.cache import CacheIndex, cluster_index, key_for
from sdk.runtime.execute import execute
from sdk.values.store import get_verified, keep
from sdk.wire.cache_lock import CacheLocks
from sdk.wire.messages import report_message


def run_attempt(store: Store, execution_id: str, node_id: str, attempt: int,
                payload: dict[str, Any], worker: str = "",
                locks: CacheLocks | None = None,
                cache_signing_key: bytes | None = None) -> dict[str, Any]:
    """Run a verified task payload; return the report message (never raises for anything
    the task, its inputs, its code or the store do). A cached task's result comes from the
    cluster's cache when it is there, and goes into it when the task succeeds; `locks`
    serialize the runs of `cache_serialize` tasks. With `cache_signing_key`
    (`entry_key(GRAFT_SECRET)`), entries are signed and an entry not signed with it is a
    miss, named in the message's `cache_refused` field."""
    started = time.monotonic()
    token = payload["token"]
    index = cluster_index(store, cache_signing_key)
    report = _run(store, execution_id, node_id, attempt, payload, locks, worker, index)
    subgraph_key = None
    if report.subgraph is not None:
        try:
            with tempfile.NamedTemporaryFile(prefix="graft-subgraph-") as spool:
                digest = _spool(report.subgraph, spool)
                spool.flush()
                # The sub-graph's nodes go before its text is read back: a dynamic of
                # 1,000,000 nodes never holds both (the message carries the key).
                report = dataclasses.replace(report, subgraph=None)
                _store_file(store, f"subgraphs/{digest}", spool)
                subgraph_key = f"subgraphs/{digest}"
        except StoreError as exc:
            report = Report.failed(node_id, attempt, failure_of(exc))
        except OSError as exc:  # the worker's temporary folder is full or gone
            report = Report.failed(node_id, attempt, system_failure(
                "SpoolError", f"node {node_id!r}: cannot write its sub-graph to a temporary "
                f"file: {exc}"))
    message = report_message(execution_id, token, report, subgraph_key, worker=worker,
                             duration_s=round(time.monotonic() - started, 6))
    if index.refusals:
        message["cache_refused"] = index.refusals[-1]
    return message


def _spool(graph: GraphSpec, spool: IO[bytes]) -> str:
    """Write `graph`'s JSON to `spool` a node at a time; the sha256 of what was written."""
    digest = hashlib.sha256()

    def write(text: str) -> None:
        data = text.encode()
        digest.update(data)
        spool.write(data)

    graph.write(write)
    return digest.hexdigest()


def _store_file(store: Store, key: str, spool: IO[bytes]) -> None:
    """`keep(store, key, <spool's bytes>)`, from the file itself when the store can
    (`FsspecStore.put_file`), so that its bytes are never all in memory."""
    put_file = getattr(store, "put_file", None)
    refresh = getattr(store, "refresh", None)
    if put_file is None or refresh is None:
        spool.seek(0)
        keep(store, key, spool.read())
    elif not refresh(key):
        put_file(key, spool.name)


def _run(store: Store, execution_id: str, node_id: str, attempt: int,
         payload: dict[str, Any], locks: CacheLocks | None, worker: str,
         index: CacheIndex) -> Report:
    try:
        spec = node_from_json(payload["spec"])
        inputs = payload.get("inputs")
        if inputs is None:
            inputs = loads_inputs(get_verified(store, payload["inputs_key"]))
        entity = load_entity(spec.task, store)
    except GraftError as exc:  # the store failing (SYSTEM), the inputs or the code (DATA)
        return Report.failed(node_id, attempt, failure_of(exc))
    except (KeyError, TypeError, ValueError) as exc:
        return Report.failed(node_id, attempt, data_failure(
            "MalformedTask", f"node {node_id!r}: malformed task message ({exc!r})"))
    if entity.kind != spec.kind or dict(entity.interface.inputs) != spec.inputs_types \
            or dict(entity.interface.outputs) != spec.outputs_types:
        return Report.failed(node_id, attempt, data_failure(
            "CodeMismatch", f"node {node_id!r}: {spec.task.ref} on this worker is a "
            f"{entity.kind} whose interface differs from the submitted spec's (the worker "
            f"imports other code than was submitted)"))

    def run() -> Report:
        return execute(spec, entity, inputs, store, node_id=node_id, attempt=attempt,
                       bundle=spec.task.bundle, execution_id=execution_id).report

    try:
        if not spec.cache:
            return run()
        return _cached(spec, inputs, store, run, locks, index, execution_id, node_id,
                       attempt, worker)
    except StoreError as exc:  # reading the inputs for the key, or the cache index
        return Report.failed(node_id, attempt, failure_of(exc))
    except Exception as exc:  # a defect of graft's own: still report, never go silent
        return Report.failed(node_id, attempt, system_failure(
            type(exc).__name__, f"graft failed running node {node_id!r}: {exc}"))


def _cached(spec: NodeSpec, inputs: dict[str, Binding], store: Store,
            run: Callable[[], Report], locks: CacheLocks | None, index: CacheIndex,
            execution_id: str, node_id: str, attempt: int, worker: str) -> Report:
    """The cache's outputs for this node's key, or its run's report (a successful task's
    outputs saved under the key; a dynamic's key sent with its sub-graph, for the scheduler
    to save its outputs when the sub-graph has run)."""
    try:
        key = key_for(spec, inputs, store)
    except (TypeConversionError, ValueError) as exc:
        return Report.failed(node_id, attempt, failure_of(exc))

    def hit() -> dict[str, Binding] | None:
        return index.lookup(key, spec)

    def run_and_save() -> Report:
        report = run()
        if report.outcome == Outcome.VALUES:
            assert report.outputs is not None
            index.save(key, spec, report.outputs, execution=execution_id, node=node_id)
        elif report.outcome == Outcome.SUBGRAPH:
            report.extra["cache_key"] = key
        return report

    if spec.cache_serialize and locks is not None:
        result, from_cache = locks.run_once(key, hit, run_and_save, holder=worker)
    else:
        result = hit()
        from_cache = result is not None
        if not from_cache:
            result = run_and_save()
    return Report.cached(node_id, attempt, result) if from_cache else result
