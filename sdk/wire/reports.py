"""A `Report`'s JSON form: the one encoder and the one decoder.

Workers encode reports into their report messages, the scheduler encodes what it applies into
its event log, and it decodes both: report messages as they arrive, events when it replays an
execution. Beside a report's node, attempt and outcome (which messages and events carry in
fields of their own), the form holds:

    values, cached, gathered   {"outputs": {name: binding}}
    subgraph         {"subgraph": store key, "cache_key": key (a cached dynamic's, optional)}
    mapped           {"items": n}
    branched         {"case": n}
    error            {"error": {"kind", "type", "message", "traceback"}}
    and, when known  "worker", "duration_s", "peak_memory_bytes"; in an event, "gathers":
                     {node: [output, ...]}, the gathers the report began (sdk.model.gather);
                     in a message, "continued": [node, attempt], the link its worker claimed
                     to run next (`scheduler.continuation`; decoded into `extra`, never
                     written to an event)

A dynamic's sub-graph travels by its store key (`Report.extra["key"]` once read back), never
inline. What the decoder takes from a worker is checked: a worker name is cut to 255
characters, and a duration or peak memory that is not a number (a non-negative integer) is
left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sdk.model.report import Failure, Outcome, Report
from sdk.model.spec import GraphSpec

MAX_WORKER_CHARS = 255


def encode(report: Report, subgraph_key: str | None = None, **info: Any) -> dict[str, Any]:
    """The fields of `report` beside its node, attempt and outcome. A sub-graph is written as
    its store key: `subgraph_key`, else the key it was read from (`extra["key"]`). `info`
    (`worker`, `duration_s`, `peak_memory_bytes`) stands for the report's own, known only once
    it was made (a worker times the whole attempt)."""
    outcome = report.outcome
    body: dict[str, Any]
    if outcome in (Outcome.VALUES, Outcome.CACHED, Outcome.GATHERED):
        body = {"outputs": report.outputs}
    elif outcome == Outcome.SUBGRAPH:
        body = {"subgraph": subgraph_key or report.extra.get("key")}
        if report.extra.get("valid"):  # it passed its validation (`Engine.drain_validated`)
            body["valid"] = True
        if report.extra.get("cache_key"):
            body["cache_key"] = report.extra["cache_key"]
    elif outcome == Outcome.MAPPED:
        body = {"items": report.items}
    elif outcome == Outcome.BRANCHED:
        body = {"case": report.case}
    else:
        assert report.error is not None
        body = {"error": report.error.to_json()}
    if report.extra.get("gathers"):
        body["gathers"] = report.extra["gathers"]
    return {**body, **report.attempt_info(), **info}


def decode(node: str, attempt: int, outcome: str, body: Mapping[str, Any],
           subgraph: Callable[[str], GraphSpec]) -> Report:
    """The report `body` (from `encode`) stands for. `subgraph(key)` reads a dynamic's
    sub-graph by its store key (what it raises, the caller handles). A body must be well
    formed for its outcome (a report message is checked on arrival, `sdk.wire.messages`)."""
    info = attempt_info(body)
    gathers = {"gathers": body["gathers"]} if body.get("gathers") else {}
    if outcome in (Outcome.VALUES.value, Outcome.CACHED.value, Outcome.GATHERED.value):
        extra = dict(gathers)
        continued = body.get("continued")
        if isinstance(continued, list) and len(continued) == 2:
            extra["continued"] = (str(continued[0]), int(continued[1]))
        return Report(node, attempt, Outcome(outcome), outputs=body["outputs"], extra=extra,
                      **info)
    if outcome == Outcome.SUBGRAPH.value:
        extra = {"key": body["subgraph"], **gathers}
        if body.get("valid") is True:
            extra["valid"] = True
        if body.get("cache_key"):
            extra["cache_key"] = body["cache_key"]
        return Report.grafted(node, attempt, subgraph(body["subgraph"]), extra=extra, **info)
    if outcome == Outcome.MAPPED.value:
        return Report.mapped(node, attempt, int(body["items"]), extra=gathers, **info)
    if outcome == Outcome.BRANCHED.value:
        return Report.branched(node, attempt, int(body["case"]), extra=gathers, **info)
    error = body["error"]
    if "kind" not in error:  # an event recorded before failures had kinds
        error = {**error, "kind": "SYSTEM" if body.get("retriable", True) else "DATA"}
    return Report.failed(node, attempt, Failure.from_json(error), extra=gathers, **info)


def attempt_info(body: Mapping[str, Any]) -> dict[str, Any]:
    """Where an attempt ran, how long, and its peak memory, as far as `body` says so well."""
    info: dict[str, Any] = {}
    worker = body.get("worker")
    if worker:
        info["worker"] = str(worker)[:MAX_WORKER_CHARS]
    duration = body.get("duration_s")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool):
        info["duration_s"] = float(duration)
    peak = body.get("peak_memory_bytes")
    if isinstance(peak, int) and not isinstance(peak, bool) and peak >= 0:
        info["peak_memory_bytes"] = peak
    ended = body.get("ended_at")
    if isinstance(ended, (int, float)) and not isinstance(ended, bool):
        info["ended_at"] = float(ended)
    return info
