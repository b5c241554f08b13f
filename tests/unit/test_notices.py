"""Notifications in the scheduler's core: what an execution's end fires, written with the end,
handed over once committed, marked once sent, handed over again after a restart only while
unmarked; refused when the scheduler cannot send them. On the in-memory state and SQLite, with
a recording notifier (tests/integration/test_notifications_cluster.py sends real mail)."""

from __future__ import annotations

import datetime
import time

import pytest

from scheduler.dispatch import RecordingDispatcher
from scheduler.notices import error_text, phase_of
from scheduler.service import Scheduler
from scheduler.state import MemoryState
from scheduler.state_sql import SqlState
from sdk import Email, FixedRate, LaunchPlan, Slack, WorkflowExecutionPhase, task, workflow
from sdk.model.config import Settings
from sdk.values.shapes import encode_inputs
from sdk.values.store import MemoryStore, put_blob
from sdk.wire.messages import check
from worker.attempt import run_attempt

P = WorkflowExecutionPhase


@task
def halve(n: int) -> int:
    if n % 2:
        raise ValueError(f"{n} is odd")
    return n // 2


@workflow
def halver(n: int) -> int:
    return halve(n=n)


@task
def stamp(kickoff_time: datetime.datetime) -> str:
    return kickoff_time.isoformat()


@workflow
def ticking(kickoff_time: datetime.datetime) -> str:
    return stamp(kickoff_time=kickoff_time)


PLAN = LaunchPlan.get_or_create(halver, name="notices_halver", notifications=[
    Email(phases=[P.SUCCEEDED, P.FAILED], recipients_email=["ops@example.com"]),
    Slack(phases=[P.FAILED], recipients_email=["alerts@team.slack.com"])])


class Recording:
    """A notifier that sends nothing: it keeps what it was given and reports what it is
    told to."""

    def __init__(self, channels=("smtp", "webhook")):
        self.channels = frozenset(channels)
        self.given: list = []
        self.finished: list = []
        self.forgotten = 0

    def committed(self, records):
        self.given.extend(records)

    def done(self):
        done, self.finished = self.finished, []
        return done

    def forget(self):
        self.forgotten += 1


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
def state(request, tmp_path):
    return MemoryState() if request.param == "memory" else SqlState(
        f"sqlite:///{tmp_path / 'state.db'}")


class Cluster:
    def __init__(self, state, notifier, clock=None):
        self.state, self.store, self.notifier = state, MemoryStore(), notifier
        self.dispatcher = RecordingDispatcher()
        self.clock = clock or Clock()
        self.scheduler = self.restart()

    def restart(self) -> Scheduler:
        self.scheduler = Scheduler(Settings(database_url=self.state.url), self.state,
                                   self.dispatcher, self.store, notifier=self.notifier,
                                   clock=self.clock)
        return self.scheduler

    def submit(self, eid: str, plan=PLAN, timeout_s=None, **inputs) -> list[str]:
        spec = plan.graph()
        if timeout_s is not None:
            import dataclasses

            spec = dataclasses.replace(spec, timeout_s=timeout_s)
        body = {"type": "submit", "execution": eid,
                "spec": put_blob(self.store, spec.dumps().encode(), prefix="specs"),
                "inputs": encode_inputs(plan, inputs, self.store), "workflow": plan.name}
        if plan.notify_json():
            body["notify"] = plan.notify_json()
        return [r.reason for r in self.scheduler.handle([check(body)]).refused]

    def run(self) -> None:
        for _ in range(10):
            sent, self.dispatcher.sent = self.dispatcher.sent, []
            reports = [run_attempt(self.store, *one.args) for d in sent for one in d.singles()]
            if not reports:
                return
            self.scheduler.handle(reports)

    def rows(self, eid: str | None = None):
        with self.state.transaction() as tx:
            return tx.notifications(eid)

    def execution(self, eid: str):
        with self.state.transaction() as tx:
            return tx.get_execution(eid)


def test_a_success_fires_the_notifications_naming_it_once_and_a_restart_keeps_it_sent(state):
    notifier = Recording()
    c = Cluster(state, notifier)
    assert c.submit("ok1", n=8) == []
    c.run()
    assert c.execution("ok1").status == "SUCCEEDED"
    rows = c.rows("ok1")
    # the Email names SUCCEEDED, the Slack one does not; the webhook gets the end once
    assert [(r.seq, r.channel, r.phase, r.state) for r in rows] == [
        (0, "smtp", "SUCCEEDED", "pending"), (1, "webhook", "SUCCEEDED", "pending")]
    assert rows[0].body == {"execution": "ok1", "launch_plan": "notices_halver",
                            "workflow": "halver", "phase": "SUCCEEDED", "error": None,
                            "kind": "email", "recipients": ["ops@example.com"]}
    assert rows[1].body["notifications"] == [
        {"kind": "email", "phases": ["SUCCEEDED", "FAILED"], "recipients": ["ops@example.com"]}]
    assert [r.key for r in notifier.given] == [("ok1", 0), ("ok1", 1)]

    # Sent: marked on the next turn; a restart hands nothing over again.
    notifier.finished = [("ok1", 0, "sent", None), ("ok1", 1, "sent", None)]
    c.scheduler.flush()
    assert [r.state for r in c.rows("ok1")] == ["sent", "sent"]
    notifier.given.clear()
    c.restart().recover()
    assert notifier.given == []


