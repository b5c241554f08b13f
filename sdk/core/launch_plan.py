"""`sdk.core.launch_plan`, as `flytekit.core.launch_plan`."""

from sdk.authoring.launch_plan import LaunchPlan

__all__ = ["LaunchPlan"]
