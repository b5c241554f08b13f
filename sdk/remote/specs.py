"""Getting a compiled graph spec ready for a cluster: every task importable on workers (its
code uploaded as a bundle), then the spec itself in the store (tiers: `sdk.wire.tiers`).
`Client.submit` and launch plan activation both go through `upload_spec`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from sdk.model.errors import GraftError
from sdk.model.spec import GraphSpec, NodeSpec, TaskRef, map_nodes
from sdk.model.store import Store
from sdk.runtime.bundle import module_bundle, source_root
from sdk.values.staging import publish
from sdk.values.store import put_blob


def upload_spec(spec: GraphSpec, store: Store) -> str:
    """Upload the code of `spec`'s tasks as bundles, the literals and files compiling staged
    (`sdk.values.staging`), and the spec itself; the spec's key. GraftError, before anything
    is stored, when a task's code cannot be bundled (`code_bundles`)."""
    bundles = code_bundles(spec)
    publish(spec, store)
    spec = with_bundles(spec, store, bundles)
    main = main_module_name()
    if main:  # types defined in the script: workers import it under its module name
        spec = renamed_refs(spec, "__main__", main)
    return put_blob(store, spec.dumps().encode(), prefix="specs")


def code_bundles(spec: GraphSpec) -> dict[str, tuple[str, bytes | None]]:
    """The bundle of each module that defines one of `spec`'s tasks (by module name: its
    importable name and the bundle's bytes, None when installed). Stores nothing; GraftError
    when a task was defined in an interactive session, or a module's bundle would not hold
    it (`sdk.runtime.bundle.module_bundle`)."""
    bundles: dict[str, tuple[str, bytes | None]] = {}
    made: dict[Path, bytes] = {}
    for _, node in spec.walk():
        task = node.task
        if task.module in bundles or task.bundle is not None:  # a registered task's, say
            continue
        name, data = module_bundle(task.module, made)
        if name == "__main__":
            raise GraftError(f"task {task.name!r} is defined in an interactive session; "
                             f"workers can only import code from a .py file: move it "
                             f"into one and import it from there")
        bundles[task.module] = (name, data)
    return bundles


def with_bundles(spec: GraphSpec, store: Store,
                 bundles: dict[str, tuple[str, bytes | None]]) -> GraphSpec:
    """The spec with every task reference made importable on workers (bundle id, and the
    real module name where the code was run as `__main__`), the `code_bundles` of `spec`
    stored. A task reference on a bundle already (a registered task's) is left as it is."""
    ids: dict[str, tuple[str, str | None]] = {}

    def ref_for(task: TaskRef) -> TaskRef:
        if task.bundle is not None:  # on its bundle already: a reference resolved
            return task
        if task.module not in ids:
            name, data = (bundles[task.module] if task.module in bundles
                          else module_bundle(task.module))
            bundle = (put_blob(store, data, prefix="bundles").rpartition("/")[2]
                      if data is not None else None)
            ids[task.module] = (name, bundle)
        name, bundle = ids[task.module]
        return dataclasses.replace(task, module=name, bundle=bundle)

    return map_nodes(spec, lambda n: dataclasses.replace(n, task=ref_for(n.task)))


def main_module_name() -> str | None:
    """The importable name of `__main__` when it is a script file (`python script.py`)."""
    file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    name, _ = source_root("__main__")
    return name if file.endswith(".py") and name != "__main__" else None


def renamed_refs(spec: GraphSpec, old: str, new: str) -> GraphSpec:
    """`spec` with every type reference `old:X` (dataclasses, Enums, NamedTuple outputs, File
    subclasses; sub-workflows included) made `new:X`. Bindings are left as they are."""

    def rename(ref: Any) -> Any:
        return new + ref[len(old):] if isinstance(ref, str) and ref.startswith(old + ":") else ref

    def desc(d: Any) -> Any:
        if isinstance(d, dict):
            return {k: rename(v) if k == "ref" else desc(v) for k, v in d.items()}
        return [desc(v) for v in d] if isinstance(d, list) else d

    def types(ds: dict[str, Any]) -> dict[str, Any]:
        return {name: desc(d) for name, d in ds.items()}

    def node(n: NodeSpec) -> NodeSpec:
        return dataclasses.replace(n, inputs_types=types(n.inputs_types),
                                   outputs_types=types(n.outputs_types))

    def graph(g: GraphSpec) -> GraphSpec:
        return dataclasses.replace(
            g, inputs=types(g.inputs), outputs=[dataclasses.replace(o, type=desc(o.type))
                                                for o in g.outputs],
            output_ref=rename(g.output_ref))

    return map_nodes(spec, node, graph)
