"""`sdk.core.local_cache`, as `flytekit.core.local_cache`: the in-process cache."""

from sdk.runtime.cache import LocalTaskCache

__all__ = ["LocalTaskCache"]
