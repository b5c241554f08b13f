"""`sdk.core.array_node_map_task`, as `flytekit.core.array_node_map_task`."""

from sdk.authoring.map_task import ArrayNodeMapTask, MapTask, map_task

array_node_map_task = map_task

__all__ = ["ArrayNodeMapTask", "MapTask", "array_node_map_task", "map_task"]
