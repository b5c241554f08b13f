"""`sdk.core.resources`, as `flytekit.core.resources`."""

from sdk.model.resources import Resources

__all__ = ["Resources"]
