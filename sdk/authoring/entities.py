"""`@task`, `@dynamic` and `@workflow`, and the objects they make."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any, TypeVar, overload

from sdk.authoring.compiler import GraphBuilder, bind_arguments, current_builder
from sdk.authoring.interface import read_interface
from sdk.authoring.promise import Promise
from sdk.model import entity as registry
from sdk.model.bindings import Binding
from sdk.model.config import Settings
from sdk.model.errors import CompileError, ConfigError, GraftError
from sdk.model.interface import Interface
from sdk.model.resources import Resources
from sdk.model.spec import GraphSpec, NodeSpec, OutputSpec, TaskRef, validate, with_bundle
from sdk.model.store import Store
from sdk.values.store import open_store

F = TypeVar("F", bound=Callable[..., Any])


class Entity:
    """What the decorators return: callable like the function, compiled into graphs."""

    kind = ""

    def __init__(self, fn: Callable[..., Any]):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name: str = fn.__name__
        self.module: str = fn.__module__
        self.qualname: str = fn.__qualname__
        self.interface: Interface = read_interface(fn, self.kind)
        registry.register(self)

    @property
    def ref(self) -> str:
        return f"{self.module}:{self.qualname}"

    def __repr__(self) -> str:
        return f"<graft {self.kind} {self.ref}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is not None:
            return builder.add_call(self, args, kwargs)
        return registry.run_locally(self, args, kwargs)

    def bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        return bind_arguments(self, args, kwargs)

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

    def __init__(self, fn: Callable[..., Any], *, cache: bool = False, cache_version: str = "",
                 retries: int = 0, timeout: int | float | datetime.timedelta | None = None,
                 requests: Resources | None = None, limits: Resources | None = None):
        where = f"@{self.kind} {fn.__qualname__}"
        if not isinstance(cache, bool):
            raise ConfigError(f"{where}: cache must be True or False, got {cache!r}")
        if not isinstance(cache_version, str):
            raise ConfigError(f"{where}: cache_version must be a string, got {cache_version!r}")
        if cache and not cache_version:
            raise ConfigError(f"{where}: cache=True needs a cache_version (e.g. '0.1') so that "
                              f"changing the code can invalidate old results")
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigError(f"{where}: retries must be an int >= 0, got {retries!r}")
        for label, res in (("requests", requests), ("limits", limits)):
            if res is not None and not isinstance(res, Resources):
                raise ConfigError(f"{where}: {label} must be Resources(...), got {res!r}")
        self.cache = cache
        self.cache_version = cache_version
        self.retries = retries
        self.timeout_s = _timeout_seconds(timeout, where)
        self.requests = requests or Resources()
        self.limits = limits or Resources()
        super().__init__(fn)

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        return NodeSpec(
            id=node_id, kind=self.kind,
            task=TaskRef(self.module, self.qualname, self.name, bundle),
            inputs_types=dict(self.interface.inputs), outputs_types=dict(self.interface.outputs),
            inputs=bindings, requests=self.requests.to_json(), limits=self.limits.to_json(),
            cache=self.cache, cache_version=self.cache_version, retries=self.retries,
            timeout_s=self.timeout_s,
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
        builder = GraphBuilder(self.name, lambda: store, bundle=bundle)
        with builder.active():
            result = self.fn(**values)
        return builder.finish(result, self.interface, f"dynamic {self.name!r}")


class WorkflowDef(Entity):
    """A `@workflow`: its body runs once, at compile time, with Promises for inputs."""

    kind = "workflow"

    def __init__(self, fn: Callable[..., Any]):
        super().__init__(fn)
        # Compiled once per store: large literals in the body are offloaded to the store, so a
        # spec compiled against one GRAFT_STORE refers to objects that another store lacks.
        self._specs: dict[str, GraphSpec] = {}

    def compile(self) -> GraphSpec:
        """The workflow's graph spec (compiled once per store; CompileError on a faulty body)."""
        url = Settings.from_env().store_url
        spec = self._specs.get(url)
        if spec is None:
            builder = GraphBuilder(self.name, lambda: open_store(url))
            args = {name: Promise({"input": name}, desc, f"input {name!r} of workflow "
                                  f"{self.name!r}")
                    for name, desc in self.interface.inputs.items()}
            with builder.active():
                result = self.fn(**args)
            spec = builder.finish(result, self.interface, f"workflow {self.name!r}")
            validate(spec)
            self._specs[url] = spec
        return spec

    def graph(self) -> GraphSpec:
        return self.compile()

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        # Inside a dynamic (on a worker) the sub-workflow's tasks come from the same bundle.
        subgraph = self.compile()
        return NodeSpec(
            id=node_id, kind="workflow",
            task=TaskRef(self.module, self.qualname, self.name, bundle),
            inputs_types=dict(self.interface.inputs), outputs_types=dict(self.interface.outputs),
            inputs=bindings, subgraph=with_bundle(subgraph, bundle) if bundle else subgraph,
        )


def _timeout_seconds(timeout: Any, where: str) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        return timeout.total_seconds()
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
        return float(timeout)
    raise ConfigError(f"{where}: timeout must be seconds > 0 or a timedelta, got {timeout!r}")


def _decorator(cls: type[TaskDef], fn: Callable[..., Any] | None, options: dict[str, Any]) -> Any:
    if fn is not None:
        if not callable(fn):
            raise CompileError(f"@{cls.kind} decorates a function, got {fn!r}")
        return cls(fn, **options)
    return lambda f: cls(f, **options)


@overload
def task(_fn: F) -> TaskDef: ...
@overload
def task(*, cache: bool = ..., cache_version: str = ..., retries: int = ...,
         timeout: int | float | datetime.timedelta | None = ...,
         requests: Resources | None = ..., limits: Resources | None = ...
         ) -> Callable[[F], TaskDef]: ...
def task(_fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make a function a graft task, bare (`@task`) or with options (`@task(cache=True, ...)`).

    Options: cache, cache_version, retries, timeout (seconds or timedelta), requests and
    limits (`Resources`). Raises ConfigError on a malformed option, CompileError on a function
    whose inputs lack type annotations.
    """
    return _decorator(TaskDef, _fn, options)


def dynamic(_fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Make a function a dynamic workflow; takes the same options as `task`."""
    return _decorator(DynamicDef, _fn, options)


def workflow(_fn: Callable[..., Any] | None = None) -> Any:
    """Make a function a workflow: its body is compiled once, with Promises for values."""
    if _fn is None:
        return workflow
    if not callable(_fn):
        raise CompileError(f"@workflow decorates a function, got {_fn!r}")
    return WorkflowDef(_fn)
