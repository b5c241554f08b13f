"""The scheduler's transactions on PostgreSQL: begun by hand (the fence and BEGIN in one round
trip), rolled back cleanly, and pooled connections pinged only when idle, so that a broken one
costs one failed turn and a server restart none."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import text

from scheduler import db
from scheduler.state import ExecutionRecord


@pytest.fixture
def pg(postgres_server):
    from scheduler.state_sql import SqlState

    name = f"graft_rounds_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    state = SqlState(postgres_server.url_for(name))
    with state.engine.begin() as conn:
        conn.execute(text("UPDATE graft_shards SET owner = CASE WHEN shard IN (0, 1) "
                          "THEN 'me/1' WHEN shard = 2 THEN 'other/2' END"))
    yield state
    state.engine.dispose()
    postgres_server.drop_database(name)


def _execution(eid: str) -> ExecutionRecord:
    return ExecutionRecord(id=eid, workflow="wf", status="RUNNING", spec_key="specs/x",
                           inputs={}, outputs=None, error=None)


def _statements(monkeypatch) -> list[str]:
    """Every statement the transactions send by hand (BEGIN, fence, COMMIT, savepoints)."""
    from scheduler.state_sql import _SqlTx

    sent: list[str] = []
    plain = _SqlTx._plain

    def spy(self, statement):
        sent.append(statement)
        return plain(self, statement)

    monkeypatch.setattr(_SqlTx, "_plain", spy)
    return sent


def _locked(state, shard: int) -> bool:
    """Whether another connection finds shard `shard`'s row locked."""
    with state.engine.connect() as other:
        other.execute(text("SET lock_timeout = '100ms'"))
        try:
            other.execute(text("SELECT 1 FROM graft_shards WHERE shard = :s FOR UPDATE"),
                          {"s": shard})
        except Exception:
            return True
        finally:
            other.rollback()
    return False


def test_the_fence_goes_with_begin_and_holds_its_rows_until_commit(pg, monkeypatch):
    sent = _statements(monkeypatch)
    with pg.transaction() as tx:
        assert tx.hold_shards("me/1") == 2
        assert tx.hold_shards("me/1") == 2  # asked again: no second statement
        assert len(sent) == 1 and sent[0].startswith("BEGIN; UPDATE graft_shards")
        assert _locked(pg, 0) and _locked(pg, 1) and not _locked(pg, 2)
        tx.add_execution(_execution("e1"))
    assert sent[-1] == "COMMIT"
    assert not _locked(pg, 0)
    with pg.transaction() as tx:
        assert tx.get_execution("e1") is not None


def test_a_quote_in_the_token_is_only_data(pg):
    with pg.transaction() as tx:
        assert tx.hold_shards("me/1' OR owner IS NOT NULL OR '") == 0


def test_without_a_fence_the_first_statement_begins_and_a_raise_rolls_back(pg, monkeypatch):
    sent = _statements(monkeypatch)
    with pytest.raises(RuntimeError), pg.transaction() as tx:
        tx.add_execution(_execution("e2"))
        raise RuntimeError("the batch failed")
    assert sent == ["BEGIN", "ROLLBACK"]
    with pg.transaction() as tx:
        assert tx.get_execution("e2") is None
    sent.clear()
    with pg.transaction():
        pass
    assert sent == []  # nothing asked, nothing sent


def test_a_savepoint_first_begins_the_transaction(pg):
    with pg.transaction() as tx:
        with pytest.raises(RuntimeError), tx.savepoint():
            tx.add_execution(_execution("e3"))
            raise RuntimeError("refused alone")
        tx.add_execution(_execution("e4"))
    with pg.transaction() as tx:
        assert tx.get_execution("e3") is None and tx.get_execution("e4") is not None


def _kill_others(state) -> int:
    """Terminate every other session on the state's database, from outside its pool."""
    import psycopg

    url = state.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        row = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                           ).fetchone()
    return int(row[0]) if row else 0


