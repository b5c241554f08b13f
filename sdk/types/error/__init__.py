"""`sdk.types.error`, as `flytekit.types.error`: what a failure handler receives."""

from sdk.values.failure import FlyteError

__all__ = ["FlyteError"]
