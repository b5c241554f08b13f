"""Launch plan schedules: tick computation, the catch-up policy and exactly-once firing, with
an injected clock, on the in-memory state and on SQLite (the integration suite runs the real
scheduler through restarts)."""

from __future__ import annotations

import datetime
from contextlib import contextmanager

import pytest

from scheduler.cron import Ticker
from scheduler.dispatch import RecordingDispatcher
from scheduler.service import Scheduler
from scheduler.state import MemoryState
from scheduler.state_sql import SqlState
from sdk import ConfigError, CronSchedule, FixedRate, LaunchPlan, task, workflow
from sdk.authoring.schedule import due_ticks, next_tick
from sdk.model.config import Settings
from sdk.values.shapes import encode_inputs
from sdk.values.store import MemoryStore, put_blob
from sdk.wire.messages import MessageError, check

UTC = datetime.timezone.utc
T0 = int(datetime.datetime(2026, 1, 1, tzinfo=UTC).timestamp())  # a Thursday, 00:00 UTC


@task
def stamp(kickoff_time: datetime.datetime, n: int) -> str:
    return f"{kickoff_time.isoformat()} {n}"


@workflow
def stamped(kickoff_time: datetime.datetime, n: int = 1) -> str:
    return stamp(kickoff_time=kickoff_time, n=n)


@workflow
def needs_n(n: int) -> int:
    return n


# ---- definition ---------------------------------------------------------------------------

def test_a_cron_launch_plan_is_defined_as_in_flytekit():
    lp = LaunchPlan.get_or_create(stamped, name="sched_every5", default_inputs={"n": 2},
                                  schedule=CronSchedule(schedule="*/5 * * * *",
                                                        kickoff_time_input_arg="kickoff_time"))
    assert lp.schedule.to_json() == {"cron": "*/5 * * * *", "kickoff_arg": "kickoff_time"}
    assert lp.scheduled_inputs() == {"n": 2}
    # Asking again with the same settings gives the same plan; other settings are an error.
    assert LaunchPlan.get_or_create(
        stamped, name="sched_every5", default_inputs={"n": 2},
        schedule=CronSchedule(schedule="*/5 * * * *",
                              kickoff_time_input_arg="kickoff_time")) is lp
    with pytest.raises(ConfigError, match="other settings"):
        LaunchPlan.get_or_create(stamped, name="sched_every5", default_inputs={"n": 2},
                                 schedule=CronSchedule(schedule="*/10 * * * *",
                                                       kickoff_time_input_arg="kickoff_time"))
    # The in-process call still works.
    when = datetime.datetime(2026, 1, 1, 9, tzinfo=UTC)
    assert lp(kickoff_time=when) == f"{when.isoformat()} 2"


@pytest.mark.parametrize("expression", ["*/5 * * *", "61 * * * *", "every minute", "",
                                        "@reboot", "0 0 30 2 *", "0 0 31 4 *"])
def test_a_bad_cron_string_is_refused_when_the_schedule_is_made(expression):
    """As flytekit's CronSchedule refuses it (a ValueError) before any launch plan."""
    with pytest.raises(ConfigError, match=r"^CronSchedule: cron schedule .* is not valid"):
        CronSchedule(schedule=expression)


