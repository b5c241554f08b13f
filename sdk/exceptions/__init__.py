"""`sdk.exceptions`, as `flytekit.exceptions`: the exceptions a task may raise, in `.user`
(`FlyteRecoverableException`, `FlyteValueException`, ...) and `.base`."""

from sdk.model.flyte_errors import FlyteRecoverableException

__all__ = ["FlyteRecoverableException"]
