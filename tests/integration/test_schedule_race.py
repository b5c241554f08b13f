"""Two schedulers fire the same tick at the same moment (a paused scheduler that lost its lock
resumes mid-turn, while its successor serves): on PostgreSQL, the second waits on the
first's tick row, then finds it taken, and starts nothing. Only the unique key (launch plan,
tick time) stops it here: both read the same cursor before either committed."""

from __future__ import annotations

import datetime
import threading
import uuid

import pytest
from workflows import scheduled

from scheduler.cron import Ticker
from scheduler.dispatch import RecordingDispatcher
from scheduler.service import Scheduler
from scheduler.state_sql import SqlState
from sdk.model.config import Settings
from sdk.values.shapes import encode_inputs
from sdk.values.store import MemoryStore, put_blob

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

T0 = int(datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).timestamp())


@pytest.fixture
def database(postgres_server):
    name = f"graft_race_{uuid.uuid4().hex[:10]}"
    postgres_server.create_database(name)
    yield postgres_server.url_for(name)
    postgres_server.drop_database(name)


def test_two_schedulers_firing_one_tick_start_one_execution(database):
    store = MemoryStore()
    now = [T0 + 1.0]
    states = [SqlState(database), SqlState(database)]
    schedulers = [Scheduler(Settings(database_url=database), s, RecordingDispatcher(), store,
                            clock=lambda: now[0]) for s in states]
    first, second = (Ticker(s, clock=lambda: now[0], max_catchup=10) for s in schedulers)
    plan = scheduled.every_2s
    body = {"type": "activate", "launch_plan": plan.name, "workflow": plan.workflow.name,
            "spec": put_blob(store, plan.graph().dumps().encode(), prefix="specs"),
            "inputs": encode_inputs(plan, plan.scheduled_inputs(), store),
            "schedule": plan.schedule.to_json()}
    assert schedulers[0].handle([body]).refused == []
    now[0] = T0 + 3.5  # the tick at T0 + 3 is due

    # The first scheduler stops inside its transaction, its tick row written, not committed.
    inside, go_on = threading.Event(), threading.Event()
    submit = schedulers[0].submit

    def paused_submit(*args, **kwargs):
        submit(*args, **kwargs)
        inside.set()
        assert go_on.wait(30)

    schedulers[0].submit = paused_submit
    results: dict[str, list] = {}
    threads = [threading.Thread(target=lambda: results.setdefault("first", first.tick()))]
    threads[0].start()
    assert inside.wait(30)
    threads.append(threading.Thread(target=lambda: results.setdefault("second",
                                                                      second.tick())))
    threads[1].start()
    threads[1].join(1.5)
    waited = threads[1].is_alive()
    go_on.set()
    for t in threads:
        t.join(30)

    with states[0].transaction() as tx:
        assert len(tx.executions()) == 1, "a tick started two executions"
        assert [t.tick_s for t in tx.ticks(plan.name)] == [T0 + 3]
        assert tx.get_launch_plan(plan.name).cursor_s == T0 + 3
    assert [t.tick_s for t in results["first"]] == [T0 + 3]
    assert results["second"] == []
    assert waited, "the second scheduler did not wait for the first's tick row"
    for s in states:
        s.engine.dispose()
