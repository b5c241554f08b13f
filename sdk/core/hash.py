"""`sdk.core.hash`, as `flytekit.core.hash`."""

from sdk.model.hashing import HashMethod

__all__ = ["HashMethod"]
