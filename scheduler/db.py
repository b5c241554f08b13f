"""The scheduler's tables (SQLAlchemy 2) and how the database is opened and migrated.

    graft_executions  one row per execution: status, spec key, inputs, outputs, error, and
                      the store key of its engine's newest snapshot with the event it follows
    graft_nodes       one row per node: state, current attempt and its token, queue, parent,
                      error, the record of each attempt, start and end times, input
                      bindings and outputs
    graft_events      the accepted reports of an execution, in order; replaying them through
                      the engine rebuilds its state after a restart
    graft_launch_plans    one row per launch plan registered for a schedule: its spec, inputs,
                          schedule, whether it is active, and the newest tick handled
    graft_schedule_ticks  one row per fired tick (launch plan, tick time): the execution it
                          started; the key is what makes a tick fire once
    graft_notifications   one row per notification an execution's end fired, per channel
                          (SMTP, webhook): what it says, and whether it was sent yet
    graft_shards      one row per shard of the executions: the token of the scheduler that
                      holds it, and how many times it changed hands (scheduler/shards.py)
    graft_schedulers  one row per serving scheduler (by token): when it last said it was
                      alive, which keeps its shards' leases; the others count these rows
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DisconnectionError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sdk.model.errors import ConfigError, GraftError
from sdk.wire.connections import redact

MIGRATIONS = Path(__file__).parent / "migrations"


class StateUnavailable(GraftError):
    """The scheduler's database does not answer."""


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class JsonText(TypeDecorator[Any]):
    """JSON kept as text. PostgreSQL's JSON type refuses NaN and Infinity, which Python floats
    (and so task outputs) may hold; as text, every value graft can produce round-trips."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else json.dumps(value, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


class Base(DeclarativeBase):
    pass


class ExecutionRow(Base):
    __tablename__ = "graft_executions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), index=True)
    spec_key: Mapped[str] = mapped_column(Text)
    inputs: Mapped[Any] = mapped_column(JsonText)
    outputs: Mapped[Any | None] = mapped_column(JsonText, nullable=True)
    error: Mapped[Any | None] = mapped_column(JsonText, nullable=True)
    submitted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    notify: Mapped[Any | None] = mapped_column(JsonText, nullable=True)
    # The newest snapshot of its engine (scheduler/snapshots.py) and the event it follows.
    snapshot_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    snapshot_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True),
                                                          default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True),
                                                          default=utcnow, onupdate=utcnow)


class NodeRow(Base):
    __tablename__ = "graft_nodes"

    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(Text, primary_key=True)
    parent: Mapped[str | None] = mapped_column(Text, nullable=True)
    task: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    queue: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[Any | None] = mapped_column(JsonText, nullable=True)
    token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    history: Mapped[Any | None] = mapped_column(JsonText, nullable=True)
    cached: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    ended_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    image: Mapped[str | None] = mapped_column(Text, nullable=True)
    inputs: Mapped[Any | None] = mapped_column(JsonText, nullable=True)
    outputs: Mapped[Any | None] = mapped_column(JsonText, nullable=True)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True),
                                                          default=utcnow, onupdate=utcnow)


class EventRow(Base):
    __tablename__ = "graft_events"

    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    body: Mapped[Any] = mapped_column(JsonText)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True),
                                                          default=utcnow)


class LaunchPlanRow(Base):
    __tablename__ = "graft_launch_plans"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    workflow: Mapped[str] = mapped_column(String(255))
    spec_key: Mapped[str] = mapped_column(Text)
    inputs: Mapped[Any] = mapped_column(JsonText)
    schedule: Mapped[Any] = mapped_column(JsonText)
    active: Mapped[bool] = mapped_column(Boolean, index=True)
    anchor_s: Mapped[int] = mapped_column(BigInteger)
    cursor_s: Mapped[int] = mapped_column(BigInteger)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    notifications: Mapped[Any | None] = mapped_column(JsonText, nullable=True)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True),
                                                          default=utcnow, onupdate=utcnow)


class TickRow(Base):
    __tablename__ = "graft_schedule_ticks"

    launch_plan: Mapped[str] = mapped_column(String(255), primary_key=True)
    tick_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(64))
    fired_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True),
                                                        default=utcnow)


class NotificationRow(Base):
    __tablename__ = "graft_notifications"

    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    channel: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16))
    body: Mapped[Any] = mapped_column(JsonText)
    state: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True),
                                                          default=utcnow, onupdate=utcnow)


class ShardRow(Base):
    __tablename__ = "graft_shards"

    shard: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    fence: Mapped[int] = mapped_column(BigInteger, default=0)


class SchedulerRow(Base):
    __tablename__ = "graft_schedulers"

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[float] = mapped_column(Float)
    shards: Mapped[int] = mapped_column(Integer, default=0)


# A session idle this long inside a transaction is ended by PostgreSQL. A scheduler stopped
# (SIGSTOP, a hung host) inside a batch holds the row locks of its shard fence: without this,
# the others could never adopt its shards. A healthy batch sends its statements far faster.
IDLE_IN_TRANSACTION_S = 8.0


def open_database(url: str) -> SqlEngine:
    """Connect to `url` and bring its schema to the newest migration.

    Raises ConfigError for a malformed URL or a missing driver, and StateUnavailable when
    the database does not answer, each in one line naming the URL with its password hidden.
    """
    shown = redact(url)
    try:
        parsed = make_url(url)
        if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "",
                                                                               ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, Any] = {}
        if parsed.drivername.startswith("postgresql"):
            # Added to the URL's own `options`, which connect_args would otherwise replace
            # (e.g. ?options=-c%20synchronous_commit%3Doff, docs/operations.md).
            options = " ".join(filter(None, (
                _query_value(parsed.query.get("options")),
                f"-c idle_in_transaction_session_timeout={int(IDLE_IN_TRANSACTION_S * 1000)}")))
            connect_args = {"connect_timeout": 10, "options": options}
        engine = create_engine(url, future=True, connect_args=connect_args)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(f"GRAFT_DATABASE_URL={shown} is not a usable database URL: "
                          f"{_first_line(exc)} (e.g. sqlite:////var/lib/graft/graft.db or "
                          f"postgresql+psycopg://user:password@host/db)") from None
    except ImportError as exc:
        raise ConfigError(f"GRAFT_DATABASE_URL={shown}: its driver is not installed "
                          f"({exc}); for PostgreSQL install graft[postgres]") from None
    except OSError as exc:
        raise StateUnavailable(f"the database at {shown} cannot be used: {exc}") from None
    _ping_when_idle(engine)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            # Python's sqlite3 opens a transaction only before INSERT, UPDATE or DELETE: a
            # SAVEPOINT before any of them became the outermost transaction, and releasing it
            # committed it, whatever the enclosing transaction then did. SQLAlchemy's recipe
            # (its SQLite dialect's "Transactions" section): the driver opens none, we BEGIN.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")
    try:
        migrate(engine)
    except (OperationalError, InterfaceError) as exc:
        engine.dispose()
        raise StateUnavailable(f"the database at {shown} does not answer: "
                               f"{_first_line(getattr(exc, 'orig', None) or exc)}") from None
    return engine


def _query_value(value: str | tuple[str, ...] | None) -> str | None:
    """A URL query parameter given once or more (the last one)."""
    return value[-1] if isinstance(value, tuple) else value


# A pooled connection idle this long is pinged before it is handed out (and replaced when the
# ping fails: the server restarted, or dropped it). SQLAlchemy's `pool_pre_ping` pings on every
# checkout; a scheduler checks one out per turn, and in a chain that ping was one round trip
# of about seven per node. A connection in steady use needs none: if it broke meanwhile, the
# turn that meets it fails as transient and the loop retries on a new one.
PING_IDLE_S = 1.0


def _ping_when_idle(engine: SqlEngine) -> None:
    """SQLAlchemy's "pessimistic disconnect handling, custom" recipe: ping on checkout, but
    only connections idle for `PING_IDLE_S`."""
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["graft_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("graft_idle_since")
        if since is None or time.monotonic() - since < PING_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc
        if alive is False:
            raise DisconnectionError("pooled connection failed its ping")


def explain(exc: BaseException, url: str) -> str:
    """Why the database at `url` failed a request, in one line that names it with its
    password hidden (SQLAlchemy's own text adds the statement and a link on more lines)."""
    cause = getattr(exc, "orig", None) or exc
    return f"{redact(url)} does not answer ({type(cause).__name__}: {_first_line(cause)})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# The PostgreSQL advisory lock schedulers take to migrate one at a time ("graft" in ASCII).
MIGRATION_LOCK = 0x6772616674


def migrate(engine: SqlEngine) -> None:
    """Bring the database's tables to the newest migration. On PostgreSQL schedulers that
    start together (two replicas of a Deployment) migrate one at a time, under an advisory
    lock held to the end of the transaction: the second finds the tables made and does
    nothing, instead of failing on a table the first created."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
