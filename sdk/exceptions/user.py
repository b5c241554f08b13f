"""`sdk.exceptions.user`, as `flytekit.exceptions.user`."""

from sdk.model.errors import FlyteRecoverableException

__all__ = ["FlyteRecoverableException"]
