"""`sdk.exceptions.user`, as `flytekit.exceptions.user`."""

from sdk.model.errors import FlyteRecoverableException
from sdk.model.gates import FlyteDisapprovalException

__all__ = ["FlyteDisapprovalException", "FlyteRecoverableException"]
