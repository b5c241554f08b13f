"""Reference entities: a task, launch plan or workflow registered on a cluster (`graft
register FILE`), named by name and version and called through a stub that declares its
interface, as flytekit's `reference_task`, `reference_launch_plan` and `reference_workflow`:

    @reference_task(project="p", domain="d", name="pkg.tasks.add", version="v1")
    def add(x: int, y: int) -> int: ...

    @workflow
    def wf(x: int) -> int:
        return add(x=x, y=1)

A call in a workflow (or a dynamic, a map, a conditional) is a node like any task's. When a
client submits to a cluster it replaces that node by what is registered under the name and
version (`sdk.remote.references`): the workers run the registered code. In-process a
reference runs only when a mock replaces it (`sdk.testing.task_mock`); otherwise the run
raises `ReferenceNotRunnable`, a NotImplementedError with flytekit's message.

As in flytekit, a call gives every input the stub declares (the stub's default values are
not used); an input of the registered entity that the stub leaves out takes the registered
default (a launch plan's default inputs, a task's or workflow's Python defaults), and a
launch plan's fixed inputs stay fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sdk.authoring.compiler import Called, bind_arguments, current_builder
from sdk.authoring.interface import read_interface
from sdk.model import entity as registry
from sdk.model.bindings import Binding
from sdk.model.errors import CompileError, ConfigError, GraftError
from sdk.model.interface import Interface
from sdk.model.reference import REFERENCE_MODULE, Reference, not_runnable
from sdk.model.resources import Resources
from sdk.model.spec import GraphSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.store import Store


class ReferenceEntity(Called):
    """A stub standing for an entity registered on a cluster. `reference` names it (kind,
    project, domain, name, version); `name` is the registered name, as in flytekit."""

    kind = "task"
    registered_kind = "task"

    def __init__(self, project: str, domain: str, name: str, version: str,
                 fn: Callable[..., Any]):
        self.reference = Reference(self.registered_kind, str(project), str(domain), name,
                                   version)
        what = f"reference {self.reference.what} {getattr(fn, '__qualname__', fn)}"
        for label, value in (("name", name), ("version", version)):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{what}: {label} must be a non-empty str, got {value!r}")
        if not callable(fn):
            raise CompileError(f"{what}: decorates a function (the stub), got {fn!r}")
        self.stub: str = fn.__name__
        self.__doc__ = fn.__doc__
        self.name = name
        stub = read_interface(fn, f"reference {self.reference.what}")
        # The stub's defaults are not used (flytekit drops them too): an input left out of
        # the stub takes the registered default instead.
        self.interface = Interface(dict(stub.inputs), dict(stub.outputs), stub.style, {},
                                   stub.namedtuple)
        self.requests = self.limits = Resources()  # nothing known before it is resolved
        registry.register(self)

    @property
    def ref(self) -> str:
        return f"{self.module}:{self.qualname}"

    @property
    def module(self) -> str:
        return REFERENCE_MODULE

    @property
    def qualname(self) -> str:
        return self.reference.qualname

    @property
    def id(self) -> Reference:
        """What it names (`.project`, `.domain`, `.name`, `.version`), as flytekit's `id`."""
        return self.reference

    def __repr__(self) -> str:
        return f"<graft {self.reference.describe()}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is None:  # in-process: a mock, or ReferenceNotRunnable (sdk.runtime)
            return registry.run_locally(self, args, kwargs)
        bound = self.bind(args, kwargs)
        iface = self.interface
        bindings = {name: builder.to_binding(value, iface.inputs[name],
                                             f"call to {self.reference.describe()}, input "
                                             f"{name!r}")
                    for name, value in bound.items()}
        node_id = builder.new_id(self.stub)
        builder.add_node(self.node_spec(node_id, bindings))
        return builder.promises(node_id, self.stub, iface)

    def bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        names = list(self.interface.inputs)
        left = [n for n in names[len(args):] if n not in kwargs]
        if left and len(args) <= len(names) and set(kwargs) <= set(names):
            raise CompileError(
                f"call to {self.reference.describe()} is missing input(s) {', '.join(left)}: "
                f"a reference is given every input its stub declares (the stub's defaults "
                f"are not used, as in flytekit); leave an input out of the stub {self.stub} "
                f"to take the registered default")
        return bind_arguments(self, args, kwargs)

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        """The node of a call: a task node standing for the registered entity, replaced by
        it when a client submits (`sdk.remote.references`)."""
        iface = self.interface
        return NodeSpec(id=node_id, kind="task",
                        task=TaskRef(REFERENCE_MODULE, self.reference.qualname, self.stub),
                        inputs_types=dict(iface.inputs), outputs_types=dict(iface.outputs),
                        inputs=bindings)

    def graph(self) -> GraphSpec:
        """One node calling the reference with the graph's inputs (a direct call, or
        `Client().submit(ref, ...)`)."""
        iface = self.interface
        node = self.node_spec(self.stub, {n: {"input": n} for n in iface.inputs})
        outputs = [OutputSpec(n, d, {"ref": [node.id, n]}) for n, d in iface.outputs.items()]
        return GraphSpec(self.stub, dict(iface.inputs), [node], outputs, iface.style,
                         iface.namedtuple_ref)

    def run(self, values: dict[str, Any]) -> Any:
        raise not_runnable(self.reference, self.stub)

    def expand(self, values: dict[str, Any], store: Store, bundle: str | None) -> GraphSpec:
        raise GraftError(f"{self!r} is not a dynamic")


class ReferenceTask(ReferenceEntity):
    """A task registered on a cluster (`reference_task`)."""


class ReferenceLaunchPlan(ReferenceEntity):
    """A launch plan registered on a cluster (`reference_launch_plan`)."""

    kind = "workflow"
    registered_kind = "launch_plan"


class ReferenceWorkflow(ReferenceEntity):
    """A workflow registered on a cluster (`reference_workflow`)."""

    kind = "workflow"
    registered_kind = "workflow"


def _decorator(cls: type[ReferenceEntity], project: str, domain: str, name: str,
               version: str) -> Callable[[Callable[..., Any]], Any]:
    def make(fn: Callable[..., Any]) -> ReferenceEntity:
        return cls(project, domain, name, version, fn)

    return make


def reference_task(project: str, domain: str, name: str,
                   version: str) -> Callable[[Callable[..., Any]], ReferenceTask]:
    """Make a function stub (its annotations are the interface; its body never runs) stand
    for task `name` registered under `version` (`graft register FILE`). Project and domain
    are kept, not matched: graft has one namespace."""
    return _decorator(ReferenceTask, project, domain, name, version)


def reference_launch_plan(project: str, domain: str, name: str,
                          version: str) -> Callable[[Callable[..., Any]], ReferenceLaunchPlan]:
    """Make a function stub stand for launch plan `name` registered under `version`; its
    fixed inputs, and its default inputs the stub leaves out, apply. A workflow's default
    launch plan is registered under the workflow's name."""
    return _decorator(ReferenceLaunchPlan, project, domain, name, version)


def reference_workflow(project: str, domain: str, name: str,
                       version: str) -> Callable[[Callable[..., Any]], ReferenceWorkflow]:
    """Make a function stub stand for workflow `name` registered under `version`."""
    return _decorator(ReferenceWorkflow, project, domain, name, version)
