"""`ShardLeases` on a real database (SQLite file and PostgreSQL): schedulers share the shards
evenly, a joining one gets its part, a dead one's shards are taken, and a stale owner's
transaction is refused (fencing)."""

import subprocess
import sys
import threading
import time
import uuid

import pytest
from sqlalchemy import text

from scheduler.db import open_database
from scheduler.shards import ShardLeases
from scheduler.state import ExecutionRecord, Fenced
from scheduler.state_sql import SqlState
from sdk.wire.control import SHARDS

pytestmark = pytest.mark.timeout(120)
TTL_S = 1.5


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request, tmp_path):
    """A migrated state on SQLite or PostgreSQL (the test's parameter)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'leases.db'}"
        drop = None
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"graft_leases_{uuid.uuid4().hex[:10]}"
        server.create_database(name)
        url, drop = server.url_for(name), lambda: server.drop_database(name)
    state = SqlState(url, open_database(url))
    yield state
    state.engine.dispose()
    if drop:
        drop()


@pytest.fixture
def leases(state):
    made = []

    def make(owner):
        lease = ShardLeases(state.engine, state.url, owner=owner, ttl_s=TTL_S)
        made.append(lease)
        return lease

    yield make
    for lease in made:
        lease.release()


def owners(state):
    with state.engine.connect() as conn:
        return dict(conn.execute(text("SELECT shard, owner FROM graft_shards")).all())


def wait(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_one_scheduler_holds_every_shard_and_gives_them_back(state, leases):
    a = leases("host-a:1:1")
    assert a.acquire()
    assert a.shards == frozenset(range(SHARDS))
    assert set(owners(state).values()) == {a.token}
    a.release()
    assert set(owners(state).values()) == {None}


def test_a_joining_scheduler_gets_its_part_and_the_other_keeps_the_rest(state, leases):
    a, b = leases("host-a:1:1"), leases("host-b:2:2")
    assert a.acquire()
    joined = threading.Thread(target=b.acquire)
    joined.start()  # waits: every shard is held
    wait(lambda: a.changed, 10, "the first scheduler to see it holds more than its part")
    a.release(final=False)
    assert a.acquire()
    joined.join(timeout=10)
    assert len(a.shards) == len(b.shards) == SHARDS // 2
    assert not a.shards & b.shards
    held = owners(state)
    assert {held[s] for s in a.shards} == {a.token}
    assert {held[s] for s in b.shards} == {b.token}


def test_shards_of_a_scheduler_gone_from_this_host_are_taken_at_once(state, leases):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    from scheduler.lock import holder_id

    me = holder_id().split(":")
    dead = leases(f"{me[0]}:{gone.stdout.strip()}:1")
    assert dead.acquire()
    dead._stop.set()  # it died: nobody renews its lease, which has not lapsed yet
    b = leases("host-b:2:2")
    started = time.monotonic()
    assert b.acquire()
    assert time.monotonic() - started < TTL_S
    assert b.shards == frozenset(range(SHARDS))


# PostgreSQL renews the lease beside the owner's batches. SQLite has one writer: there a batch
# longer than the TTL holds the renewal up, and the lease lapses.
@pytest.mark.parametrize("state", ["postgresql"], indirect=True)
def test_a_long_transaction_of_the_owner_does_not_cost_its_lease(state, leases):
    a, b = leases("host-a:1:1"), leases("host-b:2:2")
    assert a.acquire()
    with state.transaction() as tx:
        a.fence(tx)  # a batch that holds the lease rows for three TTLs
        time.sleep(3 * TTL_S)
        assert not a.lost and not a.changed
    assert not b._take("")  # a renewed all along: nothing is free
    assert a.shards == frozenset(range(SHARDS))


def test_a_stale_owner_is_fenced_out_and_writes_nothing(state, leases):
    a = leases("host-a:1:1")
    assert a.acquire()
    a._stop.set()  # a stalls: its lease lapses without renewal
    with state.engine.begin() as conn:
        conn.execute(text("UPDATE graft_schedulers SET seen_at = 0"))
    b = leases("host-b:2:2")
    assert b.acquire()
    assert b.shards == frozenset(range(SHARDS))
    with state.transaction() as tx:
        b.fence(tx)  # the new owner's transactions go through
        tx.add_execution(ExecutionRecord("e1", "wf", "RUNNING", "spec", {}))

    def stale_write():
        with state.transaction() as tx:
            a.fence(tx)
            tx.update_execution("e1", status="FAILED")

    with pytest.raises(Fenced, match="no longer holds"):
        stale_write()
    assert a.lost and "took over" in a.lost_reason
    with state.transaction() as tx:
        assert tx.get_execution("e1").status == "RUNNING"


def test_an_adoption_waits_for_the_owners_transaction_in_progress(state, leases):
    """The fence locks the lease rows: a takeover cannot slip between the fence and the
    commit of the owner's transaction."""
    a = leases("host-a:1:1")
    assert a.acquire()
    a._stop.set()
    with state.engine.begin() as conn:
        conn.execute(text("UPDATE graft_schedulers SET seen_at = 0"))
    b = leases("host-b:2:2")
    taken = threading.Event()
    with state.transaction() as tx:
        a.fence(tx)  # a's batch starts while it still holds the shards
        adopter = threading.Thread(target=lambda: (b.acquire(), taken.set()))
        adopter.start()
        time.sleep(0.5)
        assert not taken.is_set()  # b waits for a's batch
    adopter.join(timeout=30)
    assert taken.is_set() and b.shards == frozenset(range(SHARDS))
