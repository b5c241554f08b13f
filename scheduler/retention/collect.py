"""One garbage collection: prune old executions from the database, then mark and sweep the
store.

    1. list the store (every object, its size and when it was last written)
    2. prune the executions that ended before `now - older_than` (a dry run counts them)
    3. mark: what the kept rows, the cache entries, the registry and the pending submissions
       name, closed over the JSON objects they name (`scheduler.retention.mark`)
    4. sweep: delete each listed object that is not marked and was last written before
       `now - grace`, looked at again just before it goes (`scheduler.retention.sweep`)

The listing comes first so that an object written while gc runs is never a candidate; the
grace period keeps what a running execution or a client wrote but the database does not name
yet (a worker's output before its report is applied, a bundle uploaded before its
submission).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy.engine import Engine as SqlEngine

from scheduler.retention.mark import ROOTS, Marker, kind_of
from scheduler.retention.rows import Pruned, Rows
from scheduler.retention.sweep import StoredObject, delete_if_old, listing, prune_empty_folders
from sdk.model.errors import StoreError
from sdk.model.store import Store
from sdk.values.store import REWRITE_AFTER_S

__all__ = ["DEFAULT_GRACE_S", "Forgetter", "GcReport", "collect"]

log = logging.getLogger("graft.gc")

DEFAULT_GRACE_S = 3600.0


class Forgetter(Protocol):
    """Where the pruned executions' Redis records go (`sdk.wire.board.Board`)."""

    def forget(self, execution_ids: list[str]) -> int: ...

    def trim_index(self) -> int: ...


@dataclass
class GcReport:
    """What one gc did (or, with `dry_run`, would do). Times in seconds, sizes in bytes."""

    dry_run: bool
    older_than_s: float
    grace_s: float
    executions: dict[str, int] = field(default_factory=dict)  # pruned, by status
    rows: dict[str, int] = field(default_factory=dict)  # pruned, by table
    objects: int = 0  # in the store when listed
    bytes: int = 0
    objects_freed: int = 0
    bytes_freed: int = 0
    objects_marked: int = 0  # digests the mark phase found named
    redis_keys: int = 0  # board records and index entries removed
    errors: int = 0  # objects that could not be deleted
    duration_s: float = 0.0
    freed: list[str] = field(default_factory=list)  # the keys to delete (or, if asked, deleted)

    @property
    def rows_pruned(self) -> int:
        return sum(self.rows.values())

    def as_json(self, keys: bool = True) -> dict[str, Any]:
        out = asdict(self)
        out["rows_pruned"] = self.rows_pruned
        if not keys:
            out.pop("freed")
        return out


def collect(engine: SqlEngine, store: Store, *, older_than_s: float,
            grace_s: float = DEFAULT_GRACE_S, dry_run: bool = False,
            board: Forgetter | None = None, clock: Callable[[], float] = time.time,
            list_keys: bool = False) -> GcReport:
    """Run one gc over the database behind `engine` and `store`. `board`: where to remove
    the pruned executions' Redis records. The report lists the keys freed in a dry run, or
    with `list_keys`.
    StoreError when the store cannot be listed; the database's errors propagate."""
    started = time.monotonic()
    now = clock()
    report = GcReport(dry_run=dry_run, older_than_s=older_than_s, grace_s=grace_s)
    if not getattr(store, "local", True) and grace_s < REWRITE_AFTER_S:
        log.warning("gc: a grace of %g s is shorter than the %g s after which this store's "
                    "reused objects are written again: an object reused meanwhile may go",
                    grace_s, REWRITE_AFTER_S)
    cutoff = now - grace_s
    candidates: list[StoredObject] = []
    for obj in listing(store):
        report.objects += 1
        report.bytes += obj.size
        if obj.mtime < cutoff and kind_of(obj.key)[0] in ("content", "execution", "temp"):
            candidates.append(obj)
    rows = Rows(engine, now - older_than_s)
    if dry_run:
        _add(report, rows.count())
    else:
        for ids, pruned in rows.prune():
            _add(report, pruned)
            if board is not None:
                report.redis_keys += _forget(board, ids)
        if board is not None:
            report.redis_keys += _trim(board)
    marker = Marker(store, (o.key for o in candidates))
    for text in rows.kept_text():
        marker.text(text)
    kept = rows.kept_ids()
    for folder in ROOTS:
        for key in store.keys(folder):
            if folder == "submissions":
                kept.add(key.rpartition("/")[2])
            try:
                marker.text(store.get(key))
            except StoreError as exc:  # gone meanwhile (applied, cleared): it names nothing
                log.debug("gc: root %s not read: %s", key, exc)
    marker.expand()
    report.objects_marked = len(marker.marked)
    _sweep(store, candidates, marker, kept, cutoff, report, list_keys or dry_run)
    report.duration_s = time.monotonic() - started
    return report


def _add(report: GcReport, pruned: Pruned) -> None:
    for status, n in pruned.executions.items():
        report.executions[status] = report.executions.get(status, 0) + n
    for table, n in pruned.rows.items():
        report.rows[table] = report.rows.get(table, 0) + n


def _forget(board: Forgetter, ids: list[str]) -> int:
    try:
        return board.forget(ids)
    except Exception as exc:  # Redis away: the records expire by their TTL anyway
        log.warning("gc: the board records of %d pruned executions were not removed (they "
                    "expire by themselves): %s", len(ids), exc)
        return 0


def _trim(board: Forgetter) -> int:
    try:
        return board.trim_index()
    except Exception as exc:
        log.warning("gc: the board's index was not trimmed: %s", exc)
        return 0


def _sweep(store: Store, candidates: list[StoredObject], marker: Marker, kept: set[str],
           cutoff: float, report: GcReport, list_keys: bool) -> None:
    emptied: set[str] = set()  # folders of deleted per-execution objects
    for obj in candidates:
        if marker.keeps(obj.key, kept):
            continue
        if report.dry_run:
            report.objects_freed += 1
            report.bytes_freed += obj.size
            report.freed.append(obj.key)
            continue
        try:
            size = delete_if_old(store, obj.key, cutoff)
        except StoreError as exc:
            report.errors += 1
            log.warning("gc: %s", exc)
            continue
        if size is not None:
            report.objects_freed += 1
            report.bytes_freed += size
            if list_keys:
                report.freed.append(obj.key)
            if kind_of(obj.key)[0] == "execution":
                emptied.add(obj.key.rpartition("/")[0])
    if emptied:
        prune_empty_folders(store, sorted(emptied))