def test_scheduled_plans_are_checked_at_definition():
    with pytest.raises(ConfigError, match="whole number of seconds"):
        LaunchPlan.get_or_create(stamped, name="sched_half",
                                 schedule=FixedRate(duration=datetime.timedelta(seconds=1.5)))
    with pytest.raises(ConfigError, match="kickoff_time_input_arg 'when' is not a free input"):
        LaunchPlan.get_or_create(stamped, name="sched_when", schedule=FixedRate(
            duration=datetime.timedelta(minutes=1), kickoff_time_input_arg="when"))
    with pytest.raises(ConfigError, match="must take a datetime"):
        LaunchPlan.get_or_create(stamped, name="sched_n", default_inputs={
            "kickoff_time": datetime.datetime(2026, 1, 1, tzinfo=UTC)}, schedule=FixedRate(
            duration=datetime.timedelta(minutes=1), kickoff_time_input_arg="n"))
    with pytest.raises(ConfigError, match="give n in default_inputs or fixed_inputs"):
        LaunchPlan.get_or_create(needs_n, name="sched_missing",
                                 schedule=CronSchedule(schedule="@hourly"))
    with pytest.raises(ConfigError, match="takes no inputs; give the launch plan a name"):
        LaunchPlan.get_or_create(needs_n, schedule=CronSchedule(schedule="@hourly"))
    with pytest.raises(ConfigError, match="CronSchedule or a FixedRate"):
        LaunchPlan.get_or_create(needs_n, name="sched_str", schedule="*/5 * * * *")


# ---- tick computation ---------------------------------------------------------------------

def test_cron_ticks_are_the_times_the_expression_names_in_utc():
    every5 = {"cron": "*/5 * * * *"}
    assert next_tick(every5, T0, T0) == T0 + 300
    assert next_tick(every5, T0 + 1, T0) == T0 + 300
    assert next_tick(every5, T0 + 299, T0) == T0 + 300
    assert next_tick({"cron": "0 9 * * *"}, T0, T0) == T0 + 9 * 3600
    assert next_tick({"cron": "@daily"}, T0 + 1, T0) == T0 + 86400
    assert next_tick({"cron": "0 0 * * MON"}, T0, T0) == T0 + 4 * 86400  # the next Monday


def test_fixed_rate_ticks_count_from_the_anchor():
    every7 = {"rate_s": 7}
    assert next_tick(every7, T0, T0) == T0 + 7
    assert next_tick(every7, T0 + 6, T0) == T0 + 7
    assert next_tick(every7, T0 + 7, T0) == T0 + 14
    assert next_tick(every7, T0 - 100, T0) == T0 + 7  # never before the anchor


def test_due_ticks_are_those_after_the_cursor_up_to_now():
    every5 = {"cron": "*/5 * * * *"}
    assert due_ticks(every5, T0, T0 + 299, T0, 10) == ([], 0, T0)
    assert due_ticks(every5, T0, T0 + 300, T0, 10) == ([T0 + 300], 0, T0 + 300)
    assert due_ticks(every5, T0, T0 + 901, T0, 10) == ([T0 + 300, T0 + 600, T0 + 900], 0,
                                                        T0 + 900)
    assert due_ticks({"rate_s": 10}, T0 + 10, T0 + 35, T0, 10) == ([T0 + 20, T0 + 30], 0,
                                                                   T0 + 30)


def test_catch_up_runs_the_newest_missed_ticks_up_to_the_cap():
    # Down for a day: 288 ticks of */5 are due; the newest 3 run, 285 are skipped.
    ticks, skipped, cursor = due_ticks({"cron": "*/5 * * * *"}, T0, T0 + 86400 + 10, T0, 3)
    assert ticks == [T0 + 86400 - 600, T0 + 86400 - 300, T0 + 86400]
    assert (skipped, cursor) == (285, T0 + 86400)
    ticks, skipped, cursor = due_ticks({"rate_s": 1}, T0, T0 + 1_000_000, T0, 2)
    assert ticks == [T0 + 999_999, T0 + 1_000_000] and skipped == 999_998


# ---- firing -------------------------------------------------------------------------------

class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
def state(request, tmp_path):
    if request.param == "memory":
        return MemoryState()
    return SqlState(f"sqlite:///{tmp_path}/state.db")


