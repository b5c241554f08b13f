"""`sdk.core.condition`, as `flytekit.core.condition`."""

from sdk.authoring.conditional import conditional

__all__ = ["conditional"]
