"""A launch plan on a fixed rate of two seconds, for the scheduled-launch-plan cluster test
(cron's finest grain is a minute; tests/unit/test_schedules.py covers cron ticks)."""

import datetime

from sdk import FixedRate, LaunchPlan, task, workflow


@task
def stamp(kickoff_time: datetime.datetime, label: str) -> str:
    return f"{label}@{kickoff_time.isoformat()}"


@workflow
def stamped(kickoff_time: datetime.datetime, label: str = "tick") -> str:
    return stamp(kickoff_time=kickoff_time, label=label)


every_2s = LaunchPlan.get_or_create(
    stamped, name="it_every_2s", default_inputs={"label": "rate"},
    schedule=FixedRate(duration=datetime.timedelta(seconds=2),
                       kickoff_time_input_arg="kickoff_time"))
