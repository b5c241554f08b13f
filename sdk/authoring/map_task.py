"""`map_task`: run a task (or a workflow, or a launch plan) once per item of list inputs.

    squares = map_task(square)(x=[1, 2, 3])                     # [1, 4, 9]
    scaled = map_task(functools.partial(scale, by=2.0))(x=xs)    # `by` fixed for every item

Compiled, a map is one node: the engine creates its items (`<node>/<index>`) when the lists
exist, so a spec costs the same for 10 items or 10,000. Each item has its own retries, cache
entry and memory tier. With `min_success_ratio < 1` (or `min_successes`) failed items give
None and the map fails only when too few succeed; its outputs are then lists of Optionals.
An input with a default that the call leaves out takes its default for every item.
"""

from __future__ import annotations

import functools
from typing import Any

from sdk.authoring.compiler import bind_arguments, current_builder
from sdk.model import entity as registry
from sdk.model.bindings import Binding
from sdk.model.errors import CompileError, ConfigError, GraftError
from sdk.model.interface import Interface
from sdk.model.spec import GraphSpec, MapSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc
from sdk.values.staging import staged


def map_task(target: Any, concurrency: int | None = None,
             min_success_ratio: float | None = 1.0,
             min_successes: int | None = None, **options: Any) -> MapTask:
    """A map of `target` (a task, a workflow, a launch plan, or a `functools.partial` of one
    fixing some of its inputs) over the lists given for its other inputs.

    `concurrency` caps how many items run at once on a cluster; `min_success_ratio` (0 to 1)
    or `min_successes` how many must succeed. ConfigError on a bad or unknown option,
    CompileError on a target that cannot be mapped.
    """
    if options:
        name = next(iter(options))
        why = {"run_all_sub_nodes": "every item runs already; min_success_ratio decides the "
                                    "map's outcome",
               "metadata": "give retries and other options to the mapped @task itself"}
        raise ConfigError(f"map_task({getattr(target, 'name', target)!r}): option {name!r} is "
                          f"not taken by graft" + (f": {why[name]}" if name in why else
                                                   " (it takes concurrency, min_success_ratio, "
                                                   "min_successes)"))
    return MapTask(target, concurrency, min_success_ratio, min_successes)


