"""`sdk.exceptions`, as `flytekit.exceptions`: exceptions a task may raise."""

from sdk.model.errors import FlyteRecoverableException

__all__ = ["FlyteRecoverableException"]
