"""`map_task`: run a task (or a workflow, or a launch plan) once per item of list inputs.

    squares = map_task(square)(x=[1, 2, 3])                     # [1, 4, 9]
    scaled = map_task(functools.partial(scale, by=2.0))(x=xs)    # `by` fixed for every item

Compiled, a map is one node: the engine creates its items (`<node>/<index>`) when the lists
exist, so a spec costs the same for 10 items or 10,000. Each item has its own retries, cache
entry and memory tier. With `min_success_ratio < 1` (or `min_successes`) failed items give
None and the map fails only when too few succeed; its outputs are then lists of Optionals.
An input with a default that the call leaves out takes its default for every item.

flytekit's other spellings: `ArrayNodeMapTask(task, bound_inputs_values={"y": 2})` (inputs fixed
for every item by value; `bound_inputs={"y"}`: given once, unmapped, at the call),
`array_node(launch_plan)`, and the legacy `map_task` of `flytekit.core.legacy_map_task`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
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
             min_successes: int | None = None, run_all_sub_nodes: bool = False,
             **options: Any) -> MapTask:
    """A map of `target` (a task, a workflow, a launch plan, or a `functools.partial` of one
    fixing some of its inputs) over the lists given for its other inputs.

    `concurrency` caps how many items run at once on a cluster; `min_success_ratio` (0 to 1)
    or `min_successes` how many must succeed. ConfigError on a bad or unknown option,
    CompileError on a target that cannot be mapped.
    """
    _check_options(target, run_all_sub_nodes, options)
    return MapTask(target, concurrency, min_success_ratio, min_successes)


def _check_options(target: Any, run_all_sub_nodes: Any, options: dict[str, Any]) -> None:
    """ConfigError for `run_all_sub_nodes=True` and for any option graft does not take."""
    if run_all_sub_nodes:
        options = {"run_all_sub_nodes": run_all_sub_nodes, **options}
    if options:
        name = next(iter(options))
        why = {"run_all_sub_nodes": "a map stops starting items once too many have failed; "
                                    "min_success_ratio decides how many may",
               "metadata": "give retries and other options to the mapped @task itself"}
        raise ConfigError(f"map_task({getattr(target, 'name', target)!r}): option {name!r} is "
                          f"not taken by graft" + (f": {why[name]}" if name in why else
                                                   " (it takes concurrency, min_success_ratio, "
                                                   "min_successes)"))


def array_node(target: Any, concurrency: int | None = None,
               min_success_ratio: float | None = None, min_successes: int | None = None,
               run_all_sub_nodes: bool = False) -> MapTask:
    """flytekit's map of a launch plan or a reference task (`flytekit.core.array_node`): a
    MapTask. ConfigError for any other target, as flytekit's ValueError (use `map_task`)."""
    from sdk.authoring.launch_plan import LaunchPlan
    from sdk.authoring.reference import ReferenceLaunchPlan, ReferenceTask

    if not isinstance(target, (LaunchPlan, ReferenceLaunchPlan, ReferenceTask)):
        raise ConfigError(f"array_node maps launch plans and reference tasks only (use "
                          f"map_task for a task or a workflow), got "
                          f"{getattr(target, 'name', target)!r}")
    _check_options(target, run_all_sub_nodes, {})
    return MapTask(target, concurrency, min_success_ratio, min_successes)


def legacy_map_task(task_function: Any, concurrency: int = 0, min_success_ratio: float = 1.0,
                    **options: Any) -> MapTask:
    """`flytekit.core.legacy_map_task.map_task`: the same map (its `concurrency=0` is no
    limit)."""
    _check_options(task_function, False, options)
    return MapTask(task_function, concurrency, min_success_ratio, None)


