"""Loading a workflow, task or launch plan from a Python file, as `graft run FILE NAME` and
`graft launchplan activate FILE NAME` do, and what its module tells about it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from sdk.model.entity import Runnable, defined
from sdk.model.errors import GraftError
from sdk.runtime.bundle import source_root


def load_entity_from_file(path: str, name: str) -> Runnable:
    """Import `path` (its folder, or the top of its package, on sys.path) and return `name`:
    a module attribute, or failing that the runnable (a launch plan, say) of that name."""
    module = load_module_from_file(path)
    entity = getattr(module, name, None)
    if not isinstance(entity, Runnable):
        named = [v for v in vars(module).values()
                 if isinstance(v, Runnable) and getattr(v, "name", None) == name]
        entity = named[0] if named else None
    if entity is None:
        found = sorted(k for k, v in vars(module).items() if isinstance(v, Runnable))
        raise GraftError(f"{path} has no workflow or task named {name!r}; it defines: "
                         f"{', '.join(found) or 'none'}")
    return entity


def load_module_from_file(path: str) -> ModuleType:
    """Import `path` under its importable name (its folder, or the top of its package, on
    sys.path); GraftError when it is no Python file or importing it raises."""
    file = Path(path).resolve()
    if not file.exists():
        raise GraftError(f"{path}: no such file")
    if not file.is_file() or file.suffix != ".py":
        raise GraftError(f"{path}: not a Python file")
    parts = [] if file.name == "__init__.py" else [file.stem]
    folder = file.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    module_name = ".".join(parts)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise GraftError(f"importing {path} raised {type(exc).__name__}: {exc}") from exc
    source_root(module_name)
    return module


def task_memories() -> list[int | None]:
    """The memory of every task and dynamic defined in this process (the workflow's file and
    every module it imported): what a workflow's dynamics may call, which its spec cannot
    know before they run."""
    found = []
    for value in defined():
        if getattr(value, "kind", "") in ("task", "dynamic"):
            limits, requests = value.limits.to_json(), value.requests.to_json()
            found.append(limits.get("mem_bytes") or requests.get("mem_bytes"))
    return found
