"""Resolving reference entities when a client submits: each node a `reference_task`,
`reference_launch_plan` or `reference_workflow` call made (`sdk.model.reference`) becomes
the entity registered under that name and version (`sdk.remote.registry`).

A task becomes its registered node (code bundle, interface, resources, cache, retries,
timeout), a workflow or launch plan a sub-workflow node holding its registered graph (a
launch plan's with its fixed inputs in place). The node keeps its id, its bindings and what
it runs after; inputs of the registered entity that the stub leaves out are bound to their
registered defaults; resources, retries, timeout and image given by `with_overrides` still
apply. The stub's interface must fit the registered one: every stub input is a registered
input whose type takes it, the stub's outputs are the registered ones by name, of types it
takes. Otherwise, or when nothing (or a refused entry) is registered under the name and
version, RegistryError names the node, the reference and the difference, before anything is
stored.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sdk.model.config import Settings
from sdk.model.errors import SpecError, StoreError
from sdk.model.reference import Reference, reference_of
from sdk.model.spec import GraphSpec, NodeSpec, TaskRef
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc, is_assignable, type_name
from sdk.remote.registry import Entry, Registry, RegistryError
from sdk.values.store import get_verified


def has_references(spec: GraphSpec) -> bool:
    """Whether `spec` calls a reference entity anywhere (dynamics' bodies aside)."""
    return any(node.kind == "task" and reference_of(node.task) is not None
               for _, node in spec.walk())


def resolve_references(spec: GraphSpec, settings: Settings, store: Store) -> GraphSpec:
    """`spec` with every reference entity replaced by what is registered in `store` (entries
    checked with `settings`' secret); `spec` itself when it calls none. RegistryError as the
    module says."""
    if not has_references(spec):
        return spec
    return Resolver(Registry.open(settings, store)).graph(spec)


class Resolver:
    """Resolves the references of specs against one registry, each entry read once."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._found: dict[Reference, tuple[Entry, GraphSpec]] = {}

    def graph(self, g: GraphSpec, prefix: str = "") -> GraphSpec:
        nodes = [self.node(n, prefix) for n in g.nodes]
        handler = self.node(g.on_failure, prefix) if g.on_failure is not None else None
        return dataclasses.replace(g, nodes=nodes, on_failure=handler)

    def node(self, n: NodeSpec, prefix: str) -> NodeSpec:
        inner = f"{prefix}{n.id}/"
        if n.subgraph is not None:
            n = dataclasses.replace(n, subgraph=self.graph(n.subgraph, inner))
        if n.branch is not None:
            n = dataclasses.replace(n, branch=dataclasses.replace(n.branch, cases=tuple(
                dataclasses.replace(c, graph=self.graph(c.graph, f"{inner}{c.label}/"))
                if c.graph is not None else c for c in n.branch.cases)))
        if n.map is not None:
            return self._map(n, inner)
        reference = reference_of(n.task)
        if reference is None or n.kind != "task":
            return n
        resolved, extra, _ = self.resolved(n, reference, f"node {prefix}{n.id!r}")
        return dataclasses.replace(resolved, inputs={**extra, **n.inputs})

    def _map(self, n: NodeSpec, inner: str) -> NodeSpec:
        """A map node: its template resolved, and the registered defaults of the inputs the
        stub leaves out bound on the map node (which binds every input of its items)."""
        assert n.map is not None
        template = n.map.template
        reference = reference_of(template.task)
        if reference is None or template.kind != "task":
            template = self.node(template, inner + "*/")
            return dataclasses.replace(n, map=dataclasses.replace(n.map, template=template))
        resolved, extra, types = self.resolved(template, reference, f"map node {n.id!r}")
        task = dataclasses.replace(n.task, module=resolved.task.module,
                                   qualname=resolved.task.qualname, bundle=resolved.task.bundle)
        return dataclasses.replace(
            n, task=task, inputs={**extra, **n.inputs},
            inputs_types={**{k: types[k] for k in extra}, **n.inputs_types},
            map=dataclasses.replace(n.map, template=dataclasses.replace(resolved, inputs={})))

    def lookup(self, reference: Reference) -> tuple[Entry, GraphSpec]:
        """The entry `reference` names and its registered graph."""
        if reference not in self._found:
            entry = self.registry.require(reference)
            try:
                graph = GraphSpec.loads(get_verified(self.registry.store, entry.spec))
            except (StoreError, SpecError) as exc:
                raise RegistryError(f"the registered spec of {entry.describe()} cannot be "
                                    f"read: {exc}") from exc
            self._found[reference] = (entry, graph)
        return self._found[reference]

    def resolved(self, n: NodeSpec, reference: Reference, where: str
                 ) -> tuple[NodeSpec, dict[str, Any], dict[str, TypeDesc]]:
        """The registered node in place of `n` (without bindings), the default bindings of
        the registered inputs `n` does not declare, and the registered input types."""
        try:
            entry, registered = self.lookup(reference)
        except RegistryError as exc:
            raise RegistryError(f"{where}: {exc}") from None
        inputs, outputs = dict(registered.inputs), registered.output_types()
        _check_interface(n, entry, inputs, outputs, f"{where}: {reference.describe()}")
        extra = {name: entry.defaults[name] for name in inputs if name not in n.inputs_types}
        overrides = {k: getattr(n, k) for k in ("requests", "limits", "retries")
                     if getattr(n, k)}
        overrides.update({k: getattr(n, k) for k in ("timeout_s", "image")
                          if getattr(n, k) is not None})
        if entry.kind == "task":
            if len(registered.nodes) != 1:
                raise RegistryError(f"{where}: the registered spec of {entry.describe()} is "
                                    f"not one task's")
            node = dataclasses.replace(registered.nodes[0], id=n.id, inputs={}, after=n.after,
                                       **overrides)
        else:
            module, _, qualname = entry.ref.partition(":")
            node = NodeSpec(id=n.id, kind="workflow",
                            task=TaskRef(module, qualname, registered.name),
                            inputs_types=inputs, outputs_types=outputs, inputs={},
                            subgraph=registered, after=n.after, **overrides)
        return node, extra, inputs


def _check_interface(n: NodeSpec, entry: Entry, inputs: dict[str, TypeDesc],
                     outputs: dict[str, TypeDesc], where: str) -> None:
    """RegistryError naming the first way the stub's interface (`n`'s) does not fit the
    registered one."""
    def listed(types: dict[str, TypeDesc]) -> str:
        return ", ".join(f"{k}: {type_name(d)}" for k, d in types.items()) or "none"

    for name, desc in n.inputs_types.items():
        if name not in inputs:
            why = (f"input {name!r} is fixed by the registered launch plan; leave it out of "
                   f"the stub" if name in entry.fixed else
                   f"the stub declares input {name!r}, which the registered {entry.what} "
                   f"does not take (its inputs: {listed(inputs)})")
            raise RegistryError(f"{where}: {why}")
        if not is_assignable(desc, inputs[name]):
            raise RegistryError(f"{where}: input {name!r} is {type_name(desc)} in the stub but "
                                f"{type_name(inputs[name])} in the registered {entry.what}")
    missing = [k for k in inputs if k not in n.inputs_types and k not in entry.defaults]
    if missing:
        raise RegistryError(f"{where}: the stub leaves out input(s) "
                            f"{listed({k: inputs[k] for k in missing})}, which the registered "
                            f"{entry.what} has no default for; declare them in the stub")
    if list(n.outputs_types) != list(outputs):
        raise RegistryError(f"{where}: the stub's outputs ({listed(n.outputs_types)}) are not "
                            f"the registered {entry.what}'s ({listed(outputs)})")
    for name, desc in outputs.items():
        if not is_assignable(desc, n.outputs_types[name]):
            raise RegistryError(f"{where}: output {name!r} is {type_name(n.outputs_types[name])}"
                                f" in the stub but {type_name(desc)} in the registered "
                                f"{entry.what}")