class Cron:
    """A scheduler with a ticker on `state`, driven by an injected clock."""

    def __init__(self, state, store: MemoryStore, clock: Clock, max_catchup: int = 10,
                 metrics=None):
        self.state, self.store, self.clock = state, store, clock
        self.dispatcher = RecordingDispatcher()
        self.scheduler = Scheduler(Settings(database_url=state.url), state, self.dispatcher,
                                   store, clock=clock, metrics=metrics)
        self.ticker = Ticker(self.scheduler, clock=clock, max_catchup=max_catchup)

    def activate(self, plan: LaunchPlan) -> list[str]:
        spec_key = put_blob(self.store, plan.graph().dumps().encode(), prefix="specs")
        body = {"type": "activate", "launch_plan": plan.name, "workflow": plan.workflow.name,
                "spec": spec_key, "schedule": plan.schedule.to_json(),
                "inputs": encode_inputs(plan, plan.scheduled_inputs(), self.store)}
        return [r.reason for r in self.scheduler.handle([check(body)]).refused]

    def deactivate(self, name: str) -> list[str]:
        body = {"type": "deactivate", "launch_plan": name}
        return [r.reason for r in self.scheduler.handle([body]).refused]

    def executions(self) -> dict[int, list[str]]:
        """Tick time -> the executions started for it (from their kickoff input)."""
        from sdk.values.literals import load

        found: dict[int, list[str]] = {}
        with self.state.transaction() as tx:
            for record in tx.executions():
                when = load(record.inputs["kickoff_time"], {"t": "pickle",
                                                            "ref": "datetime:datetime"},
                            self.store, "kickoff_time")
                found.setdefault(int(when.timestamp()), []).append(record.id)
        return found


def _every_minute() -> LaunchPlan:
    return LaunchPlan.get_or_create(
        stamped, name="sched_minutely", default_inputs={"n": 3},
        schedule=CronSchedule(schedule="* * * * *", kickoff_time_input_arg="kickoff_time"))


def test_each_tick_starts_one_execution_with_its_time(state):
    clock = Clock(T0 + 10)
    cron = Cron(state, MemoryStore(), clock)
    assert cron.activate(_every_minute()) == []
    assert cron.ticker.tick() == []
    assert cron.ticker.next_due_s() == 50
    clock.now = T0 + 60
    fired = cron.ticker.tick()
    assert [t.tick_s for t in fired] == [T0 + 60]
    assert cron.ticker.tick() == []  # the same time again fires nothing
    clock.now = T0 + 185
    assert [t.tick_s for t in cron.ticker.tick()] == [T0 + 120, T0 + 180]
    assert {k: len(v) for k, v in cron.executions().items()} == {
        T0 + 60: 1, T0 + 120: 1, T0 + 180: 1}
    # Their first nodes were sent, with the tick time and the default input.
    sent = cron.dispatcher.sent
    assert len(sent) == 3 and {d.node_id for d in sent} == {"stamp"}
    with state.transaction() as tx:
        assert tx.get_execution(fired[0].execution_id).workflow == "sched_minutely"
        assert [t.tick_s for t in tx.ticks("sched_minutely")] == [T0 + 180, T0 + 120, T0 + 60]


def test_a_restarted_scheduler_fires_no_tick_twice_and_catches_up(state):
    store = MemoryStore()
    clock = Clock(T0 + 10)
    first = Cron(state, store, clock)
    first.activate(_every_minute())
    clock.now = T0 + 61
    first.ticker.tick()
    # Another scheduler process takes over (nothing in memory), after 4 missed minutes.
    clock.now = T0 + 5 * 60 + 1
    second = Cron(state, store, clock)
    assert [t.tick_s for t in second.ticker.tick()] == [T0 + 120, T0 + 180, T0 + 240, T0 + 300]
    assert first.ticker.tick() == []  # the first, back from a pause, finds them fired
    assert sorted(second.executions()) == [T0 + 60 * k for k in range(1, 6)]
    assert all(len(v) == 1 for v in second.executions().values())


