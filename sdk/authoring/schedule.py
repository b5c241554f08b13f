"""Schedules of launch plans: `CronSchedule` and `FixedRate`, as in flytekit.

    LaunchPlan.get_or_create(wf, name="every-5-min",
                             schedule=CronSchedule(schedule="*/5 * * * *",
                                                   kickoff_time_input_arg="kickoff_time"))
    LaunchPlan.get_or_create(wf, name="every-30-s",
                             schedule=FixedRate(duration=timedelta(seconds=30)))

A schedule only describes *when*; the scheduler fires it once `graft launchplan activate`
registered the launch plan (`scheduler/cron.py`). Times are UTC. A schedule travels as JSON
(`to_json`), and `next_tick(schedule_json, after_s, anchor_s)` is the one function that
computes its ticks, in whole unix seconds.

Cron expressions are parsed by croniter (the library flytekit itself validates cron with):
five fields, or six with seconds last, plus the `@hourly`, `@daily`, `@weekly`, `@monthly`
and `@yearly` aliases and flytekit's bare ones (`hourly`, `days`, ...). As in flytekit, a
`CronSchedule` that croniter refuses, or that names no time to come (`0 0 31 2 *`), is refused
when it is made. A `FixedRate` ticks every `duration` from the moment the launch plan
was activated; unlike Flyte, which takes whole minutes only, graft takes any whole number of
seconds from 1 up.
"""

from __future__ import annotations

import datetime
import math
import re
import types
from typing import Any

from croniter import croniter

from sdk.model.errors import ConfigError

UTC = datetime.timezone.utc
# flytekit's CronSchedule aliases, as croniter spells them.
ALIASES = {
    "hourly": "@hourly", "hours": "@hourly", "daily": "@daily", "days": "@daily",
    "weekly": "@weekly", "weeks": "@weekly", "monthly": "@monthly", "months": "@monthly",
    "annually": "@yearly", "@annually": "@yearly", "yearly": "@yearly", "years": "@yearly",
}
SKIP_COUNT_CAP = 100_000
MAX_RATE_S = 100 * 365 * 24 * 3600  # a fixed rate longer than a century is a mistake
_OFFSET = re.compile("([-+]?)P([-+0-9YMWD]+)?(T([-+0-9HMS.,]+)?)?")  # flytekit's check


class Schedule:
    """What `CronSchedule` and `FixedRate` share: the input that receives the tick time."""

    kickoff_time_input_arg: str | None

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def check(self, where: str) -> None:
        """ConfigError naming `where` (the launch plan) when the schedule is malformed."""


class CronSchedule(Schedule):
    """Fire at the times a cron expression names (UTC). ConfigError (a ValueError, as
    flytekit's) when croniter refuses the expression or it names no time to come. flytekit's
    deprecated `cron_expression` (AWS syntax, with a year) is refused, as flytekit refuses it.
    `offset`, an ISO 8601 duration (`"PT1H"`), is checked and kept (`.cron_schedule.offset`)
    but, as in Flyte's native scheduler, does not move the ticks."""

    def __init__(self, cron_expression: str | None = None, schedule: str | None = None,
                 offset: str | None = None, kickoff_time_input_arg: str | None = None):
        if cron_expression:
            raise ConfigError("CronSchedule(cron_expression=...) is deprecated in flytekit and "
                              "refused by graft, as by flytekit: use schedule= (five fields, "
                              "minute hour day-of-month month day-of-week)")
        if schedule is None:
            raise ConfigError("CronSchedule takes schedule=, a cron expression")
        if offset is not None and (not isinstance(offset, str)
                                   or _OFFSET.fullmatch(offset) is None):
            raise ConfigError(f"CronSchedule: offset is invalid. It must be an ISO 8601 "
                              f"duration (e.g. 'PT1H'). Provided offset: {offset}")
        text = str(schedule).strip()
        self.schedule = ALIASES.get(text.lower(), text)
        self.offset = offset
        self.kickoff_time_input_arg = kickoff_time_input_arg
        self.check("CronSchedule")

    @property
    def cron_expression(self) -> str | None:
        """flytekit's deprecated expression: always None (it is refused)."""
        return None

    @property
    def cron_schedule(self) -> Any:
        """flytekit's model of it: `.schedule` and `.offset`."""
        return types.SimpleNamespace(schedule=self.schedule, offset=self.offset)

    def check(self, where: str) -> None:
        reason = cron_error(self.schedule)
        if reason:
            raise ConfigError(f"{where}: cron schedule {self.schedule!r} is not valid: {reason} "
                              f"(e.g. '*/5 * * * *': minute hour day-of-month month "
                              f"day-of-week, UTC)")

    def to_json(self) -> dict[str, Any]:
        return {"cron": self.schedule, "kickoff_arg": self.kickoff_time_input_arg}

    def describe(self) -> str:
        return f"cron {self.schedule}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronSchedule) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(("cron", self.schedule, self.kickoff_time_input_arg))

    def __repr__(self) -> str:
        offset = f", offset={self.offset!r}" if self.offset is not None else ""
        return f"CronSchedule(schedule={self.schedule!r}{offset}, " \
               f"kickoff_time_input_arg={self.kickoff_time_input_arg!r})"


