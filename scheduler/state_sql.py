"""The scheduler's state in SQL tables (SQLAlchemy 2): SQLite or PostgreSQL."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from scheduler.db import (
    EventRow,
    ExecutionRow,
    LaunchPlanRow,
    NodeRow,
    TickRow,
    open_database,
    utcnow,
)
from scheduler.state import NODE_FIELDS, EventRecord, ExecutionRecord, LaunchPlanRecord, TickRecord
from scheduler.state import NodeRow as NodeDict

_EXECUTION_FIELDS = ("workflow", "status", "spec_key", "inputs", "outputs", "error",
                     "submitted_at", "priority")


def _ts(value: datetime.datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0


def _execution(row: ExecutionRow) -> ExecutionRecord:
    return ExecutionRecord(id=row.id, workflow=row.workflow, status=row.status,
                           spec_key=row.spec_key, inputs=row.inputs, outputs=row.outputs,
                           error=row.error, submitted_at=row.submitted_at,
                           priority=row.priority,
                           created_at=_ts(row.created_at), updated_at=_ts(row.updated_at))


_LAUNCH_PLAN_FIELDS = ("workflow", "spec_key", "inputs", "schedule", "active", "anchor_s",
                       "cursor_s", "skipped")


def _launch_plan(row: LaunchPlanRow) -> LaunchPlanRecord:
    return LaunchPlanRecord(name=row.name, updated_at=_ts(row.updated_at),
                            **{k: getattr(row, k) for k in _LAUNCH_PLAN_FIELDS})


class SqlState:
    """State in the database at `url` (migrated to the newest schema when opened)."""

    def __init__(self, url: str, engine: SqlEngine | None = None):
        self.url = url
        self.engine = engine if engine is not None else open_database(url)

    @contextmanager
    def transaction(self) -> Iterator[_SqlTx]:
        with Session(self.engine) as session, session.begin():
            yield _SqlTx(session)

    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, (OperationalError, InterfaceError, DisconnectionError,
                                PoolTimeout, OSError))


class _SqlTx:
    def __init__(self, session: Session):
        self.session = session

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        row = self.session.get(ExecutionRow, execution_id)
        return _execution(row) if row is not None else None

    def add_execution(self, record: ExecutionRecord) -> None:
        self.session.add(ExecutionRow(
            id=record.id, **{k: getattr(record, k) for k in _EXECUTION_FIELDS}))
        self.session.flush()

    def update_execution(self, execution_id: str, **fields: Any) -> None:
        self.session.execute(update(ExecutionRow).where(ExecutionRow.id == execution_id)
                             .values(updated_at=utcnow(), **fields))

    def executions(self, status: str | None = None, limit: int | None = None
                   ) -> list[ExecutionRecord]:
        query = select(ExecutionRow).order_by(ExecutionRow.created_at.desc(),
                                              ExecutionRow.id.desc())
        if status is not None:
            query = query.where(ExecutionRow.status == status)
        if limit is not None:
            query = query.limit(limit)
        return [_execution(r) for r in self.session.scalars(query)]

    def count_by_status(self) -> dict[str, int]:
        rows = self.session.execute(select(ExecutionRow.status, func.count())
                                    .group_by(ExecutionRow.status))
        return {status: int(n) for status, n in rows}

    def node_ids(self, execution_id: str) -> set[str]:
        return set(self.session.scalars(select(NodeRow.node_id)
                                        .where(NodeRow.execution_id == execution_id)))

    def nodes(self, execution_id: str) -> list[NodeDict]:
        rows = self.session.scalars(select(NodeRow).where(NodeRow.execution_id == execution_id)
                                    .order_by(NodeRow.node_id))
        return [{k: getattr(r, k) for k in NODE_FIELDS} for r in rows]

    def insert_nodes(self, rows: list[NodeDict]) -> None:
        if rows:
            now = utcnow()
            self.session.execute(insert(NodeRow), [{**r, "updated_at": now} for r in rows])

    def update_nodes(self, rows: list[NodeDict]) -> None:
        if rows:
            now = utcnow()
            self.session.execute(update(NodeRow), [{**r, "updated_at": now} for r in rows])

    def append_event(self, event: EventRecord) -> None:
        self.session.add(EventRow(execution_id=event.execution_id, seq=event.seq,
                                  node_id=event.node_id, attempt=event.attempt,
                                  outcome=event.outcome, body=event.body))

    def events(self, execution_id: str) -> list[EventRecord]:
        rows = self.session.scalars(select(EventRow).where(EventRow.execution_id == execution_id)
                                    .order_by(EventRow.seq))
        return [EventRecord(r.execution_id, r.seq, r.node_id, r.attempt, r.outcome, r.body)
                for r in rows]

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        nested = self.session.begin_nested()
        try:
            yield
        except BaseException:
            nested.rollback()
            raise
        nested.commit()

    def get_launch_plan(self, name: str) -> LaunchPlanRecord | None:
        row = self.session.get(LaunchPlanRow, name)
        return _launch_plan(row) if row is not None else None

    def put_launch_plan(self, record: LaunchPlanRecord) -> None:
        fields = {k: getattr(record, k) for k in _LAUNCH_PLAN_FIELDS}
        row = self.session.get(LaunchPlanRow, record.name)
        if row is None:
            self.session.add(LaunchPlanRow(name=record.name, updated_at=utcnow(), **fields))
        else:
            for key, value in fields.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        self.session.flush()

    def launch_plans(self, active: bool | None = None) -> list[LaunchPlanRecord]:
        query = select(LaunchPlanRow).order_by(LaunchPlanRow.name)
        if active is not None:
            query = query.where(LaunchPlanRow.active == active)
        return [_launch_plan(r) for r in self.session.scalars(query)]

    def add_tick(self, tick: TickRecord) -> None:
        # Flushed at once: a second scheduler's row for the same tick fails here, inside the
        # caller's savepoint, not at commit.
        self.session.add(TickRow(launch_plan=tick.launch_plan, tick_s=tick.tick_s,
                                 execution_id=tick.execution_id,
                                 fired_at=datetime.datetime.fromtimestamp(
                                     tick.fired_at, datetime.timezone.utc)))
        self.session.flush()

    def ticks(self, launch_plan: str, limit: int | None = None) -> list[TickRecord]:
        query = select(TickRow).where(TickRow.launch_plan == launch_plan) \
            .order_by(TickRow.tick_s.desc())
        if limit is not None:
            query = query.limit(limit)
        return [TickRecord(r.launch_plan, r.tick_s, r.execution_id, _ts(r.fired_at))
                for r in self.session.scalars(query)]
