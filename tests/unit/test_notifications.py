"""Launch plan notifications in the SDK: flytekit's classes, phases and checks; in-process
runs send nothing (as flytekit's); what travels to the scheduler."""

from __future__ import annotations

import pytest

from sdk import (
    CompileError,
    ConfigError,
    Email,
    LaunchPlan,
    PagerDuty,
    Slack,
    WorkflowExecutionPhase,
    task,
    workflow,
)
from sdk.authoring.notification import check_json


@task
def double(a: int) -> int:
    return a * 2


@workflow
def doubler(a: int) -> int:
    return double(a=a)


P = WorkflowExecutionPhase


def test_flytekit_import_paths_and_phase_values():
    from sdk.core.notification import Email as CoreEmail
    from sdk.core.notification import Notification
    from sdk.models.core.execution import WorkflowExecutionPhase as ModelsPhase

    assert CoreEmail is Email and ModelsPhase is P
    assert issubclass(Slack, Notification) and issubclass(PagerDuty, Notification)
    # flytekit's values (Flyte's protobuf enum)
    phases = (P.UNDEFINED, P.QUEUED, P.RUNNING, P.SUCCEEDING, P.SUCCEEDED, P.FAILING,
              P.FAILED, P.ABORTED, P.TIMED_OUT, P.ABORTING)
    assert phases == tuple(range(10))
    assert P.enum_to_string(P.TIMED_OUT) == "TIMED_OUT" and P.enum_to_string(42) == "42"


@pytest.mark.parametrize("phases, message", [
    ([], "at least one phase"),
    ([P.RUNNING], "invalid phase RUNNING; only terminal phases"),
    ([P.SUCCEEDED, P.QUEUED], "invalid phase QUEUED"),
    (P.FAILED, "must be a list"),
])
def test_only_terminal_phases_as_flytekit(phases, message):
    with pytest.raises(ConfigError, match=message):
        Email(phases=phases, recipients_email=["a@example.com"])


@pytest.mark.parametrize("recipients, message", [
    ([], "recipients_email is empty"),
    ("a@example.com", "must be a list"),
    (["nobody"], "'nobody' is not an e-mail address"),
    (["a@example.com\r\nBcc: b@example.com"], "is not an e-mail address"),
    (["a@example.com, b@example.com"], "is not an e-mail address"),
])
def test_recipients_are_checked_when_defined(recipients, message):
    with pytest.raises(ConfigError, match=message):
        Slack(phases=[P.FAILED], recipients_email=recipients)


def test_a_plan_keeps_its_notifications_and_runs_in_process_without_sending(capsys):
    notes = [Email(phases=[P.FAILED, P.SUCCEEDED, P.FAILED], recipients_email=["me@x.org"]),
             PagerDuty(phases=[P.TIMED_OUT], recipients_email=["svc@pd.example"])]
    lp = LaunchPlan.get_or_create(doubler, name="notify_doubler", default_inputs={"a": 2},
                                  notifications=notes)
    assert lp.notifications == tuple(notes)
    assert lp() == 4  # nothing is sent in-process, as with flytekit's local runs
    assert capsys.readouterr().out == ""
    assert lp.notify_json() == {
        "launch_plan": "notify_doubler", "workflow": "doubler",
        "notifications": [
            {"kind": "email", "phases": ["FAILED", "SUCCEEDED"], "recipients": ["me@x.org"]},
            {"kind": "pagerduty", "phases": ["TIMED_OUT"], "recipients": ["svc@pd.example"]}]}
    assert check_json(lp.notify_json()["notifications"]) is None
    # the same plan again is the same object; other notifications under its name are refused
    assert LaunchPlan.get_or_create(doubler, name="notify_doubler", default_inputs={"a": 2},
                                    notifications=list(notes)) is lp
    with pytest.raises(ConfigError, match="exists already with other settings"):
        LaunchPlan.get_or_create(doubler, name="notify_doubler", default_inputs={"a": 2},
                                 notifications=notes[:1])
    assert LaunchPlan.create("plain_doubler", doubler).notify_json() is None


def test_the_default_plan_and_wrong_objects_are_refused():
    with pytest.raises(ConfigError, match=r"default launch plan .* takes no inputs; give"):
        LaunchPlan.get_or_create(doubler, notifications=[
            Email(phases=[P.FAILED], recipients_email=["a@b.c"])])
    with pytest.raises(ConfigError, match="takes Email, Slack or PagerDuty"):
        LaunchPlan.get_or_create(doubler, name="bad_notes", notifications=["a@b.c"])


def test_a_plan_with_notifications_inside_a_workflow_is_a_compile_error():
    lp = LaunchPlan.get_or_create(doubler, name="nested_notify", notifications=[
        Email(phases=[P.SUCCEEDED], recipients_email=["a@b.c"])])

    @workflow
    def outer(a: int) -> int:
        return lp(a=a)

    with pytest.raises(CompileError, match="'nested_notify' has notifications"):
        outer.graph()


@pytest.mark.parametrize("value, message", [
    ({}, "must be a list"),
    ([{"kind": "sms", "phases": ["FAILED"], "recipients": ["a@b.c"]}], "unknown kind"),
    ([{"kind": "email", "phases": ["RUNNING"], "recipients": ["a@b.c"]}], "phases must be"),
    ([{"kind": "email", "phases": ["FAILED"], "recipients": []}], "is empty"),
    ([{"kind": "email", "phases": ["FAILED"]}], "exactly kind, phases and recipients"),
])
def test_the_json_check_refuses_malformed_notifications(value, message):
    assert message in check_json(value)
