"""`sdk.core.interface`, as `flytekit.core.interface`."""

from sdk.authoring.python_task import Interface

__all__ = ["Interface"]
