"""How the CLI writes times, durations, sizes and node ids, the same in every command.

Times are ISO 8601 with the zone (`2026-12-07T11:30:05+01:00`, the machine's local zone), in
tables and in `--json` alike: `timestamp` for one, `iso_times` for a JSON document (epoch
seconds under every key `at` or `*_at`, and a launch plan's `anchor_s`, `next_run_s` and
`last_tick_s`). Node ids sort naturally (`n/2` before `n/10`).
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

import click


def timestamp(ts: float | None) -> str:
    """Epoch seconds as ISO 8601 with the local zone, to the second; "-" for none."""
    if not ts:
        return "-"
    return datetime.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def iso_times(doc: Any) -> Any:
    """`doc` with every epoch-seconds value under a key `at` or `*_at` made a `timestamp`."""
    if isinstance(doc, dict):
        return {k: timestamp(v) if _is_time(k, v) else iso_times(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [iso_times(v) for v in doc]
    return doc


# times some records keep under other names (a launch plan's schedule)
OTHER_TIME_KEYS = frozenset({"next_run_s", "last_tick_s", "anchor_s"})


def _is_time(key: Any, value: Any) -> bool:
    return (isinstance(key, str)
            and (key == "at" or key.endswith("_at") or key in OTHER_TIME_KEYS)
            and isinstance(value, (int, float)) and not isinstance(value, bool))


def echo_json(doc: Any) -> None:
    """Print `doc` as indented JSON, its times as ISO 8601."""
    click.echo(json.dumps(iso_times(doc), indent=2, default=str))


def natural_key(node_id: str) -> list[Any]:
    """A sort key that orders the numbers inside ids by value: `m/2` before `m/10`."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", node_id) if part]


def cut(text: str, width: int) -> str:
    """`text` in at most `width` characters, ending in "…" when it was longer."""
    return text if len(text) <= width else text[:max(0, width - 1)] + "…"


def seconds(value: float | None) -> str:
    """A duration for a table: "-" for none, else seconds with two decimals."""
    return "-" if value is None else f"{value:.2f}"


def human_bytes(n: int) -> str:
    """A byte count in binary units with one decimal: `323.6 MiB`, `512 B`."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def say_where_to_look(execution_id: str) -> None:
    """After a submission, on stderr: the execution's graph page and the commands that
    follow it (stdout keeps only the id, for scripts)."""
    from sdk.remote.stack import page_url

    click.echo(f"graph page: {page_url(execution_id)} (served by `graft ui` or `graft up`)\n"
               f"follow it:  graft status {execution_id}  |  graft logs {execution_id} "
               f"--follow", err=True)
