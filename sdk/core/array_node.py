"""`sdk.core.array_node`, as `flytekit.core.array_node`: maps of launch plans."""

from sdk.authoring.map_task import array_node

__all__ = ["array_node"]
