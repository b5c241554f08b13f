"""The scheduler's state in SQL tables (SQLAlchemy 2): SQLite or PostgreSQL.

Every statement is SQLAlchemy Core on one connection: no ORM session, identity map or unit of
work. On PostgreSQL the driver runs in autocommit mode and the transaction is begun by hand,
in the same round trip as its first statement when that is the shard fence (`hold_shards`):
a scheduler's turn in a chain is a handful of round trips, and the driver's own BEGIN was
one of them. The scheduler writes node rows and events by the hundred per transaction and
never reads back what it wrote as objects, so the ORM's bookkeeping was most of the cost of a
report (`bench/state_writes.py`). Node rows are written with one executemany per call; events are
buffered and inserted in one executemany when their scope ends (before a savepoint is opened
or released, before `events()` reads them, before commit).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from scheduler.db import (
    explain,
    open_database,
)
from scheduler.state_pg import PipelinedTx, pipelines_supported
from scheduler.state_tx import SqlTx


class SqlState:
    """State in the database at `url` (migrated to the newest schema when opened)."""

    def __init__(self, url: str, engine: SqlEngine | None = None):
        self.url = url
        self.engine = engine if engine is not None else open_database(url)
        # PostgreSQL through psycopg 3: node rows and events go in pipelines
        # (scheduler/state_pg.py); None until the first transaction looks at the driver.
        self._pipelines: bool | None = None

    @contextmanager
    def transaction(self) -> Iterator[SqlTx]:
        if self.engine.dialect.name != "postgresql":
            with self.engine.begin() as conn:
                tx = SqlTx(conn)
                try:
                    yield tx
                    tx.flush_events()
                finally:
                    tx.close()
            return
        with self.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            if self._pipelines is None:
                self._pipelines = pipelines_supported(conn)
            tx = PipelinedTx(conn) if self._pipelines else SqlTx(conn, begin="BEGIN")
            try:
                yield tx
                tx.commit()
            except BaseException:
                tx.abandon()
                raise
            finally:
                tx.close()

    def is_transient(self, exc: BaseException) -> bool:
        # A connection the server ended is worth another try on a new one, whatever class
        # the driver gives its error (PostgreSQL's idle-in-transaction timeout, which ends
        # the session of a scheduler stopped inside a batch, is an InternalError).
        return isinstance(exc, (OperationalError, InterfaceError, DisconnectionError,
                                PoolTimeout, OSError)) \
            or (isinstance(exc, DBAPIError) and exc.connection_invalidated)

    def explain(self, exc: BaseException) -> str:
        return explain(exc, self.url)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")


