"""Registering a file's tasks, workflows and launch plans by name and version (`graft
register FILE [--version V]`), as `pyflyte register` does, for reference entities to use
(`sdk.authoring.reference`).

What the file's module holds is registered: each task and dynamic, and each workflow, under
its full name (`module.function`, as Flyte names them: `pkg.tasks.add`); each workflow's
default launch plan under the workflow's full name too, and each launch plan under its own
name. Each is compiled, its code uploaded as bundles and its spec stored as `graft run
--remote` does (a reference it calls is resolved first), and recorded in the registry
(`sdk.remote.registry`) with the defaults of its inputs and a launch plan's fixed inputs.

Without a version the version is computed from what is registered (specs, so code bundles,
and defaults): the same code registers under the same version again, as pyflyte's computed
version. Registering a name and version again is a no-op when it records the same code, and
refused (nothing is written) when it would record other code: register under a new version.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sdk.authoring.launch_plan import LaunchPlan
from sdk.model.entity import Runnable
from sdk.model.errors import ConfigError
from sdk.model.reference import REFERENCE_MODULE
from sdk.model.spec import GraphSpec
from sdk.model.store import Store
from sdk.remote.references import Resolver
from sdk.remote.registry import Entry, Registry, RegistryError, new_entry
from sdk.remote.specs import upload_spec
from sdk.values.shapes import encode_inputs

REGISTERED, UNCHANGED, REPLACED = "registered", "unchanged", "replaced a refused entry"


@dataclass(frozen=True)
class Registrable:
    """One entity to register: its registry kind, its name, and what compiles it."""

    kind: str
    name: str
    entity: Any
    fixed: tuple[str, ...] = ()


def full_name(entity: Any) -> str:
    """`module.qualname`, Flyte's name of a task or workflow (an imperative workflow's own
    name)."""
    module, _, qualname = entity.ref.partition(":")
    return f"{module}.{qualname}" if module in sys.modules and qualname else entity.name


def registrable(module: ModuleType) -> list[Registrable]:
    """What registering `module` records: its tasks, dynamics, workflows (each with its
    default launch plan) and launch plans, reference entities left out, in the order the
    module holds them."""
    found: dict[tuple[str, str], Registrable] = {}

    def add(item: Registrable) -> None:
        found.setdefault((item.kind, item.name), item)

    workflows = []
    for value in list(vars(module).values()):
        if isinstance(value, LaunchPlan):
            add(Registrable("launch_plan", value.name, value, tuple(sorted(value.fixed_inputs))))
            continue
        if not isinstance(value, Runnable) or value.ref.startswith(REFERENCE_MODULE + ":"):
            continue
        if value.kind in ("task", "dynamic"):
            add(Registrable("task", full_name(value), value))
        elif value.kind == "workflow":
            workflows.append(value)
            add(Registrable("workflow", full_name(value), value))
            add(Registrable("launch_plan", full_name(value), value))
    for plan in list(LaunchPlan.CACHE.values()):  # plans made but not kept in a variable
        if any(plan.workflow is wf for wf in workflows):
            add(Registrable("launch_plan", plan.name, plan, tuple(sorted(plan.fixed_inputs))))
    return list(found.values())


def _defaults(entity: Any, store: Store) -> dict[str, Any]:
    iface = entity.interface
    values = {k: v for k, v in iface.defaults.items() if k in iface.inputs}
    return encode_inputs(entity, values, store)


def prepare(items: list[Registrable], registry: Registry, version: str | None,
            source: str) -> list[Entry]:
    """The entries recording `items` under `version` (computed when None), their code,
    specs and default values uploaded to the registry's store (content-addressed, so
    nothing is recorded yet). RegistryError when a reference one of them calls cannot be
    resolved."""
    store = registry.store
    resolver = Resolver(registry)
    specs: dict[int, str] = {}
    made = []
    for item in items:
        entity = item.entity
        if id(entity) not in specs:
            graph: GraphSpec = resolver.graph(entity.graph())
            specs[id(entity)] = upload_spec(graph, store)
        ref = entity.workflow.ref if item.kind == "launch_plan" and hasattr(
            entity, "workflow") else entity.ref
        made.append((item, specs[id(entity)], ref, _defaults(entity, store)))
    if version is None:
        version = computed_version([(i.kind, i.name, spec, ref, defaults, i.fixed)
                                    for i, spec, ref, defaults in made])
    return [new_entry(i.kind, i.name, version, spec, ref, defaults, i.fixed, source)
            for i, spec, ref, defaults in made]


def computed_version(content: list[Any]) -> str:
    """A version naming `content` (what is registered): 16 hex digits of its hash."""
    text = json.dumps(sorted(content, key=lambda c: (c[0], c[1])), sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def record(entries: list[Entry], registry: Registry) -> list[tuple[Entry, str]]:
    """Write `entries`: each with its status (REGISTERED, UNCHANGED, REPLACED). RegistryError,
    before anything is written, naming each one whose name and version record other code."""
    plan: list[tuple[Entry, str]] = []
    conflicts = []
    for entry in entries:
        known = registry.get(entry.kind, entry.name, entry.version)
        if known is None:
            plan.append((entry, REGISTERED))
        elif known.refused:
            plan.append((entry, REPLACED))
        elif known.same(entry):
            plan.append((known, UNCHANGED))
        else:
            conflicts.append(f"{entry.describe()} (registered from {known.source or '?'})")
    if conflicts:
        raise RegistryError(f"{'; '.join(conflicts)}: registered already with other code or "
                            f"defaults. A name and version always run the same code: register "
                            f"under a new --version (nothing was registered)")
    for entry, status in plan:
        if status != UNCHANGED:
            registry.put(entry)
    return plan


def register_module(module: ModuleType, registry: Registry, version: str | None = None
                    ) -> list[tuple[Entry, str]]:
    """Register what `module` holds (`registrable`) under `version` (computed when None);
    each entry with its status. ConfigError when it holds nothing to register or `version`
    is malformed; RegistryError on a conflict (`record`) or a reference that cannot be
    resolved."""
    if version is not None and (not version.strip() or version != version.strip()
                                or any(c in version for c in "\n\r\t")):
        raise ConfigError(f"--version {version!r}: a version is non-empty text without "
                          f"surrounding spaces or line breaks")
    items = registrable(module)
    source = str(Path(getattr(module, "__file__", "") or module.__name__).resolve())
    if not items:
        raise ConfigError(f"{source} defines no task, workflow or launch plan to register")
    return record(prepare(items, registry, version, source), registry)