class FixedRate(Schedule):
    """Fire every `duration` (a timedelta of whole seconds, at least one), counted from the
    activation of the launch plan."""

    def __init__(self, duration: datetime.timedelta, kickoff_time_input_arg: str | None = None):
        if not isinstance(duration, datetime.timedelta):
            raise ConfigError(f"FixedRate(duration=...) takes a datetime.timedelta, got "
                              f"{duration!r}")
        self.duration = duration
        self.kickoff_time_input_arg = kickoff_time_input_arg

    @property
    def rate_s(self) -> int:
        return int(self.duration.total_seconds())

    def check(self, where: str) -> None:
        seconds = self.duration.total_seconds()
        if seconds < 1 or seconds != int(seconds):
            raise ConfigError(f"{where}: FixedRate duration {self.duration} must be a whole "
                              f"number of seconds, at least 1")

    def to_json(self) -> dict[str, Any]:
        return {"rate_s": self.rate_s, "kickoff_arg": self.kickoff_time_input_arg}

    def describe(self) -> str:
        return f"every {self.duration}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FixedRate) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(("rate", self.rate_s, self.kickoff_time_input_arg))

    def __repr__(self) -> str:
        return f"FixedRate(duration={self.duration!r}, " \
               f"kickoff_time_input_arg={self.kickoff_time_input_arg!r})"


def cron_error(expression: str) -> str | None:
    """Why croniter refuses `expression`, or None when it is valid."""
    if not isinstance(expression, str) or not expression.strip():
        return "it is empty"
    if expression.strip().startswith("@reboot"):
        return "@reboot has no time to fire at"
    try:
        it = croniter(expression, datetime.datetime.now(UTC))
    except (ValueError, KeyError, TypeError) as exc:
        return str(exc) or type(exc).__name__
    if not fires(it):
        return "it names no time from now on (a date that does not exist, or a past year)"
    return None


def fires(it: Any) -> bool:
    """Whether croniter iterator `it` has a next time (`0 0 30 2 *` never has)."""
    try:
        it.get_next(float)
    except (ValueError, KeyError, TypeError):
        return False
    return True


def check_json(schedule: Any) -> str | None:
    """Why a schedule's JSON form is malformed, or None (for messages from the broker)."""
    if not isinstance(schedule, dict):
        return "a schedule is a JSON object"
    arg = schedule.get("kickoff_arg")
    if arg is not None and not isinstance(arg, str):
        return "kickoff_arg must be a string or null"
    if "cron" in schedule:
        return cron_error(schedule["cron"])
    rate = schedule.get("rate_s")
    if isinstance(rate, int) and not isinstance(rate, bool) and 1 <= rate <= MAX_RATE_S:
        return None
    return (f"a schedule has 'cron' (an expression) or 'rate_s' (whole seconds from 1 to "
            f"{MAX_RATE_S})")


def describe_json(schedule: dict[str, Any]) -> str:
    if "cron" in schedule:
        return f"cron {schedule['cron']}"
    return f"every {datetime.timedelta(seconds=schedule['rate_s'])}"


def next_tick(schedule: dict[str, Any], after_s: int, anchor_s: int) -> int:
    """The first tick of `schedule` strictly after `after_s` (unix seconds). A fixed rate
    ticks at `anchor_s + k * rate_s` for k >= 1; a cron expression at the times it names."""
    if "cron" in schedule:
        start = datetime.datetime.fromtimestamp(after_s, UTC)
        return int(croniter(schedule["cron"], start).get_next(float))
    rate = int(schedule["rate_s"])
    k = max(1, math.floor((after_s - anchor_s) / rate) + 1)
    return anchor_s + k * rate


def due_ticks(schedule: dict[str, Any], after_s: int, now_s: float, anchor_s: int,
              limit: int) -> tuple[list[int], int, int]:
    """The ticks in `(after_s, now_s]`, oldest first, at most the newest `limit` of them.

    Returns `(ticks, skipped, last)`: the ticks to fire, how many older ones were left out by
    the limit, and the newest due tick (the new cursor; `after_s` when none is due). Counting
    a long outage's ticks goes by arithmetic for fixed rates; for cron expressions `skipped`
    stops counting at SKIP_COUNT_CAP."""
    if "rate_s" in schedule:
        rate = int(schedule["rate_s"])
        first = next_tick(schedule, after_s, anchor_s)
        if first > now_s:
            return [], 0, after_s
        count = math.floor((now_s - first) / rate) + 1
        last = first + (count - 1) * rate
        keep = min(count, limit)
        return [last - (keep - 1 - i) * rate for i in range(keep)], count - keep, last
    # Cron: walk back from now, so a long outage costs `limit` steps plus the count of what
    # is skipped (counted up to SKIP_COUNT_CAP).
    it = croniter(schedule["cron"], datetime.datetime.fromtimestamp(math.floor(now_s) + 1, UTC))
    ticks: list[int] = []
    skipped = 0
    while True:
        t = int(it.get_prev(float))
        if t <= after_s:
            break
        if len(ticks) < limit:
            ticks.append(t)
            continue
        skipped += 1
        if skipped >= SKIP_COUNT_CAP:
            break
    ticks.reverse()
    return ticks, skipped, ticks[-1] if ticks else after_s


def tick_datetime(tick_s: int) -> datetime.datetime:
    """The tick time given to `kickoff_time_input_arg`: an aware UTC datetime."""
    return datetime.datetime.fromtimestamp(tick_s, UTC)
