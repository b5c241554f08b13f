"""The rows of an execution's timeline (a Gantt chart of its nodes), from the status board's
node records through `sdk.remote.timing`, as `graft status` reads them. Pure: no I/O.

A node's row spans from its release (`started_at`: the scheduler queued it) to its end (or
now). On it, each attempt that reported is a span from `ended_at - duration_s` to
`ended_at`; the time between is queued (before the first attempt, and between a failed
attempt and the next). A node that has not ended has a live span from its last known moment
to now, in its state (QUEUED, RUNNING, WAITING). Nodes that do not run on workers (a
sub-workflow, a map as a whole, a gate) have their whole span only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sdk.remote.timing import RUN_ON_WORKERS, attempt_spans, node_times
from sdk.ui.graph import natural_key

ROWS = 1000  # the timeline draws at most this many nodes (the earliest released)


def rows(records: Mapping[str, Mapping[str, Any]], now: float, limit: int = ROWS
         ) -> dict[str, Any]:
    """`{"rows": [...], "total": n, "start": t0, "end": t1}` (unix seconds): one row per
    node released so far, by release time then id. A row has `id`, `task`, `kind`, `state`,
    `parent`, `released`, `ended` (None while it runs), `attempts` (`attempt`, `outcome`,
    `start`, `end`, and `error` "Type: message" for a failed one), `queued_s`, `running_s`
    and `total_s` (None where unknown)."""
    released = sorted(((r["started_at"], nid) for nid, r in records.items()
                       if isinstance(r.get("started_at"), (int, float))),
                      key=lambda t: (t[0], natural_key(t[1])))
    out = []
    for start, nid in released[:limit]:
        record = dict(records[nid])
        history = list(record.get("history") or [])
        spans = attempt_spans(history) if record.get("kind", "task") in RUN_ON_WORKERS else []
        for span, h in zip(spans, [h for h in history if _timed(h)], strict=True):
            if h.get("type"):  # a failed attempt (`NodeRun.record`)
                span["error"] = f"{h['type']}: {h.get('message') or ''}"
        out.append({"id": nid, "task": record.get("task", ""),
                    "kind": record.get("kind", "task"), "state": record.get("state", ""),
                    "parent": record.get("parent"), "released": start,
                    "ended": record.get("ended_at"), "attempts": spans,
                    **node_times(record, now)})
    ends = [r["ended"] or now for r in out]
    return {"rows": out, "total": len(released),
            "start": released[0][0] if released else None,
            "end": max(ends, default=None)}


def _timed(h: Mapping[str, Any]) -> bool:
    return isinstance(h.get("ended_at"), (int, float)) and \
        isinstance(h.get("duration_s"), (int, float))
