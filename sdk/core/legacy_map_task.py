"""`sdk.core.legacy_map_task`, as `flytekit.core.legacy_map_task`: the older map task, the
same map in graft."""

from sdk.authoring.map_task import MapPythonTask
from sdk.authoring.map_task import legacy_map_task as map_task

__all__ = ["MapPythonTask", "map_task"]
