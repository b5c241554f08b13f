"""Running one dispatched attempt and turning its outcome into a report message: what a
worker does with a task message once it has verified it (and what `InlineDispatcher` does in
the scheduler's own process)."""

from __future__ import annotations

import json
import time
from typing import Any

from sdk.model.errors import GraftError, StoreError
from sdk.model.report import Report, data_failure, system_failure
from sdk.model.spec import node_from_json
from sdk.model.store import Store
from sdk.remote.messages import report_message
from sdk.runtime.bundle import load_entity
from sdk.runtime.execute import execute, failure_kind, failure_of
from sdk.values.store import get_verified, put_blob


def run_attempt(store: Store, execution_id: str, node_id: str, attempt: int,
                payload: dict[str, Any], worker: str = "") -> dict[str, Any]:
    """Run a verified task payload; return the report message (never raises for anything
    the task, its inputs, its code or the store do)."""
    started = time.monotonic()
    token = payload["token"]
    report = _run(store, execution_id, node_id, attempt, payload)
    subgraph_key = None
    if report.subgraph is not None:
        try:
            subgraph_key = put_blob(store, report.subgraph.dumps().encode(), prefix="subgraphs")
        except StoreError as exc:
            report = Report.failed(node_id, attempt, failure_of(exc, failure_kind(exc)))
    message = report_message(execution_id, token, report, subgraph_key)
    message["worker"] = worker
    message["duration_s"] = round(time.monotonic() - started, 6)
    return message


def _run(store: Store, execution_id: str, node_id: str, attempt: int,
         payload: dict[str, Any]) -> Report:
    try:
        spec = node_from_json(payload["spec"])
        inputs = payload.get("inputs")
        if inputs is None:
            inputs = json.loads(get_verified(store, payload["inputs_key"]))
        entity = load_entity(spec.task, store)
    except StoreError as exc:
        return Report.failed(node_id, attempt, failure_of(exc, failure_kind(exc)))
    except GraftError as exc:
        return Report.failed(node_id, attempt, data_failure(type(exc).__name__, str(exc)))
    except (KeyError, TypeError, ValueError) as exc:
        return Report.failed(node_id, attempt, data_failure(
            "MalformedTask", f"node {node_id!r}: malformed task message ({exc!r})"))
    if entity.kind != spec.kind or dict(entity.interface.inputs) != spec.inputs_types \
            or dict(entity.interface.outputs) != spec.outputs_types:
        return Report.failed(node_id, attempt, data_failure(
            "CodeMismatch", f"node {node_id!r}: {spec.task.ref} on this worker is a "
            f"{entity.kind} whose interface differs from the submitted spec's (the worker "
            f"imports other code than was submitted)"))
    try:
        return execute(spec, entity, inputs, store, node_id=node_id, attempt=attempt,
                       bundle=spec.task.bundle, execution_id=execution_id).report
    except Exception as exc:  # a defect of graft's own: still report, never go silent
        return Report.failed(node_id, attempt, system_failure(
            type(exc).__name__, f"graft failed running node {node_id!r}: {exc}"))
