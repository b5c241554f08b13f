"""`sdk.exceptions.base`, as `flytekit.exceptions.base`."""

from sdk.model.flyte_errors import FlyteException
from sdk.model.flyte_errors import FlyteRecoverableBase as FlyteRecoverableException

__all__ = ["FlyteException", "FlyteRecoverableException"]