def test_catch_up_after_a_long_outage_is_capped_and_counted(state):
    store = MemoryStore()
    clock = Clock(T0 + 10)
    cron = Cron(state, store, clock, max_catchup=3)
    cron.activate(_every_minute())
    clock.now = T0 + 3600 + 5  # an hour down: 60 ticks due
    assert [t.tick_s for t in cron.ticker.tick()] == [T0 + 3480, T0 + 3540, T0 + 3600]
    with state.transaction() as tx:
        plan = tx.get_launch_plan("sched_minutely")
        assert (plan.cursor_s, plan.skipped) == (T0 + 3600, 57)


def test_a_tick_recorded_already_is_not_fired_again(state):
    """A tick row that exists while the cursor is behind it is passed over: the plan goes on
    with the next tick."""
    store = MemoryStore()
    clock = Clock(T0 + 10)
    cron = Cron(state, store, clock)
    cron.activate(_every_minute())
    from scheduler.state import TickRecord

    with state.transaction() as tx:
        tx.add_tick(TickRecord("sched_minutely", T0 + 60, "elsewhere"))
    clock.now = T0 + 121
    assert [t.tick_s for t in cron.ticker.tick()] == [T0 + 120]
    assert sorted(cron.executions()) == [T0 + 120]


class StaleTicks:
    """`state` as a transaction sees it that read the tick records before another
    scheduler committed its own: it does not see them (the race of two schedulers, which
    tests/integration/test_schedule_race.py runs for real on PostgreSQL)."""

    def __init__(self, state):
        self.state, self.url = state, state.url

    @contextmanager
    def transaction(self):
        with self.state.transaction() as tx:
            tx.ticks = lambda *args, **kwargs: []
            yield tx

    def is_transient(self, exc):
        return self.state.is_transient(exc)


def test_a_tick_another_scheduler_records_meanwhile_is_not_fired_again(state):
    """The guard: the unique key fails the second insert of a tick; the plan's part of the
    transaction rolls back, nothing starts, and the plan is tried again soon."""
    from scheduler.state import TickRecord

    clock = Clock(T0 + 10)
    cron = Cron(StaleTicks(state), MemoryStore(), clock)
    cron.activate(_every_minute())
    with state.transaction() as tx:
        tx.add_tick(TickRecord("sched_minutely", T0 + 60, "elsewhere"))
    clock.now = T0 + 61
    assert cron.ticker.tick() == []
    assert cron.executions() == {}
    assert cron.ticker.next_due_s() == pytest.approx(5)


def test_a_plan_rolled_back_midway_sends_nothing(state):
    """Two ticks are due and the second is fired elsewhere meanwhile: the plan's savepoint
    rolls back, and the first tick's execution, created in it, is neither sent nor kept in
    memory."""
    from scheduler.observer import Observer
    from scheduler.state import TickRecord

    class Counted(Observer):
        def __init__(self) -> None:
            self.seen: list = []

        def committed(self, observed: list) -> None:
            self.seen.extend(observed)

    clock = Clock(T0 + 10)
    counted = Counted()
    cron = Cron(StaleTicks(state), MemoryStore(), clock, metrics=counted)
    cron.activate(_every_minute())
    assert counted.seen == []  # an activation starts no execution

    with state.transaction() as tx:
        tx.add_tick(TickRecord("sched_minutely", T0 + 120, "elsewhere"))
    clock.now = T0 + 121
    assert cron.ticker.tick() == []
    assert cron.dispatcher.sent == [] and cron.scheduler.executions.live == {}
    assert cron.executions() == {}
    assert counted.seen == []  # nor counted by the metrics


def test_deactivate_stops_and_reactivating_starts_from_now(state):
    store = MemoryStore()
    clock = Clock(T0 + 10)
    cron = Cron(state, store, clock)
    plan = _every_minute()
    cron.activate(plan)
    assert cron.deactivate("sched_minutely") == []
    clock.now = T0 + 600
    assert cron.ticker.tick() == []
    assert cron.activate(plan) == []  # the ticks of the inactive time never run
    clock.now = T0 + 659
    assert cron.ticker.tick() == []
    clock.now = T0 + 660
    assert [t.tick_s for t in cron.ticker.tick()] == [T0 + 660]
    assert "no launch plan 'nope'" in cron.deactivate("nope")[0]