def test_a_notification_unmarked_when_the_scheduler_died_is_handed_over_again(state):
    notifier = Recording(channels=("smtp",))
    c = Cluster(state, notifier)
    c.submit("ok2", n=4)
    c.run()
    assert [r.key for r in notifier.given] == [("ok2", 0)]
    # The mail went out, the scheduler died before marking it: at least once, so its
    # successor sends it again; once marked, never again.
    notifier.given.clear()
    c.restart().recover()
    assert [r.key for r in notifier.given] == [("ok2", 0)]
    notifier.finished = [("ok2", 0, "sent", None)]
    assert c.scheduler.mark_notified() == 1
    notifier.given.clear()
    c.restart().recover()
    assert notifier.given == []


def test_a_failure_fires_every_notification_naming_failed_with_the_error(state):
    notifier = Recording(channels=("smtp",))
    c = Cluster(state, notifier)
    c.submit("bad1", n=3)
    c.run()
    assert c.execution("bad1").status == "FAILED"
    rows = c.rows("bad1")
    assert [(r.channel, r.phase, r.body["kind"], r.body["recipients"]) for r in rows] == [
        ("smtp", "FAILED", "email", ["ops@example.com"]),
        ("smtp", "FAILED", "slack", ["alerts@team.slack.com"])]
    assert rows[0].body["error"].startswith("node halve (halve): ValueError: 3 is odd")


def test_aborted_and_timed_out_are_their_own_phases(state):
    plan = LaunchPlan.get_or_create(halver, name="notices_ends", notifications=[
        Email(phases=[P.ABORTED, P.TIMED_OUT], recipients_email=["ops@example.com"])])
    clock = Clock()
    c = Cluster(state, Recording(channels=("smtp",)), clock)
    c.submit("ab1", plan, n=2)
    c.scheduler.handle([{"type": "cancel", "execution": "ab1", "reason": "not today"}])
    assert [(r.phase, r.body["error"]) for r in c.rows("ab1")] == [
        ("ABORTED", "aborted: not today")]
    c.submit("to1", plan, timeout_s=5, n=2)
    clock.now = time.time() + 10  # deadlines count from the record's creation time
    c.scheduler.expire()
    assert c.execution("to1").status == "FAILED"
    [row] = c.rows("to1")
    assert row.phase == "TIMED_OUT" and "ran past its timeout of 5 s" in row.body["error"]
    # SUCCEEDED is not named: nothing is written for a success
    c.submit("ok3", plan, n=2)
    c.run()
    assert c.rows("ok3") == []


def test_without_smtp_a_submission_fails_saying_so_and_an_activation_is_refused(state):
    c = Cluster(state, Recording(channels=("webhook",)))
    assert c.submit("nos1", n=2) == []
    record = c.execution("nos1")
    assert record.status == "FAILED"
    assert "has notifications (Email, Slack), which are sent as e-mails" in \
        record.error["message"]
    assert "GRAFT_SMTP_URL" in record.error["message"]
    assert c.dispatcher.sent == [] and c.rows() == []

    plan = LaunchPlan.get_or_create(
        ticking, name="notices_ticking",
        schedule=FixedRate(duration=datetime.timedelta(minutes=1),
                           kickoff_time_input_arg="kickoff_time"),
        notifications=[Email(phases=[P.FAILED], recipients_email=["ops@example.com"])])
    body = {"type": "activate", "launch_plan": plan.name, "workflow": "ticking",
            "spec": put_blob(c.store, plan.graph().dumps().encode(), prefix="specs"),
            "inputs": {}, "schedule": plan.schedule.to_json(), "request": "r1",
            "notifications": plan.notify_json()["notifications"]}
    refused = c.scheduler.handle([check(body)]).refused
    assert len(refused) == 1 and "no SMTP server" in refused[0].reason
    [(name, why)] = c.scheduler.launch_plans.take_refused().items()
    assert name == "notices_ticking" and why["request"] == "r1"
    with c.state.transaction() as tx:
        assert tx.get_launch_plan("notices_ticking") is None


def test_phase_and_error_text():
    timeout = {"failures": [{"node_id": "", "task": "wf", "error_type": "WorkflowTimeout",
                             "message": "workflow 'wf' ran past its timeout of 5 s"}]}
    assert phase_of("FAILED", timeout) == "TIMED_OUT"
    assert phase_of("FAILED", {"failures": []}) == "FAILED"
    assert phase_of("SUCCEEDED", None) == "SUCCEEDED"
    assert error_text(timeout) == "wf: WorkflowTimeout: workflow 'wf' ran past its timeout " \
                                  "of 5 s"
    assert error_text({"type": "SpecError", "message": "gone\n  away"}) == "SpecError: gone away"
    assert error_text(None) is None
    two = {"failures": [{"node_id": "a", "task": "t", "error_type": "E", "message": "m"}] * 2}
    assert error_text(two) == "node a (t): E: m (and 1 more failures)"
