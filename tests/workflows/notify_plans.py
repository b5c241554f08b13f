"""Launch plans with notifications, for the notification cluster tests."""

import datetime

from sdk import Email, FixedRate, LaunchPlan, Slack, WorkflowExecutionPhase, task, workflow


@task
def halve(n: int) -> int:
    if n % 2:
        raise ValueError(f"{n} is odd")
    return n // 2


@workflow
def halver(n: int) -> int:
    return halve(n=n)


it_notify = LaunchPlan.get_or_create(
    halver, name="it_notify",
    notifications=[
        Email(phases=[WorkflowExecutionPhase.SUCCEEDED, WorkflowExecutionPhase.FAILED],
              recipients_email=["ops@example.com", "lead@example.com"]),
        Slack(phases=[WorkflowExecutionPhase.FAILED], recipients_email=["alerts@team.slack.com"]),
    ])


@task
def stamp(kickoff_time: datetime.datetime) -> str:
    return kickoff_time.isoformat()


@workflow
def stamped(kickoff_time: datetime.datetime) -> str:
    return stamp(kickoff_time=kickoff_time)


it_notify_hourly = LaunchPlan.get_or_create(
    stamped, name="it_notify_hourly",
    schedule=FixedRate(duration=datetime.timedelta(hours=1),
                       kickoff_time_input_arg="kickoff_time"),
    notifications=[Email(phases=[WorkflowExecutionPhase.FAILED],
                         recipients_email=["ops@example.com"])])


it_notify_every_2s = LaunchPlan.get_or_create(
    stamped, name="it_notify_every_2s",
    schedule=FixedRate(duration=datetime.timedelta(seconds=2),
                       kickoff_time_input_arg="kickoff_time"),
    notifications=[Email(phases=[WorkflowExecutionPhase.SUCCEEDED],
                         recipients_email=["ticks@example.com"])])