def test_a_connection_killed_mid_transaction_fails_as_transient_then_the_next_works(pg):
    with pytest.raises(Exception) as caught, pg.transaction() as tx:
        tx.hold_shards("me/1")
        assert _kill_others(pg) >= 1
        tx.add_execution(_execution("e5"))
    assert pg.is_transient(caught.value), caught.value
    with pg.transaction() as tx:
        assert tx.hold_shards("me/1") == 2
        tx.add_execution(_execution("e6"))
    with pg.transaction() as tx:
        assert tx.get_execution("e5") is None and tx.get_execution("e6") is not None


def test_a_connection_lost_at_its_begin_is_discarded_without_the_pools_traceback(
        pg, monkeypatch, caplog):
    """The BEGIN and the fence go on the driver's own cursor: a connection the server dropped
    is invalidated there too, so the pool does not try (and fail) to roll it back, which it
    logs as an ERROR with three tracebacks."""
    monkeypatch.setattr(db, "PING_IDLE_S", 60.0)  # the dead connection is handed out unpinged
    with pg.transaction() as tx:
        tx.hold_shards("me/1")
    assert _kill_others(pg) >= 1
    with pytest.raises(Exception) as caught, pg.transaction() as tx:
        tx.hold_shards("me/1")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy")] == []
    assert pg.is_transient(caught.value) and caught.value.connection_invalidated
    assert "does not answer" in pg.explain(caught.value)
    with pg.transaction() as tx:
        assert tx.hold_shards("me/1") == 2
    pg.ping()


def test_an_idle_pooled_connection_is_pinged_and_replaced_when_dead(pg, monkeypatch):
    monkeypatch.setattr(db, "PING_IDLE_S", 0.2)
    with pg.transaction() as tx:
        tx.hold_shards("me/1")
    assert _kill_others(pg) >= 1  # the pool's idle connection
    time.sleep(0.3)
    with pg.transaction() as tx:  # pinged, found dead, replaced: no error
        assert tx.hold_shards("me/1") == 2


def test_a_busy_pooled_connection_is_not_pinged(pg, monkeypatch):
    pings = []
    monkeypatch.setattr(type(pg.engine.dialect), "do_ping",
                        lambda self, conn: pings.append(1) or True)
    for _ in range(5):
        with pg.transaction() as tx:
            tx.hold_shards("me/1")
    assert pings == []


def test_a_session_left_idle_inside_a_transaction_is_ended_and_frees_its_locks(
        postgres_server, monkeypatch):
    """A scheduler stopped inside a batch (SIGSTOP, a hung host) must not keep the locks of
    its shard fence: the others could never adopt its shards. The server ends such a
    session after `IDLE_IN_TRANSACTION_S`."""
    from scheduler.state_sql import SqlState

    monkeypatch.setattr(db, "IDLE_IN_TRANSACTION_S", 1.0)
    name = f"graft_idle_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    state = SqlState(postgres_server.url_for(name))
    try:
        stalled = state.engine.connect()
        stalled.begin()
        stalled.execute(text("UPDATE graft_shards SET owner = owner WHERE shard = 0"))
        assert _locked(state, 0)
        time.sleep(2.0)  # the holder is stopped: it sends nothing more
        assert not _locked(state, 0)
        with pytest.raises(Exception, match=r"idle-in-transaction|terminat|closed"):
            stalled.execute(text("SELECT 1"))
        stalled.invalidate()
    finally:
        state.engine.dispose()
        postgres_server.drop_database(name)


def _migrate_together(engines: list) -> list[BaseException]:
    """db.migrate on each engine at once, from threads released together; what they raised."""
    import threading

    failures: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def migrate(engine) -> None:
        start.wait()
        try:
            db.migrate(engine)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=migrate, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return failures


@pytest.mark.timeout(120)
def test_schedulers_starting_together_migrate_one_at_a_time(postgres_server):
    """Scheduler replicas on a fresh database migrate at once: all must come up (one used to
    fail on the alembic_version table another had just created)."""
    from sqlalchemy import create_engine

    for round_ in range(3):
        name = f"graft_it_migrate_{uuid.uuid4().hex[:8]}"
        postgres_server.create_database(name)
        engines = [create_engine(postgres_server.url_for(name)) for _ in range(4)]
        try:
            failures = _migrate_together(engines)
            assert failures == [], f"round {round_}: {failures[0]!r}"
            with engines[0].connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        finally:
            for engine in engines:
                engine.dispose()
            postgres_server.drop_database(name)