class MapTask:
    """A mapped task: call it in a workflow (or directly) with a list per mapped input."""

    kind = "map"

    def __init__(self, target: Any, concurrency: int | None, min_success_ratio: float | None,
                 min_successes: int | None):
        if min_success_ratio is None:  # flytekit's default spelling
            min_success_ratio = 1.0
        bound: dict[str, Any] = {}
        if isinstance(target, functools.partial):
            if target.args:
                raise CompileError(f"map_task: functools.partial fixes inputs by name only "
                                   f"(partial({target.func!r}, x=...)); got positional "
                                   f"{target.args!r}")
            bound = dict(target.keywords)
            target = target.func
        kind = getattr(target, "kind", None)
        if kind not in ("task", "workflow") or not hasattr(target, "node_spec"):
            what = "a @dynamic" if kind == "dynamic" else repr(target)
            raise CompileError(f"map_task maps a @task, a @workflow or a launch plan, not "
                               f"{what}")
        if concurrency is not None and (not isinstance(concurrency, int)
                                        or isinstance(concurrency, bool) or concurrency < 0):
            raise ConfigError(f"map_task({target.name}): concurrency must be an int >= 0 "
                              f"(0 or None: no limit), got {concurrency!r}")
        if not isinstance(min_success_ratio, (int, float)) or isinstance(min_success_ratio, bool) \
                or not 0.0 <= min_success_ratio <= 1.0:
            raise ConfigError(f"map_task({target.name}): min_success_ratio must be between 0 "
                              f"and 1, got {min_success_ratio!r}")
        if min_successes is not None and (not isinstance(min_successes, int)
                                          or isinstance(min_successes, bool)
                                          or min_successes < 0):
            raise ConfigError(f"map_task({target.name}): min_successes must be an int >= 0, "
                              f"got {min_successes!r}")
        unknown = sorted(set(bound) - set(target.interface.inputs))
        if unknown:
            raise CompileError(f"map_task({target.name}): partial fixes {', '.join(unknown)}, "
                               f"which it does not take (inputs: "
                               f"{', '.join(target.interface.inputs)})")
        self.target = target
        self.bound = bound
        self.options = (concurrency or None, float(min_success_ratio), min_successes)
        # An input with a default that a call does not give is fixed to it for every item.
        self.defaults = {n: v for n, v in target.interface.defaults.items() if n not in bound}
        self.name = f"map_{target.name}"
        # With no input left to map over (a task without inputs, or a partial fixing them
        # all) the map has no items and gives empty lists, as in flytekit.
        self.mapped = tuple(n for n in target.interface.inputs if n not in bound)
        tolerant = min_success_ratio < 1.0 or min_successes is not None
        iface = target.interface
        outputs = {n: {"t": "list", "of": {"t": "optional", "of": d} if tolerant else d}
                   for n, d in iface.outputs.items()}
        style = "none" if not outputs else "single" if len(outputs) == 1 else "tuple"
        self.interface = Interface({n: {"t": "list", "of": iface.inputs[n]}
                                    for n in self.mapped}, outputs, style)

    @property
    def ref(self) -> str:
        return f"{self.target.ref}[map]"

    def __repr__(self) -> str:
        return f"<graft map_task of {self.target.ref}>"

    def _for_call(self, args: tuple, kwargs: dict[str, Any]) -> MapTask:
        """This map, or one with the defaulted inputs the call leaves out fixed."""
        given = set(list(self.interface.inputs)[:len(args)]) | set(kwargs)
        left = {n: v for n, v in self.defaults.items() if n not in given}
        if not left or len(left) == len(self.mapped):
            return self
        return MapTask(functools.partial(self.target, **self.bound, **left), *self.options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        mapped = self._for_call(args, kwargs)
        if mapped is not self:
            return mapped(*args, **kwargs)
        builder = current_builder()
        if builder is None:
            return registry.run_locally(self, args, kwargs)
        lists = self.bind(args, kwargs)
        bindings = {name: builder.to_binding(value, self.interface.inputs[name],
                                             f"call to {self.name!r}, input {name!r}")
                    for name, value in lists.items()}
        bindings.update(self._bound_bindings(builder.to_binding))
        node_id = builder.new_id(self.name)
        builder.add_node(self.node_spec(node_id, bindings, builder._bundle))
        return builder.promises(node_id, self.name, self.interface)

    def _bound_bindings(self, to_binding: Any) -> dict[str, Binding]:
        types = self.target.interface.inputs
        return {name: to_binding(value, types[name], f"map_task({self.target.name}) fixed "
                                                     f"input {name!r}")
                for name, value in self.bound.items()}

    def bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        return bind_arguments(self, args, kwargs)

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        template = self.target.node_spec("item", {}, bundle)
        types: dict[str, TypeDesc] = dict(self.target.interface.inputs)
        types.update(self.interface.inputs)
        concurrency, ratio, successes = self.options
        return NodeSpec(node_id, "map", TaskRef(template.task.module, template.task.qualname,
                                                self.name, template.task.bundle),
                        types, dict(self.interface.outputs), bindings,
                        map=MapSpec(template, self.mapped, concurrency, ratio, successes))

    def graph(self) -> GraphSpec:
        """One map node, reading the lists from the graph's inputs."""
        bindings: dict[str, Binding] = {n: {"input": n} for n in self.mapped}
        bindings.update(self._bound_bindings(_literal_binder(staged())))
        node = self.node_spec(self.name, bindings)
        outputs = [OutputSpec(n, d, {"ref": [node.id, n]})
                   for n, d in self.interface.outputs.items()]
        return GraphSpec(self.name, dict(self.interface.inputs), [node], outputs,
                         self.interface.style)

    def run(self, values: dict[str, Any]) -> Any:
        raise GraftError(f"{self!r} is expanded by the engine, not run on a worker")

    def expand(self, values: dict[str, Any], store: Store, bundle: str | None) -> GraphSpec:
        raise GraftError(f"{self!r} is not a dynamic")


def _literal_binder(store: Store) -> Any:
    from sdk.values.literals import value_binding

    def bind(value: Any, desc: TypeDesc, where: str) -> Binding:
        return value_binding(value, desc, store, where)

    return bind
