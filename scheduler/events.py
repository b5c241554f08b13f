"""Reports as the scheduler records them (`event_body`) and rebuilds them from its event log
(`replayed`) to replay an execution's engine after a restart."""

from __future__ import annotations

from typing import Any

from scheduler.state import EventRecord
from sdk.model.report import Failure, Outcome, Report
from sdk.model.spec import GraphSpec
from sdk.model.store import Store
from sdk.values.store import get_verified


def event_body(report: Report) -> dict[str, Any]:
    """What an event keeps of a report: enough to replay the engine's decision exactly, and
    where and how long the attempt ran."""
    body: dict[str, Any]
    if report.outcome in (Outcome.VALUES, Outcome.CACHED):
        body = {"outputs": report.outputs}
    elif report.outcome == Outcome.SUBGRAPH:
        body = {"subgraph": report.extra["key"]}
        if report.extra.get("cache_key"):
            body["cache_key"] = report.extra["cache_key"]
    elif report.outcome == Outcome.MAPPED:
        body = {"items": report.items}
    elif report.outcome == Outcome.BRANCHED:
        body = {"case": report.case}
    else:
        assert report.error is not None
        body = {"error": report.error.to_json()}
    return {**body, **report.attempt_info()}


def replayed(ev: EventRecord, store: Store) -> Report:
    """The report an event recorded, rebuilt to replay it through a fresh engine."""
    body = ev.body
    info = {k: body[k] for k in ("worker", "duration_s", "peak_memory_bytes") if k in body}
    node, attempt, outcome = ev.node_id, ev.attempt, ev.outcome
    if outcome in (Outcome.VALUES.value, Outcome.CACHED.value):
        return Report(node, attempt, Outcome(outcome), outputs=body["outputs"], **info)
    if outcome == Outcome.SUBGRAPH.value:
        sub = GraphSpec.loads(get_verified(store, body["subgraph"]))
        extra = {"key": body["subgraph"]}
        if body.get("cache_key"):
            extra["cache_key"] = body["cache_key"]
        return Report.grafted(node, attempt, sub, extra=extra, **info)
    if outcome == Outcome.MAPPED.value:
        return Report.mapped(node, attempt, int(body["items"]), **info)
    if outcome == Outcome.BRANCHED.value:
        return Report.branched(node, attempt, int(body["case"]), **info)
    error = body["error"]
    if "kind" not in error:  # recorded before failures had kinds
        error = {**error, "kind": "SYSTEM" if body.get("retriable", True) else "DATA"}
    return Report.failed(node, attempt, Failure.from_json(error), **info)
