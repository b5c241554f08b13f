"""The database side of garbage collection: which executions are old enough to prune, their
rows deleted in small transactions, and the text of every row that is kept (the roots the
mark phase scans).

An execution is prunable when it ended (SUCCEEDED, FAILED or ABORTED) before the cutoff. Its
end time is when its row last changed (`updated_at`): an ended execution's row is written
last when it ends. Pruning one deletes its row and every row that names it: its nodes,
events and notifications, and the schedule ticks that started it, except each launch plan's
newest tick (which `graft launchplan ls` shows as its last run).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, Text, delete, func, select, type_coerce
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.sql import ColumnElement

from scheduler.db import EventRow, ExecutionRow, LaunchPlanRow, NodeRow, NotificationRow, TickRow
from sdk.wire.results import FINAL

__all__ = ["Pruned", "Rows"]

_EXECUTIONS = cast(Table, ExecutionRow.__table__)
_NODES = cast(Table, NodeRow.__table__)
_EVENTS = cast(Table, EventRow.__table__)
_NOTIFICATIONS = cast(Table, NotificationRow.__table__)
_TICKS = cast(Table, TickRow.__table__)
_LAUNCH_PLANS = cast(Table, LaunchPlanRow.__table__)

# The columns that may name store objects, by table (scanned as text, never parsed).
_SCANNED = ((_NODES, ("inputs", "outputs", "history", "error")), (_EVENTS, ("body",)))
_EXECUTION_TEXT = ("spec_key", "inputs", "outputs", "error", "notify", "snapshot_key")
READ_ROWS = 2000  # rows fetched at a time while scanning


@dataclass
class Pruned:
    """What pruning deleted (or, in a dry run, would delete): executions by status, and rows
    by table."""

    executions: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def add_rows(self, table: str, count: int) -> None:
        if count:
            self.rows[table] = self.rows.get(table, 0) + count

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


class Rows:
    """Executions and their rows in the database behind `engine`, for a cutoff."""

    def __init__(self, engine: SqlEngine, cutoff_s: float):
        self.engine = engine
        self.cutoff = datetime.datetime.fromtimestamp(cutoff_s, datetime.timezone.utc)

    def _old(self) -> ColumnElement[bool]:
        return (_EXECUTIONS.c.status.in_(FINAL)) & (_EXECUTIONS.c.updated_at < self.cutoff)

    def _prunable_ids(self) -> Any:
        return select(_EXECUTIONS.c.id).where(self._old())

    def count(self) -> Pruned:
        """What `prune` would delete, counted (the dry run)."""
        found = Pruned()
        ids = self._prunable_ids()
        with self.engine.connect() as conn:
            for status, n in conn.execute(select(_EXECUTIONS.c.status, func.count())
                                          .where(self._old()).group_by(_EXECUTIONS.c.status)):
                found.executions[status] = int(n)
            found.add_rows(_EXECUTIONS.name, sum(found.executions.values()))
            for table in (_NODES, _EVENTS, _NOTIFICATIONS):
                found.add_rows(table.name, int(conn.execute(
                    select(func.count()).select_from(table)
                    .where(table.c.execution_id.in_(ids))).scalar_one()))
            found.add_rows(_TICKS.name, int(conn.execute(
                select(func.count()).select_from(_TICKS)
                .where(_TICKS.c.execution_id.in_(ids), _not_newest_tick())).scalar_one()))
        return found

    def prune(self, batch: int = 200) -> Iterator[tuple[list[str], Pruned]]:
        """Delete the prunable executions and their rows, `batch` executions a transaction
        (so that no transaction holds locks long); yields the ids each deleted, and what."""
        while True:
            done = Pruned()
            with self.engine.begin() as conn:
                rows = conn.execute(select(_EXECUTIONS.c.id, _EXECUTIONS.c.status)
                                    .where(self._old()).limit(batch)).all()
                if not rows:
                    return
                ids = [r.id for r in rows]
                for table in (_NODES, _EVENTS, _NOTIFICATIONS):
                    done.add_rows(table.name, conn.execute(
                        delete(table).where(table.c.execution_id.in_(ids))).rowcount)
                done.add_rows(_TICKS.name, conn.execute(
                    delete(_TICKS).where(_TICKS.c.execution_id.in_(ids),
                                         _not_newest_tick())).rowcount)
                gone = conn.execute(delete(_EXECUTIONS).where(_EXECUTIONS.c.id.in_(ids),
                                                              self._old())).rowcount
                done.add_rows(_EXECUTIONS.name, gone)
                for r in rows:
                    done.executions[r.status] = done.executions.get(r.status, 0) + 1
            yield ids, done

    def kept_ids(self) -> set[str]:
        """The ids of the executions that are kept (all but the prunable ones)."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(_EXECUTIONS.c.id).where(~self._old())).scalars())

    def kept_text(self) -> Iterator[str]:
        """The text of every column that may name a store object, in the rows that are kept:
        the kept executions' own rows, their nodes' and events'; every launch plan's."""
        queries = [select(*(type_coerce(_EXECUTIONS.c[c], Text) for c in _EXECUTION_TEXT))
                   .where(~self._old()),
                   select(type_coerce(_LAUNCH_PLANS.c.spec_key, Text),
                          type_coerce(_LAUNCH_PLANS.c.inputs, Text))]
        for table, columns in _SCANNED:
            queries.append(select(*(type_coerce(table.c[c], Text) for c in columns))
                           .where(table.c.execution_id.not_in(self._prunable_ids())))
        with self.engine.connect() as conn:
            for query in queries:
                result = conn.execution_options(stream_results=True).execute(query)
                while chunk := result.fetchmany(READ_ROWS):
                    for row in chunk:
                        for value in row:
                            if value:
                                yield value


def _not_newest_tick() -> ColumnElement[bool]:
    newest = _TICKS.alias("newest")
    return _TICKS.c.tick_s < (select(func.max(newest.c.tick_s))
                              .where(newest.c.launch_plan == _TICKS.c.launch_plan)
                              .scalar_subquery())
