"""The scheduler's transactions on PostgreSQL through psycopg 3: node rows and events written
in pipelines, savepoints sent only when something needs them.

A report in a batch of many used to cost four round trips: its SAVEPOINT, the update of its
node's row, the insert of its event and the RELEASE (a 10,000-item map: 40,000 round trips,
`bench/backends.py`). Here a transaction buffers its node rows and events, as `SqlTx`
already buffered events, and sends them at the next point that needs an answer:

- a savepoint's end: its SAVEPOINT (never sent before it had something to scope) and its
  writes go in one pipeline, one round trip; the rows each update matched are checked
  there, inside the savepoint, so that a refused write still rolls back its message alone.
  Its RELEASE is owed, and sent in the same round trip as whatever goes next; a savepoint
  that wrote and read nothing sends nothing at all;
- a read, or a statement that is not buffered: what is buffered goes first, in one round
  trip;
- the commit: the writes and COMMIT in one pipeline (when the writes include updates, their
  rows are checked before COMMIT is sent, one round trip more), and no owed RELEASE (COMMIT
  releases every savepoint).

Statements and their order are those `SqlTx` sends, but for the savepoints' RELEASE, which
goes later: what is committed, and what raises where, is the same (the state contract, in
tests/integration/test_state_contract.py, runs on both).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection

from scheduler.db import JsonText, utcnow
from scheduler.state import NODE_FIELDS, EventRecord
from scheduler.state import NodeRow as NodeDict
from scheduler.state_tx import (
    _EVENTS,
    _INSERT_EVENTS,
    _INSERT_NODES,
    _NODE_VALUES,
    _NODES,
    _UPDATE_NODES,
    SqlTx,
)

_EVENT_FIELDS = ("execution_id", "seq", "node_id", "attempt", "outcome", "body", "created_at")
_DUMP = JsonText().process_bind_param


def _json_columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.c if isinstance(c.type, JsonText))


_NODE_JSON = _json_columns(_NODES)
_EVENT_JSON = _json_columns(_EVENTS)


def pipelines_supported(conn: Connection) -> bool:
    """Whether `conn`'s driver is psycopg 3 with libpq's pipeline mode."""
    if conn.dialect.driver != "psycopg":
        return False
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


@dataclass
class _Sql:
    """The buffered statements in the driver's own form: SQLAlchemy compiles each once per
    dialect, its parameters named as the columns (pk_* for an updated row's key)."""

    insert_nodes: str
    update_nodes: str
    insert_events: str

    @classmethod
    def compile(cls, conn: Connection) -> _Sql:
        def sql(statement: Any, keys: list[str]) -> str:
            compiled = statement.compile(dialect=conn.dialect, column_keys=keys)
            assert set(compiled.binds) == set(keys), (sorted(compiled.binds), keys)
            return str(compiled)

        return cls(sql(_INSERT_NODES, [*NODE_FIELDS, "updated_at"]),
                   sql(_UPDATE_NODES, ["pk_execution_id", "pk_node_id", *_NODE_VALUES,
                                       "updated_at"]),
                   sql(_INSERT_EVENTS, list(_EVENT_FIELDS)))


_COMPILED: dict[Any, _Sql] = {}


@dataclass
class _Write:
    sql: str
    rows: list[dict[str, Any]]
    update: bool  # each row must match one row of the table


@dataclass
class _Scope:
    name: str
    sent: bool = False  # its SAVEPOINT went to the server


class PipelinedTx(SqlTx):
    """One transaction on `conn` (autocommit mode, begun by hand as `SqlTx` begins it),
    node rows and events buffered and sent in pipelines (see the module's docstring)."""

    def __init__(self, conn: Connection):
        super().__init__(conn, begin="BEGIN")
        key = type(conn.dialect)
        if key not in _COMPILED:
            _COMPILED[key] = _Sql.compile(conn)
        self._sql = _COMPILED[key]
        self._writes: list[_Write] = []  # buffered, in order; events apart in self._events
        self._scopes: list[_Scope] = []  # the savepoints open now, outermost first
        self._owed: list[str] = []  # RELEASE statements of savepoints ended well, not sent

    # ---- buffered writes -------------------------------------------------------------------

    def insert_nodes(self, rows: list[NodeDict]) -> None:
        if rows:
            now = utcnow()
            self._buffer(self._sql.insert_nodes, [
                self._dumped({**{k: r[k] for k in NODE_FIELDS}, "updated_at": now})
                for r in rows], update=False)

    def update_nodes(self, rows: list[NodeDict]) -> None:
        if rows:
            now = utcnow()
            self._buffer(self._sql.update_nodes, [
                self._dumped({"pk_execution_id": r["execution_id"], "pk_node_id": r["node_id"],
                              **{k: r[k] for k in _NODE_VALUES}, "updated_at": now})
                for r in rows], update=True)

    def append_event(self, event: EventRecord) -> None:
        body = _DUMP(event.body, None)
        self._events.append({"execution_id": event.execution_id, "seq": event.seq,
                             "node_id": event.node_id, "attempt": event.attempt,
                             "outcome": event.outcome, "body": body, "created_at": utcnow()})

    @staticmethod
    def _dumped(row: dict[str, Any]) -> dict[str, Any]:
        for k in _NODE_JSON:
            row[k] = _DUMP(row[k], None)
        return row

    def _buffer(self, sql: str, rows: list[dict[str, Any]], update: bool) -> None:
        last = self._writes[-1] if self._writes else None
        if last is not None and last.sql == sql:
            last.rows.extend(rows)  # one executemany, in the same order
        else:
            self._writes.append(_Write(sql, rows, update))

    # ---- sending ---------------------------------------------------------------------------

    def _run(self, statement: Any, params: Any = None) -> Any:
        self._send()
        return self.conn.execute(statement, params)

    def flush_events(self) -> None:
        self._send()

    def _send(self, then: str | None = None) -> None:
        """Send what is pending, in one round trip: the BEGIN, the owed RELEASEs, the
        SAVEPOINTs of open savepoints not sent yet, the buffered writes, then `then`. When
        the writes include updates, `then` waits until their rows are checked. Raises
        KeyError for an update that matched no row, and the database's errors."""
        plain = []
        if self._begin is not None:
            plain.append(self._begin)
            self._begin, self._open = None, True
        plain.extend(self._owed)
        self._owed.clear()
        for scope in self._scopes:
            if not scope.sent:
                plain.append(f"SAVEPOINT {scope.name}")
                scope.sent = True
        writes, self._writes = self._writes, []
        if self._events:
            events, self._events = self._events, []
            writes.append(_Write(self._sql.insert_events, events, update=False))
        after = []
        if then is not None and not any(w.update for w in writes):
            after.append(then)  # in the same round trip: no rows to check first
            then = None
        if writes:
            self._pipeline(plain, writes, after)
        elif plain or after:
            self._plain("; ".join(plain + after))
        if then is not None:
            self._plain(then)

    def _pipeline(self, before: list[str], writes: list[_Write], after: list[str]) -> None:
        """`before`, `writes` and `after` in one pipeline; then the rows each update matched
        checked."""
        raw = self.conn.connection.dbapi_connection
        assert raw is not None
        counted = []
        with self._driver_errors(writes[0].sql), raw.pipeline():
            cursor = self._driver_cursor()
            for statement in before:
                cursor.execute(statement)
            for write in writes:
                # an update on a cursor of its own: its rowcount is its rows matched
                on = raw.cursor() if write.update else cursor
                on.executemany(write.sql, write.rows)
                if write.update:
                    counted.append((on, write))
            for statement in after:
                cursor.execute(statement)
        for cur, write in counted:
            matched = cur.rowcount
            cur.close()
            if matched != len(write.rows):
                rows = write.rows
                raise KeyError(f"{len(rows) - matched} of {len(rows)} node rows to update have "
                               f"no row (nodes {', '.join(r['pk_node_id'] for r in rows[:5])}"
                               f"{', ...' if len(rows) > 5 else ''} of execution "
                               f"{rows[0]['pk_execution_id']})")

    def _driver_cursor(self) -> Any:
        if self._cursor is None:
            self._cursor = self.conn.connection.cursor()
        return self._cursor

    # ---- the transaction and its savepoints -------------------------------------------------

    def commit(self) -> None:
        """Send what is buffered and COMMIT (no owed RELEASE: COMMIT releases them all)."""
        self._owed.clear()
        if self._begin is not None and not self._writes and not self._events:
            return  # nothing was asked: nothing to send
        self._send(then="COMMIT")
        self._open = False

    def abandon(self) -> None:
        self._writes.clear()
        self._events.clear()
        self._owed.clear()
        super().abandon()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        if self._writes or self._events:
            self._send()  # those buffered before belong to the enclosing scope
        self._savepoints += 1
        scope = _Scope(f"graft_savepoint_{self._savepoints}")
        self._scopes.append(scope)
        try:
            try:
                yield
                if self._writes or self._events:
                    self._send()  # its writes, checked here: a refusal is its own
            except BaseException:
                # What is buffered is this savepoint's: an inner one that wrote sent its
                # writes, and an enclosing one's were sent when this one began.
                self._writes.clear()
                self._events.clear()
                if scope.sent:
                    self._owed.clear()  # inner savepoints, gone with the rollback
                    if not self.conn.invalidated:
                        self._plain(f"ROLLBACK TO SAVEPOINT {scope.name}; "
                                    f"RELEASE SAVEPOINT {scope.name}")
                raise
            if scope.sent:
                self._owed.append(f"RELEASE SAVEPOINT {scope.name}")
        finally:
            self._scopes.pop()
            self._savepoints -= 1

    def close(self) -> None:
        self._writes.clear()
        super().close()
