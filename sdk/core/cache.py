"""`sdk.core.cache`, as `flytekit.core.cache`."""

from sdk.authoring.caching import Cache

__all__ = ["Cache"]
