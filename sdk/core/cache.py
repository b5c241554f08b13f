"""`sdk.core.cache`, as `flytekit.core.cache`."""

from sdk.authoring.caching import Cache, CachePolicy, VersionParameters

__all__ = ["Cache", "CachePolicy", "VersionParameters"]