class MapTask:
    """A mapped task: call it in a workflow (or directly) with a list per mapped input."""

    kind = "map"

    def __init__(self, target: Any, concurrency: int | None, min_success_ratio: float | None,
                 min_successes: int | None, unmapped: Iterable[str] = ()):
        """`unmapped`: inputs a call gives once, for every item, rather than as lists."""
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
        unmapped = set(unmapped)
        for what, names in (("partial fixes", bound), ("bound inputs name", unmapped)):
            unknown = sorted(set(names) - set(target.interface.inputs))
            if unknown:
                raise CompileError(f"map_task({target.name}): {what} {', '.join(unknown)}, "
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
        self.unmapped = tuple(n for n in target.interface.inputs
                              if n in unmapped and n not in bound)
        self.mapped = tuple(n for n in target.interface.inputs
                            if n not in bound and n not in unmapped)
        tolerant = min_success_ratio < 1.0 or min_successes is not None
        iface = target.interface
        outputs = {n: {"t": "list", "of": {"t": "optional", "of": d} if tolerant else d}
                   for n, d in iface.outputs.items()}
        style = "none" if not outputs else "single" if len(outputs) == 1 else "tuple"
        self.interface = Interface({n: {"t": "list", "of": iface.inputs[n]}
                                    if n in self.mapped else iface.inputs[n]
                                    for n in iface.inputs if n not in bound}, outputs, style)

    @property
    def bound_inputs(self) -> set[str]:
        """The inputs not mapped over (fixed by value, or given once at the call)."""
        return set(self.bound) | set(self.unmapped)

    @property
    def python_function_task(self) -> Any:
        return self.target

    @property
    def concurrency(self) -> int | None:
        return self.options[0]

    @property
    def min_success_ratio(self) -> float:
        return self.options[1]

    @property
    def min_successes(self) -> int | None:
        return self.options[2]

    @property
    def ref(self) -> str:
        return f"{self.target.ref}[map]"

    def __repr__(self) -> str:
        return f"<graft map_task of {self.target.ref}>"

    def _for_call(self, args: tuple, kwargs: dict[str, Any]) -> MapTask:
        """This map, or one with the defaulted inputs the call leaves out fixed."""
        given = set(list(self.interface.inputs)[:len(args)]) | set(kwargs)
        left = {n: v for n, v in self.defaults.items() if n not in given}
        if not left or set(self.mapped) <= set(left):
            return self
        return MapTask(functools.partial(self.target, **self.bound, **left), *self.options,
                       unmapped=self.unmapped)

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
        bindings: dict[str, Binding] = {n: {"input": n} for n in self.interface.inputs}
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


class ArrayNodeMapTask(MapTask):
    """flytekit's map task class (`flytekit.core.array_node_map_task`):
    `ArrayNodeMapTask(task, bound_inputs_values={"y": 2})(x=[1, 2])` runs `task(x=1, y=2)` and
    `task(x=2, y=2)`; a value in `bound_inputs_values` wins over a call's and a partial's.
    `bound_inputs={"y"}` names inputs a call gives once, for every item."""

    def __init__(self, python_function_task: Any, concurrency: int | None = None,
                 min_successes: int | None = None, min_success_ratio: float | None = None,
                 bound_inputs: Iterable[str] | None = None,
                 bound_inputs_values: dict[str, Any] | None = None,
                 run_all_sub_nodes: bool = False, **kwargs: Any):
        _check_options(python_function_task, run_all_sub_nodes, kwargs)
        values = dict(bound_inputs_values or {})
        if bound_inputs and values and set(bound_inputs) != set(values):
            raise ConfigError("bound_inputs and bound_inputs_values should have the same keys "
                              "if both set")
        # a partial of a partial is one partial, whose later keywords win
        target = functools.partial(python_function_task, **values) if values \
            else python_function_task
        self.bound_values = values
        super().__init__(target, concurrency, min_success_ratio, min_successes,
                         unmapped=set(bound_inputs or ()) - set(values))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs = {k: v for k, v in kwargs.items() if k not in self.bound_values}
        return super().__call__(*args, **kwargs)


class MapPythonTask(ArrayNodeMapTask):
    """flytekit's legacy map task class (`flytekit.core.legacy_map_task`)."""

    def __init__(self, python_function_task: Any, concurrency: int | None = None,
                 min_success_ratio: float | None = None,
                 bound_inputs: Iterable[str] | None = None, **kwargs: Any):
        super().__init__(python_function_task, concurrency,
                         min_success_ratio=min_success_ratio, bound_inputs=bound_inputs,
                         **kwargs)


def _literal_binder(store: Store) -> Any:
    from sdk.values.literals import value_binding

    def bind(value: Any, desc: TypeDesc, where: str) -> Binding:
        return value_binding(value, desc, store, where)

    return bind
