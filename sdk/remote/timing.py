"""Where a node's time went, from its record on the status board: how long it waited in a
queue, how long its attempts ran, and in all, so that queue time is never shown as run time.

A node's `started_at` is when the scheduler released it and `ended_at` when it ended; each
attempt in its `history` carries `duration_s` (timed by the worker) and `ended_at` (when the
scheduler took its report). Only tasks and dynamic bodies run on workers; other nodes (a
sub-workflow, a gate, a map as a whole) have a total only.
"""

from __future__ import annotations

from typing import Any

RUN_ON_WORKERS = ("task", "dynamic")


def attempt_spans(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each attempt that reported its duration and end: {attempt, outcome, start, end} in unix
    seconds (the attempt ran from `end - duration_s` to `end`)."""
    spans = []
    for h in history:
        end, duration = h.get("ended_at"), h.get("duration_s")
        if isinstance(end, (int, float)) and isinstance(duration, (int, float)):
            spans.append({"attempt": h.get("attempt"), "outcome": h.get("outcome"),
                          "start": end - duration, "end": end})
    return spans


def node_times(record: dict[str, Any], now: float) -> dict[str, float | None]:
    """{queued_s, running_s, total_s} of a node record (a live node's total counts up to
    `now`; its queue and run times are known once it ended). None where unknown. A dynamic's
    running time is its body's, its queue time what it waited before the body's first
    attempt; its total includes the sub-graph it made."""
    started, ended = record.get("started_at"), record.get("ended_at")
    total = None if started is None else max(0.0, (ended or now) - started)
    if record.get("kind", "task") not in RUN_ON_WORKERS or ended is None or total is None:
        return {"queued_s": None, "running_s": None, "total_s": total}
    history = record.get("history") or []
    ran = sum(h["duration_s"] for h in history if isinstance(h.get("duration_s"), (int, float)))
    running = min(total, float(ran))
    if record.get("kind") == "dynamic":  # its total holds its children's run too
        spans = attempt_spans(history)
        queued = max(0.0, spans[0]["start"] - started) if spans else None
        return {"queued_s": queued, "running_s": running, "total_s": total}
    return {"queued_s": total - running, "running_s": running, "total_s": total}


def execution_times(info: dict[str, Any], nodes: list[dict[str, Any]],
                    now: float) -> dict[str, float | None]:
    """{started_at, ended_at, elapsed_s} of an execution: from its submission to the end of
    its last node once it ended (`info["status"]` terminal), else up to `now`."""
    started = info.get("submitted_at")
    ended = None
    if info.get("status") in ("SUCCEEDED", "FAILED", "ABORTED"):
        ends = [n["ended_at"] for n in nodes if n.get("ended_at")]
        ended = info.get("ended_at") or max(ends, default=None)
    elapsed = None if started is None else max(0.0, (ended or now) - started)
    return {"started_at": started, "ended_at": ended, "elapsed_s": elapsed}
