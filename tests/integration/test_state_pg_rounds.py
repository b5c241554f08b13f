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
    from scheduler.state_tx import SqlTx

    sent: list[str] = []
    plain = SqlTx._plain

    def spy(self, statement):
        sent.append(statement)
        return plain(self, statement)

    monkeypatch.setattr(SqlTx, "_plain", spy)
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
        with pytest.raises(Exception) as caught, state.transaction() as tx:
            tx.hold_shards("me/1")
            time.sleep(2.0)  # stopped inside its batch: the server ends its session
            tx.add_execution(_execution("e7"))
        assert state.is_transient(caught.value), caught.value  # the loop tries again
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


# ---- node rows and events in pipelines (scheduler/state_pg.py) --------------------------------

def _row(node: str, eid: str = "e1", **fields) -> dict:
    from scheduler.state import NODE_FIELDS

    row = {k: None for k in NODE_FIELDS}
    row.update(execution_id=eid, node_id=node, task="t", kind="task", state="QUEUED",
               attempt=1, cached=False, history=[], outputs={"o0": {"val": {"v": 1}}})
    row.update(fields)
    return row


def _round_trips(pg, monkeypatch) -> list[str]:
    """Every round trip the transactions make: a statement sent by hand, a pipeline (however
    many statements it carries), a statement through SQLAlchemy."""
    from sqlalchemy import event

    from scheduler.state_pg import PipelinedTx
    from scheduler.state_tx import SqlTx

    trips: list[str] = []
    plain, pipeline = SqlTx._plain, PipelinedTx._pipeline

    def spy_plain(self, statement):
        trips.append(statement)
        return plain(self, statement)

    def spy_pipeline(self, before, writes, after):
        trips.append("pipeline: " + "; ".join([*before, *(w.sql.split(" (")[0]
                                                          for w in writes), *after]))
        return pipeline(self, before, writes, after)

    def spy_sql(conn, cursor, statement, params, context, executemany):
        trips.append(statement.split(" (")[0])

    monkeypatch.setattr(SqlTx, "_plain", spy_plain)
    monkeypatch.setattr(PipelinedTx, "_pipeline", spy_pipeline)
    event.listen(pg.engine, "before_cursor_execute", spy_sql)
    return trips


def _with_nodes(pg, n: int) -> None:
    from scheduler.state import EventRecord

    with pg.transaction() as tx:
        tx.add_execution(_execution("e1"))
        tx.insert_nodes([_row(f"n{i}") for i in range(n)])
        tx.append_event(EventRecord("e1", 1, "d", 1, "values", {}))


def test_a_batch_of_reports_costs_one_round_trip_a_message(pg, monkeypatch):
    """A report in a batch of many: its SAVEPOINT, node row and event in one pipeline, its
    RELEASE with the next one's (was four round trips a message)."""
    from scheduler.state import EventRecord

    _with_nodes(pg, 100)
    trips = _round_trips(pg, monkeypatch)
    with pg.transaction() as tx:
        tx.hold_shards("me/1")
        for i in range(100):
            with tx.savepoint():
                tx.update_nodes([_row(f"n{i}", state="SUCCEEDED")])
                tx.append_event(EventRecord("e1", 2 + i, f"n{i}", 1, "values", {"i": i}))
            with tx.savepoint():
                pass  # a message that wrote nothing sends nothing
    assert len(trips) == 1 + 100 + 1, trips[:5]  # fence, a pipeline a message, COMMIT
    assert trips[0].startswith("BEGIN; UPDATE graft_shards") and trips[-1] == "COMMIT"
    assert trips[2].startswith("pipeline: RELEASE SAVEPOINT graft_savepoint_1; "
                               "SAVEPOINT graft_savepoint_1; UPDATE graft_nodes")
    with pg.transaction() as tx:
        assert {r["state"] for r in tx.nodes("e1")} == {"SUCCEEDED"}
        assert [e.seq for e in tx.events("e1")] == list(range(1, 102))


def test_a_chain_report_costs_three_round_trips(pg, monkeypatch):
    """A lone report: the fence with BEGIN, its node rows and event in one pipeline (their
    update checked before COMMIT), COMMIT (was five)."""
    from scheduler.state import EventRecord

    _with_nodes(pg, 1)
    trips = _round_trips(pg, monkeypatch)
    with pg.transaction() as tx:
        tx.hold_shards("me/1")
        tx.update_nodes([_row("n0", state="SUCCEEDED")])
        tx.append_event(EventRecord("e1", 2, "n0", 1, "values", {}))
        tx.insert_nodes([_row("n1", state="QUEUED")])
    assert len(trips) == 3 and trips[-1] == "COMMIT", trips
    trips.clear()
    with pg.transaction() as tx:  # inserts only: COMMIT rides in their pipeline
        tx.insert_nodes([_row("n2")])
        tx.append_event(EventRecord("e1", 3, "n2", 1, "values", {}))
    assert trips == ["pipeline: BEGIN; INSERT INTO graft_nodes; INSERT INTO graft_events; "
                     "COMMIT"], trips
    with pg.transaction() as tx:
        assert sorted(r["node_id"] for r in tx.nodes("e1")) == ["n0", "n1", "n2"]


def test_a_refusal_found_in_a_pipeline_rolls_back_its_savepoint_alone(pg):
    from scheduler.state import EventRecord

    _with_nodes(pg, 2)
    with pg.transaction() as tx:
        with tx.savepoint():
            tx.update_nodes([_row("n0", state="RUNNING")])
        with pytest.raises(KeyError), tx.savepoint():  # its row is missing
            tx.update_nodes([_row("n1", state="FAILED"), _row("gone", state="FAILED")])
            tx.append_event(EventRecord("e1", 2, "n1", 1, "values", {}))
        with pytest.raises(Exception, match="graft_events_pkey"), tx.savepoint():
            tx.update_nodes([_row("n1", state="FAILED")])
            tx.append_event(EventRecord("e1", 1, "n1", 1, "values", {}))  # a duplicate
        with tx.savepoint():
            tx.append_event(EventRecord("e1", 2, "n1", 1, "values", {}))
    with pg.transaction() as tx:
        assert {r["node_id"]: r["state"] for r in tx.nodes("e1")} == {"n0": "RUNNING",
                                                                     "n1": "QUEUED"}
        assert [(e.seq, e.node_id) for e in tx.events("e1")] == [(1, "d"), (2, "n1")]


def test_options_in_the_url_are_kept_beside_graft_s_own(postgres_server):
    """`?options=...` in GRAFT_DATABASE_URL reaches the server (graft's own session setting,
    idle_in_transaction_session_timeout, used to replace it)."""
    from urllib.parse import quote

    name = f"graft_options_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    url = postgres_server.url_for(name) + "?options=" + quote("-c synchronous_commit=local")
    engine = db.open_database(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "local"
            assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() \
                == f"{int(db.IDLE_IN_TRANSACTION_S)}s"
    finally:
        engine.dispose()
        postgres_server.drop_database(name)
