"""One transaction of the scheduler's state in SQL (`SqlState.transaction` yields it): the
statements, prepared once, and `SqlTx`, which runs them on one connection. SQLite and
PostgreSQL through any driver use `SqlTx`; PostgreSQL through psycopg 3 uses its pipelined
subclass (`scheduler.state_pg.PipelinedTx`). `SqlState` (scheduler/state_sql.py) opens the
connection and picks the class.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Table, Text, bindparam, func, insert, select, type_coerce, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from scheduler.db import (
    EventRow,
    ExecutionRow,
    LaunchPlanRow,
    NodeRow,
    NotificationRow,
    ShardRow,
    TickRow,
    utcnow,
)
from scheduler.state import (
    NODE_FIELDS,
    EventRecord,
    ExecutionRecord,
    LaunchPlanRecord,
    NodeMark,
    NotificationRecord,
    TickRecord,
)
from scheduler.state import NodeRow as NodeDict

_EXECUTIONS = cast(Table, ExecutionRow.__table__)
_NODES = cast(Table, NodeRow.__table__)
_EVENTS = cast(Table, EventRow.__table__)
_LAUNCH_PLANS = cast(Table, LaunchPlanRow.__table__)
_TICKS = cast(Table, TickRow.__table__)
_SHARDS = cast(Table, ShardRow.__table__)
_NOTIFICATIONS = cast(Table, NotificationRow.__table__)

_EXECUTION_FIELDS = ("workflow", "status", "spec_key", "inputs", "outputs", "error",
                     "submitted_at", "priority", "notify")
_LAUNCH_PLAN_FIELDS = ("workflow", "spec_key", "inputs", "schedule", "active", "anchor_s",
                       "cursor_s", "skipped", "notifications")
_NOTIFICATION_FIELDS = ("execution_id", "seq", "channel", "phase", "body", "state", "error",
                        "created_at")
_NODE_VALUES = tuple(k for k in NODE_FIELDS if k not in ("execution_id", "node_id"))

# Built once: SQLAlchemy caches their compiled form, and building a statement costs more than
# looking it up. Parameter names that are column names are reserved for the SET clause, so the
# key of an updated row is bound as pk_*; the SET clause is every other key of the parameters.
_GET_EXECUTION = select(_EXECUTIONS).where(_EXECUTIONS.c.id == bindparam("pk_id"))
_INSERT_NODES = insert(_NODES)
_UPDATE_NODES = update(_NODES).where(_NODES.c.execution_id == bindparam("pk_execution_id"),
                                     _NODES.c.node_id == bindparam("pk_node_id"))
_NODE_IDS = select(_NODES.c.node_id).where(_NODES.c.execution_id == bindparam("pk_id"))
_NODES_OF = (select(*(_NODES.c[k] for k in NODE_FIELDS))
             .where(_NODES.c.execution_id == bindparam("pk_id")).order_by(_NODES.c.node_id))
_NODES_BY_ID = _NODES_OF.where(_NODES.c.node_id.in_(bindparam("ids", expanding=True)))
# The outputs of some nodes (expanding IN), or of every node of an execution that has them,
# as text: parsed in one call a read, not a row at a time (a gather reads 1,000,000 of them).
_OUTPUTS_OF = (select(_NODES.c.node_id, type_coerce(_NODES.c.outputs, Text))
               .where(_NODES.c.execution_id == bindparam("pk_id"),
                      _NODES.c.node_id.in_(bindparam("ids", expanding=True)),
                      _NODES.c.outputs.is_not(None)))
# As text: parsed in one call, not a row at a time (a 1,000,000-node fan-out's outputs).
_ALL_OUTPUTS_OF = (select(_NODES.c.node_id, type_coerce(_NODES.c.outputs, Text))
                   .where(_NODES.c.execution_id == bindparam("pk_id"),
                          _NODES.c.outputs.is_not(None)))
# Above this many ids one read of all the execution's outputs is cheaper than lookups by id.
_OUTPUTS_BY_ID = 2_000
_OUTPUTS_PER_READ = 500  # ids: SQLite before 3.32 takes at most 999 parameters
_OUTPUTS_PARSED = 20_000  # rows of a read of all parsed in one call
_INSERT_EVENTS = insert(_EVENTS)
# Bodies as text: a page's parsed in one call, not a row at a time (a rebuild reads 500,000).
_EVENTS_OF = (select(_EVENTS.c.execution_id, _EVENTS.c.seq, _EVENTS.c.node_id,
                     _EVENTS.c.attempt, _EVENTS.c.outcome, type_coerce(_EVENTS.c.body, Text))
              .where(_EVENTS.c.execution_id == bindparam("pk_id"),
                     _EVENTS.c.seq > bindparam("after")).order_by(_EVENTS.c.seq))
# What a rebuild reads of each node row: no JSON column (one node's bindings parsed for
# each of 1,000,000 rows cost most of a rebuild), a page at a time in id order.
_NODE_MARKS = (select(_NODES.c.node_id, _NODES.c.state, _NODES.c.token, _NODES.c.started_at,
                      _NODES.c.ended_at)
               .where(_NODES.c.execution_id == bindparam("pk_id"),
                      _NODES.c.node_id > bindparam("after"))
               .order_by(_NODES.c.node_id).limit(bindparam("limit")))
_GET_LAUNCH_PLAN = select(_LAUNCH_PLANS).where(_LAUNCH_PLANS.c.name == bindparam("pk_name"))


def _ts(value: datetime.datetime | None) -> float:
    if value is None:
        return 0.0
    if value.tzinfo is None:  # SQLite keeps no zone: the times it holds were written in UTC
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def _execution(row: Any) -> ExecutionRecord:
    return ExecutionRecord(id=row.id, workflow=row.workflow, status=row.status,
                           spec_key=row.spec_key, inputs=row.inputs, outputs=row.outputs,
                           error=row.error, submitted_at=row.submitted_at,
                           priority=row.priority, notify=row.notify,
                           snapshot_key=row.snapshot_key, snapshot_seq=row.snapshot_seq,
                           created_at=_ts(row.created_at), updated_at=_ts(row.updated_at))


def _launch_plan(row: Any) -> LaunchPlanRecord:
    return LaunchPlanRecord(name=row.name, updated_at=_ts(row.updated_at),
                            **{k: getattr(row, k) for k in _LAUNCH_PLAN_FIELDS})



class SqlTx:
    """One transaction on `conn`. With `begin`, the driver is in autocommit mode and that
    statement is sent before the first one of the transaction (see `hold_shards`), and `end`
    commits or rolls back."""

    def __init__(self, conn: Connection, begin: str | None = None):
        self.conn = conn
        self._begin = begin  # not sent yet
        self._open = False  # begun by hand, not ended
        self._events: list[dict[str, Any]] = []  # appended, not yet inserted
        self._savepoints = 0  # open now
        self._cursor: Any = None  # the driver's, for savepoints
        self._held: tuple[str, int] | None = None  # (token, shards held), once fenced

    def _run(self, statement: Any, params: Any = None) -> Any:
        """`conn.execute`, after the transaction's BEGIN if that was not sent yet."""
        self._start()
        return self.conn.execute(statement, params)

    def _start(self, then: str = "") -> None:
        """Send the pending BEGIN, with `then` (more statements, no parameters) in the same
        round trip."""
        if self._begin is not None:
            self._plain(f"{self._begin}; {then}" if then else self._begin)
            self._begin = None
            self._open = True

    def commit(self) -> None:
        """Insert the buffered events and COMMIT a transaction begun by hand."""
        self.flush_events()
        self.end("COMMIT")

    def end(self, statement: str) -> None:
        """COMMIT or ROLLBACK a transaction begun by hand (nothing if it sent nothing)."""
        if self._open:
            self._open = False
            self._plain(statement)

    def abandon(self) -> None:
        """Roll back a transaction begun by hand, as far as the connection still allows: the
        error that ended it is the one to report, and a connection that cannot roll back is
        broken (the pool discards it when it is returned)."""
        if not self._open or self.conn.invalidated:
            return
        try:
            self.end("ROLLBACK")
        except DBAPIError:
            self.conn.invalidate()

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def _plain(self, statement: str) -> None:
        """Run a statement without parameters or result on the driver's own cursor, its
        errors wrapped as SQLAlchemy's. For savepoints, which the scheduler opens one per
        message: a SAVEPOINT and its RELEASE cost 60 µs of CPU on SQLite and 190 µs on
        PostgreSQL through SQLAlchemy's `begin_nested()`, 1 µs and 40 µs this way."""
        if self._cursor is None:
            self._cursor = self.conn.connection.cursor()
        with self._driver_errors(statement):
            self._cursor.execute(statement)

    @contextmanager
    def _driver_errors(self, statement: str) -> Iterator[None]:
        """The driver's errors raised inside wrapped as SQLAlchemy's. What SQLAlchemy does
        for its own statements: a connection the server dropped is invalidated, so that the
        pool does not roll it back when it is returned (that fails too, and the pool logs the
        failure as an ERROR with tracebacks)."""
        try:
            yield
        except self.conn.dialect.loaded_dbapi.Error as exc:
            lost = self.conn.dialect.is_disconnect(exc, self.conn.connection.dbapi_connection,
                                                   self._cursor)
            if lost:
                self.close()
                self.conn.invalidate(exc)
            raise DBAPIError.instance(statement, None, exc,
                                      self.conn.dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost) from exc

    def flush_events(self) -> None:
        """Insert the buffered events (a duplicate `(execution_id, seq)` raises here)."""
        if self._events:
            rows, self._events = self._events, []
            self._run(_INSERT_EVENTS, rows)

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        row = self._run(_GET_EXECUTION, {"pk_id": execution_id}).first()
        return _execution(row) if row is not None else None

    def add_execution(self, record: ExecutionRecord) -> None:
        self._run(insert(_EXECUTIONS).values(
            id=record.id, **{k: getattr(record, k) for k in _EXECUTION_FIELDS}))

    def update_execution(self, execution_id: str, **fields: Any) -> None:
        self._run(update(_EXECUTIONS).where(_EXECUTIONS.c.id == execution_id)
                  .values(updated_at=utcnow(), **fields))

    def executions(self, status: str | None = None, limit: int | None = None
                   ) -> list[ExecutionRecord]:
        query = select(_EXECUTIONS).order_by(_EXECUTIONS.c.created_at.desc(),
                                             _EXECUTIONS.c.id.desc())
        if status is not None:
            query = query.where(_EXECUTIONS.c.status == status)
        if limit is not None:
            query = query.limit(limit)
        return [_execution(r) for r in self._run(query)]

    def count_by_status(self) -> dict[str, int]:
        rows = self._run(select(_EXECUTIONS.c.status, func.count())
                         .group_by(_EXECUTIONS.c.status))
        return {status: int(n) for status, n in rows}

    def node_ids(self, execution_id: str) -> set[str]:
        return set(self._run(_NODE_IDS, {"pk_id": execution_id}).scalars())

    def nodes(self, execution_id: str, ids: Collection[str] | None = None) -> list[NodeDict]:
        if ids is None:
            return [r._asdict() for r in self._run(_NODES_OF, {"pk_id": execution_id})]
        wanted, found = sorted(ids), []
        for i in range(0, len(wanted), _OUTPUTS_PER_READ):
            found += [r._asdict() for r in self._run(_NODES_BY_ID, {
                "pk_id": execution_id, "ids": wanted[i:i + _OUTPUTS_PER_READ]})]
        return sorted(found, key=lambda r: r["node_id"])

    def node_outputs(self, execution_id: str, node_ids: list[str]
                     ) -> dict[str, dict[str, Any]]:
        if len(node_ids) > _OUTPUTS_BY_ID:
            wanted = set(node_ids)
            result = self._run(_ALL_OUTPUTS_OF, {"pk_id": execution_id})
            found = {}
            while chunk := result.fetchmany(_OUTPUTS_PARSED):
                rows = [r for r in chunk if r[0] in wanted]
                values = json.loads("[" + ",".join(text for _, text in rows) + "]")
                found.update((nid, out) for (nid, _), out in zip(rows, values) if out is not None)
            return found
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(node_ids), _OUTPUTS_PER_READ):
            ids = node_ids[i:i + _OUTPUTS_PER_READ]
            rows = self._run(_OUTPUTS_OF, {"pk_id": execution_id, "ids": ids}).all()
            values = json.loads("[" + ",".join(text for _, text in rows) + "]")
            found.update((nid, out) for (nid, _), out in zip(rows, values) if out is not None)
        return found

    def insert_nodes(self, rows: list[NodeDict]) -> None:
        if rows:
            now = utcnow()
            self._run(_INSERT_NODES, [{**{k: r[k] for k in NODE_FIELDS},
                                       "updated_at": now} for r in rows])

    def update_nodes(self, rows: list[NodeDict]) -> None:
        if not rows:
            return
        now = utcnow()
        params = [{"pk_execution_id": r["execution_id"], "pk_node_id": r["node_id"],
                   **{k: r[k] for k in _NODE_VALUES}, "updated_at": now} for r in rows]
        result = self._run(_UPDATE_NODES, params)
        dialect = self.conn.dialect
        sane = dialect.supports_sane_multi_rowcount if len(rows) > 1 \
            else dialect.supports_sane_rowcount
        if sane and result.rowcount != len(rows):
            raise KeyError(f"{len(rows) - result.rowcount} of {len(rows)} node rows to update "
                           f"have no row (nodes {', '.join(r['node_id'] for r in rows[:5])}"
                           f"{', ...' if len(rows) > 5 else ''} of execution "
                           f"{rows[0]['execution_id']})")

    def append_event(self, event: EventRecord) -> None:
        self._events.append({"execution_id": event.execution_id, "seq": event.seq,
                             "node_id": event.node_id, "attempt": event.attempt,
                             "outcome": event.outcome, "body": event.body,
                             "created_at": utcnow()})

    def events(self, execution_id: str, after: int = 0,
               limit: int | None = None) -> list[EventRecord]:
        self.flush_events()
        query = _EVENTS_OF if limit is None else _EVENTS_OF.limit(limit)
        rows = self._run(query, {"pk_id": execution_id, "after": after}).all()
        bodies = json.loads("[" + ",".join(r[5] for r in rows) + "]")
        return [EventRecord(*r[:5], body) for r, body in zip(rows, bodies)]

    def node_marks(self, execution_id: str, after: str, limit: int) -> list[NodeMark]:
        return [NodeMark(*r) for r in self._run(_NODE_MARKS, {
            "pk_id": execution_id, "after": after, "limit": limit})]

    def hold_shards(self, token: str) -> int:
        if self._held is not None and self._held[0] == token:
            return self._held[1]
        if self._begin is None:
            held = self._run(update(_SHARDS).where(_SHARDS.c.owner == token)
                             .values(owner=_SHARDS.c.owner)).rowcount
        else:
            # BEGIN and the fence in one simple query (one round trip). The protocol that
            # carries several statements takes no parameters: the token is quoted here (it is
            # the scheduler's own `owner/hex`, quotes doubled all the same).
            quoted = "'" + token.replace("'", "''") + "'"
            self._start(f"UPDATE {_SHARDS.name} SET owner = owner WHERE owner = {quoted}")
            self._cursor.nextset()
            held = self._cursor.rowcount
        self._held = (token, held)
        return held

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self.flush_events()  # those appended before belong to the enclosing scope
        self._start()
        self._savepoints += 1
        name = f"graft_savepoint_{self._savepoints}"
        try:
            self._plain(f"SAVEPOINT {name}")
            try:
                yield
                self.flush_events()
            except BaseException:
                self._events.clear()
                if not self.conn.invalidated:  # else the transaction went with the connection
                    self._plain(f"ROLLBACK TO SAVEPOINT {name}")
                    self._plain(f"RELEASE SAVEPOINT {name}")
                raise
            self._plain(f"RELEASE SAVEPOINT {name}")
        finally:
            self._savepoints -= 1

    def get_launch_plan(self, name: str) -> LaunchPlanRecord | None:
        row = self._run(_GET_LAUNCH_PLAN, {"pk_name": name}).first()
        return _launch_plan(row) if row is not None else None

    def put_launch_plan(self, record: LaunchPlanRecord) -> None:
        fields = {k: getattr(record, k) for k in _LAUNCH_PLAN_FIELDS}
        fields["updated_at"] = utcnow()
        replaced = self._run(update(_LAUNCH_PLANS)
                             .where(_LAUNCH_PLANS.c.name == record.name)
                             .values(**fields))
        if replaced.rowcount == 0:
            self._run(insert(_LAUNCH_PLANS).values(name=record.name, **fields))

    def launch_plans(self, active: bool | None = None) -> list[LaunchPlanRecord]:
        query = select(_LAUNCH_PLANS).order_by(_LAUNCH_PLANS.c.name)
        if active is not None:
            query = query.where(_LAUNCH_PLANS.c.active == active)
        return [_launch_plan(r) for r in self._run(query)]

    def add_tick(self, tick: TickRecord) -> None:
        # Inserted at once: a second scheduler's row for the same tick fails here, inside the
        # caller's savepoint, not at commit.
        self._run(insert(_TICKS).values(
            launch_plan=tick.launch_plan, tick_s=tick.tick_s, execution_id=tick.execution_id,
            fired_at=datetime.datetime.fromtimestamp(tick.fired_at, datetime.timezone.utc)))

    def ticks(self, launch_plan: str, limit: int | None = None) -> list[TickRecord]:
        query = select(_TICKS).where(_TICKS.c.launch_plan == launch_plan) \
            .order_by(_TICKS.c.tick_s.desc())
        if limit is not None:
            query = query.limit(limit)
        return [TickRecord(r.launch_plan, r.tick_s, r.execution_id, _ts(r.fired_at))
                for r in self._run(query)]

    def add_notifications(self, records: list[NotificationRecord]) -> None:
        if records:
            now = utcnow()
            self._run(insert(_NOTIFICATIONS), [
                {**{k: getattr(r, k) for k in _NOTIFICATION_FIELDS}, "updated_at": now}
                for r in records])

    def notifications(self, execution_id: str | None = None, state: str | None = None
                      ) -> list[NotificationRecord]:
        query = select(*(_NOTIFICATIONS.c[k] for k in _NOTIFICATION_FIELDS)).order_by(
            _NOTIFICATIONS.c.created_at, _NOTIFICATIONS.c.execution_id, _NOTIFICATIONS.c.seq)
        if execution_id is not None:
            query = query.where(_NOTIFICATIONS.c.execution_id == execution_id)
        if state is not None:
            query = query.where(_NOTIFICATIONS.c.state == state)
        return [NotificationRecord(**r._asdict()) for r in self._run(query)]

    def mark_notifications(self, marks: list[tuple[str, int, str, str | None]]) -> None:
        if marks:
            now = utcnow()
            self._run(update(_NOTIFICATIONS).where(
                _NOTIFICATIONS.c.execution_id == bindparam("pk_execution_id"),
                _NOTIFICATIONS.c.seq == bindparam("pk_seq")),
                [{"pk_execution_id": eid, "pk_seq": seq, "state": state, "error": error,
                  "updated_at": now} for eid, seq, state, error in marks])
