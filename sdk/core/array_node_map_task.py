"""`sdk.core.array_node_map_task`, as `flytekit.core.array_node_map_task`."""

from sdk.authoring.map_task import MapTask, map_task

ArrayNodeMapTask = MapTask

__all__ = ["ArrayNodeMapTask", "MapTask", "map_task"]
