"""`sdk.models.security`, as `flytekit.models.security`."""

from sdk.model.security import Secret

__all__ = ["Secret"]
