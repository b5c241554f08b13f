"""`sdk.types.error.error`, as `flytekit.types.error.error`."""

from sdk.values.failure import FlyteError

__all__ = ["FlyteError"]