def test_activating_again_keeps_the_cursor(state):
    store = MemoryStore()
    clock = Clock(T0 + 10)
    cron = Cron(state, store, clock)
    plan = _every_minute()
    cron.activate(plan)
    clock.now = T0 + 61
    assert len(cron.ticker.tick()) == 1
    clock.now = T0 + 90
    cron.activate(plan)  # registered again (new code, say): T0+60 stays fired
    clock.now = T0 + 121
    assert [t.tick_s for t in cron.ticker.tick()] == [T0 + 120]


def test_a_fixed_rate_plan_ticks_from_its_activation(state):
    plan = LaunchPlan.get_or_create(
        stamped, name="sched_rate", default_inputs={"n": 1},
        schedule=FixedRate(duration=datetime.timedelta(seconds=3),
                           kickoff_time_input_arg="kickoff_time"))
    clock = Clock(T0 + 0.4)
    cron = Cron(state, MemoryStore(), clock)
    cron.activate(plan)
    clock.now = T0 + 10
    assert [t.tick_s for t in cron.ticker.tick()] == [T0 + 3, T0 + 6, T0 + 9]


def test_a_plan_whose_spec_is_gone_starts_failed_executions_saying_so(state):
    store = MemoryStore()
    clock = Clock(T0 + 10)
    cron = Cron(state, store, clock)
    cron.activate(_every_minute())
    store.delete(store.keys("specs")[0])
    clock.now = T0 + 61
    fired = cron.ticker.tick()
    assert len(fired) == 1
    with state.transaction() as tx:
        record = tx.get_execution(fired[0].execution_id)
        assert record.status == "FAILED" and record.error["type"] == "StoreObjectMissing"


def test_malformed_launch_plan_messages_are_refused():
    for body, reason in [
        ({"type": "activate", "launch_plan": "x", "workflow": "w", "spec": "k", "inputs": {},
          "schedule": {"cron": "nope"}}, "columns"),
        ({"type": "activate", "launch_plan": "x", "workflow": "w", "spec": "k", "inputs": {},
          "schedule": {"rate_s": 0}}, "rate_s"),
        ({"type": "activate", "launch_plan": "x", "workflow": "w", "spec": "k", "inputs": {},
          "schedule": {"rate_s": 10**12}}, "rate_s"),
        ({"type": "activate", "launch_plan": "x", "workflow": "w", "spec": "k", "inputs": {},
          "schedule": {"cron": "0 0 30 2 *"}}, "names no time"),
        ({"type": "deactivate", "launch_plan": ""}, "launch_plan must be a name")]:
        with pytest.raises(MessageError, match=reason):
            check(body)


def test_a_plan_whose_schedule_never_fires_is_deactivated_and_the_scheduler_goes_on(state):
    """A plan registered before its schedule could be checked (or by a hand-made message)
    whose cron expression names no later time is switched off, and the others still fire."""
    from scheduler.state import LaunchPlanRecord

    clock = Clock(T0 + 10)
    cron = Cron(state, MemoryStore(), clock)
    assert cron.activate(_every_minute()) == []
    with state.transaction() as tx:
        good = tx.get_launch_plan("sched_minutely")
        tx.put_launch_plan(LaunchPlanRecord(
            name="never", workflow=good.workflow, spec_key=good.spec_key, inputs=good.inputs,
            schedule={"cron": "0 0 30 2 *", "kickoff_arg": "kickoff_time"}, active=True,
            anchor_s=T0, cursor_s=T0))
    clock.now = T0 + 60
    assert [t.launch_plan for t in cron.ticker.tick()] == ["sched_minutely"]
    with state.transaction() as tx:
        assert tx.get_launch_plan("never").active is False
        assert tx.get_launch_plan("sched_minutely").active is True
