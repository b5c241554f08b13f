"""`@task`, `@dynamic` and `@workflow`, and the objects they make."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import inspect
from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar, overload

from sdk.authoring import options
from sdk.authoring.caching import VersionParameters, cache_options, output_hashers
from sdk.authoring.compiler import Called, GraphBuilder, workflow_node
from sdk.authoring.interface import read_interface, return_annotation
from sdk.authoring.promise import Promise
from sdk.model import entity as registry
from sdk.model.bindings import Binding
from sdk.model.decks import DEFAULT_DECK_FIELDS, deck_options
from sdk.model.errors import BindingError, CompileError, ConfigError, GraftError
from sdk.model.interface import Interface
from sdk.model.resources import Resources
from sdk.model.runs import FAILURE_HANDLER_ID
from sdk.model.security import Secret
from sdk.model.spec import (
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
    FAIL_IMMEDIATELY,
    GraphSpec,
    NodeSpec,
    OutputSpec,
    TaskRef,
)
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc, is_assignable, type_name
from sdk.model.validate import validate
from sdk.values.failure import FlyteError
from sdk.values.handlers import describe
from sdk.values.staging import staged

F = TypeVar("F", bound=Callable[..., Any])


class Entity(Called):
    """What the decorators return: callable like the function, compiled into graphs."""

    kind = ""

    def __init__(self, fn: Callable[..., Any], pickle_untyped: bool = False):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name: str = fn.__name__
        self.module: str = fn.__module__
        self.qualname: str = fn.__qualname__
        if not isinstance(pickle_untyped, bool):
            raise ConfigError(f"@{self.kind} {self.qualname}: pickle_untyped must be True or "
                              f"False, got {pickle_untyped!r}")
        self.interface: Interface = read_interface(fn, self.kind, pickle_untyped)
        registry.register(self)

    @property
    def ref(self) -> str:
        return f"{self.module}:{self.qualname}"

    def __repr__(self) -> str:
        return f"<graft {self.kind} {self.ref}>"

    def graph(self) -> GraphSpec:
        raise NotImplementedError

    def run(self, values: dict[str, Any]) -> Any:
        raise GraftError(f"{self.ref} is a {self.kind}, which does not run on a worker")

    def expand(self, values: dict[str, Any], store: Store, bundle: str | None) -> GraphSpec:
        raise GraftError(f"{self.ref} is a {self.kind}, not a dynamic")

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        raise NotImplementedError


class TaskDef(Entity):
    """A `@task` (or, with kind "dynamic", a `@dynamic`)."""

    kind = "task"

    def __init__(self, fn: Callable[..., Any], *, cache: Any = False, cache_version: str = "",
                 cache_serialize: bool = False, cache_ignore_input_vars: Any = (),
                 retries: int = 0, timeout: int | float | datetime.timedelta | None = None,
                 requests: Resources | None = None, limits: Resources | None = None,
                 resources: Resources | None = None, container_image: Any = None,
                 secret_requests: list[Secret] | None = None, enable_deck: bool | None = None,
                 disable_deck: bool | None = None, deck_fields: Any = DEFAULT_DECK_FIELDS,
                 pickle_untyped: bool = False, node_dependency_hints: Any = None):
        where = f"@{self.kind} {fn.__qualname__}"
        self.node_dependency_hints = options.dependency_hints(node_dependency_hints,
                                                              self.kind, where)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigError(f"{where}: retries must be an int >= 0, got {retries!r}")
        self.retries = retries
        self.timeout_s = options.timeout_seconds(timeout, where)
        self.requests, self.limits = options.resources(requests, limits, resources, where)
        self.image = options.image_name(container_image, where)
        self.secret_requests = options.secret_requests(secret_requests, where)
        self.enable_deck, self.deck_fields = deck_options(where, enable_deck, disable_deck,
                                                          deck_fields)
        super().__init__(fn, pickle_untyped)
        self.cache_options = cache_options(where, self.interface.inputs, cache, cache_version,
                                           cache_serialize, cache_ignore_input_vars,
                                           VersionParameters(fn, container_image))
        self.output_hashers = output_hashers(return_annotation(fn, where),
                                             list(self.interface.outputs))

    @property
    def cache(self) -> bool:
        return self.cache_options.enabled

    @property
    def cache_version(self) -> str:
        return self.cache_options.version

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        return NodeSpec(
            id=node_id, kind=self.kind,
            task=TaskRef(self.module, self.qualname, self.name, bundle),
            inputs_types=dict(self.interface.inputs), outputs_types=dict(self.interface.outputs),
            inputs=bindings, requests=self.requests.to_json(), limits=self.limits.to_json(),
            retries=self.retries, timeout_s=self.timeout_s, image=self.image,
            **self.cache_options.fields(),
        )

    def graph(self) -> GraphSpec:
        """One node running this task, so a bare task call runs through the engine."""
        iface = self.interface
        node = self.node_spec(self.name, {n: {"input": n} for n in iface.inputs})
        outputs = [OutputSpec(n, d, {"ref": [node.id, n]}) for n, d in iface.outputs.items()]
        return GraphSpec(self.name, dict(iface.inputs), [node], outputs, iface.style,
                         iface.namedtuple_ref)

    def run(self, values: dict[str, Any]) -> Any:
        return self.fn(**values)


class DynamicDef(TaskDef):
    """A `@dynamic`: its body runs at run time with real inputs and yields a sub-graph."""

    kind = "dynamic"

    def run(self, values: dict[str, Any]) -> Any:
        raise GraftError(f"{self.ref} is a dynamic: its body builds a sub-graph (expand)")

    def expand(self, values: dict[str, Any], store: Store, bundle: str | None) -> GraphSpec:
        """Run the body in compile mode: task calls inside return Promises."""
        builder = GraphBuilder(self.name, lambda: store, bundle=bundle, dynamic=True)
        with builder.active():
            result = self.fn(**values)
        return builder.finish(result, self.interface, f"dynamic {self.name!r}")


class WorkflowFailurePolicy(Enum):
    """What a failed node does to the rest of a workflow, as in flytekit."""

    FAIL_IMMEDIATELY = FAIL_IMMEDIATELY
    """Nothing new starts; running nodes are cancelled; the workflow fails (the default)."""
    FAIL_AFTER_EXECUTABLE_NODES_COMPLETE = FAIL_AFTER_EXECUTABLE_NODES_COMPLETE
    """Every node that does not depend on the failure runs to its end first."""


class WorkflowDef(Entity):
    """A `@workflow`: its body runs once, at compile time, with Promises for inputs.

    `failure_policy` (a WorkflowFailurePolicy) says what a failed node does to the rest;
    `on_failure` is a task or workflow run once when the workflow fails, with the workflow's
    inputs and, if it takes one, `err: Optional[FlyteError]` naming the failed node;
    `timeout` (seconds or a timedelta) ends an execution of it that runs longer, FAILED with
    a `WorkflowTimeout`."""

    kind = "workflow"

    def __init__(self, fn: Callable[..., Any], failure_policy: Any = None,
                 on_failure: Any = None, timeout: Any = None, pickle_untyped: bool = False):
        where = f"@workflow {fn.__qualname__}"
        self.timeout_s = options.timeout_seconds(timeout, where)
        if failure_policy is not None and not isinstance(failure_policy, WorkflowFailurePolicy):
            raise ConfigError(f"{where}: failure_policy must be a WorkflowFailurePolicy, got "
                              f"{failure_policy!r}")
        if on_failure is not None:
            check_handler(on_failure, where)
        self.failure_policy = (failure_policy or WorkflowFailurePolicy.FAIL_IMMEDIATELY).value
        self.on_failure = on_failure
        super().__init__(fn, pickle_untyped)
        self._spec: GraphSpec | None = None

    def compile(self) -> GraphSpec:
        """The workflow's graph spec (compiled once; CompileError on a faulty body). Its large
        literals and files are staged in memory (`sdk.values.staging`), not uploaded."""
        spec = self._spec
        if spec is None:
            builder = GraphBuilder(self.name, staged)
            args = {name: Promise({"input": name}, desc, f"input {name!r} of workflow "
                                  f"{self.name!r}")
                    for name, desc in self.interface.inputs.items()}
            with builder.active():
                result = self.fn(**args)
            spec = builder.finish(result, self.interface, f"workflow {self.name!r}")
            spec = dataclasses.replace(spec, failure_policy=self.failure_policy,
                                       on_failure=self._handler(builder),
                                       timeout_s=self.timeout_s)
            validate(spec)
            self._spec = spec
        return spec

    def graph(self) -> GraphSpec:
        return self.compile()

    def _handler(self, builder: GraphBuilder) -> NodeSpec | None:
        if self.on_failure is None:
            return None
        return failure_handler(self.on_failure, f"@workflow {self.name}",
                               self.interface.inputs, builder)


    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        return workflow_node(self, TaskRef(self.module, self.qualname, self.name, bundle),
                             node_id, bindings, bundle)


def check_handler(handler: Any, where: str) -> None:
    """ConfigError unless `handler` is a task or a workflow (what `on_failure` takes)."""
    if getattr(handler, "kind", None) not in ("task", "workflow") \
            or not hasattr(handler, "node_spec"):
        raise ConfigError(f"{where}: on_failure must be a @task or a @workflow, got "
                          f"{handler!r}")


def failure_handler(handler: Any, where: str, inputs: dict[str, TypeDesc],
                    builder: GraphBuilder) -> NodeSpec:
    """A workflow's failure handler node. As flytekit requires, the handler takes every input
    of the workflow, of the same type, bound to it; any other input it takes is Optional:
    `err` (an `Optional[FlyteError]`) receives the failure, the others their default (None
    when they have none). BindingError (an AssertionError, as flytekit's
    FlyteFailureNodeInputMismatchException) otherwise."""
    where = f"{where}: on_failure handler {handler.name!r}"
    rule = ("a failure handler takes every input of the workflow, of the same type, and "
            "optional inputs besides, such as err: Optional[FlyteError] = None (as in flytekit)")
    own = handler.interface.inputs
    missing = [name for name in inputs if name not in own]
    if missing:
        raise BindingError(f"{where}: takes no input {', '.join(map(repr, missing))} of the "
                           f"workflow; {rule}")
    bindings: dict[str, Binding] = {}
    for name, desc in own.items():
        if name == "err":
            if desc.get("t") != "optional" or not is_assignable(describe(FlyteError), desc):
                raise BindingError(f"{where}: input 'err' receives the failure, a FlyteError: "
                                   f"declare it err: Optional[FlyteError] = None, not "
                                   f"{type_name(desc)}")
            bindings[name] = {"input": "err"}
        elif name in inputs:
            if desc != inputs[name]:
                raise BindingError(f"{where}: input {name!r} is {type_name(desc)}, but the "
                                   f"workflow's is {type_name(inputs[name])}; {rule}")
            bindings[name] = {"input": name}
        elif desc.get("t") == "optional":
            value = handler.interface.defaults.get(name)
            bindings[name] = builder.to_binding(value, desc, where)
        else:
            raise BindingError(f"{where}: takes {name!r} ({type_name(desc)}), which the "
                               f"workflow does not have; {rule}")
    return handler.node_spec(FAILURE_HANDLER_ID, bindings)


def _decorator(cls: type[Entity], fn: Callable[..., Any] | None, given: dict[str, Any],
               known: tuple[str, ...]) -> Any:
    def make(f: Callable[..., Any]) -> Any:
        if not callable(f):
            raise CompileError(f"@{cls.kind} decorates a function, got {f!r}")
        options.check_names(f"@{cls.kind} {getattr(f, '__qualname__', f)}", given, known)
        if issubclass(cls, TaskDef):
            refuse_nested(f, cls.kind)
        return cls(f, **given)

    return make(fn) if fn is not None else make


def refuse_nested(fn: Callable[..., Any], kind: str) -> None:
    """CompileError for a task or dynamic defined inside a function, as flytekit refuses one
    (a ValueError): a worker finds a task by importing its module and reading the name. Test
    modules (`test_*`, `*_test`) may define them, and a module-level function wrapped with
    `functools.wraps` is not nested, as in flytekit."""
    code = getattr(fn, "__code__", None)
    if code is None or not code.co_flags & inspect.CO_NESTED:
        return
    if hasattr(fn, "__wrapped__") and fn.__name__ == fn.__qualname__:
        return
    module = str(getattr(fn, "__module__", "")).rpartition(".")[2]
    if module.startswith("test_") or module.endswith("_test"):
        return
    raise CompileError(f"@{kind} {fn.__qualname__}: a {kind} is defined at the top level of "
                       f"a module, so that a worker can import it, as flytekit requires (test "
                       f"modules, test_*.py and *_test.py, may define them inside functions)")


@overload
def task(_fn: F) -> TaskDef: ...
@overload
def task(*, cache: Any = ..., cache_version: str = ..., cache_serialize: bool = ...,
         cache_ignore_input_vars: Any = ..., retries: int = ...,
         timeout: int | float | datetime.timedelta | None = ...,
         requests: Resources | None = ..., limits: Resources | None = ...,
         secret_requests: list[Secret] | None = ...) -> Callable[[F], TaskDef]: ...
def task(_fn: Callable[..., Any] | None = None, **given: Any) -> Any:
    """Make a function a graft task, bare (`@task`) or with options (`@task(cache=True, ...)`).

    Options: cache (True or `Cache(version, serialize, ignored_inputs, salt, policies)`),
    cache_version, cache_serialize, cache_ignore_input_vars, retries, timeout (seconds or
    timedelta), requests and limits (`Resources`; `resources=` gives both: `cpu=("1", "2")`
    is a request and a limit, a single quantity the request only), container_image (recorded
    only: graft runs without containers), pickle_untyped (unannotated inputs and output are
    `typing.Any`), secret_requests (the `Secret`s the task reads with
    `current_context().secrets`; recorded, as flytekit's local runs the lookup does not
    depend on it). Raises ConfigError on a malformed or unknown option, CompileError on a
    function whose inputs lack type annotations.
    """
    return _decorator(TaskDef, _fn, given, options.TASK_OPTIONS)


def dynamic(_fn: Callable[..., Any] | None = None, **given: Any) -> Any:
    """Make a function a dynamic workflow; takes the same options as `task`, and flytekit's
    `node_dependency_hints` (the tasks, workflows and launch plans its body may call: checked
    and kept as `.node_dependency_hints`, as graft finds them by name when the body runs)."""
    return _decorator(DynamicDef, _fn, given, options.TASK_OPTIONS)


def workflow(_fn: Callable[..., Any] | None = None, **given: Any) -> Any:
    """Make a function a workflow: its body is compiled once, with Promises for values.

    Options: failure_policy (a WorkflowFailurePolicy), on_failure (a task or workflow run
    when it fails) and timeout (seconds or a timedelta, for a whole execution). ConfigError
    on a malformed or unknown option."""
    return _decorator(WorkflowDef, _fn, given, options.WORKFLOW_OPTIONS)
