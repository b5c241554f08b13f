"""`sdk.core.schedule`, as `flytekit.core.schedule`."""

from sdk.authoring.schedule import CronSchedule, FixedRate

__all__ = ["CronSchedule", "FixedRate"]
