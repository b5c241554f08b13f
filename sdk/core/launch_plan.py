"""`sdk.core.launch_plan`, as `flytekit.core.launch_plan`."""

from sdk.authoring.launch_plan import LaunchPlan
from sdk.authoring.reference import ReferenceLaunchPlan, reference_launch_plan

__all__ = ["LaunchPlan", "ReferenceLaunchPlan", "reference_launch_plan"]
