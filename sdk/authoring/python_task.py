"""Task classes of the user's, as flytekit's `PythonTask`: a class with an `execute` method and
an `Interface`, made into a task by creating an instance.

    class WaitForFile(PythonTask):
        def __init__(self, name: str, **kwargs):
            super().__init__(task_type="sensor", name=name,
                             interface=Interface(inputs={"path": str}, outputs={"path": str}),
                             **kwargs)
        def execute(self, **kwargs):
            return kwargs["path"]

    sensor = WaitForFile(name="my-sensor", metadata=TaskMetadata(retries=3))

    @workflow
    def wf(path: str) -> str:
        return sensor(path=path)

The instance is a graft task named `name`, defined in the module that creates it (a worker
finds it by importing that module, as it finds an `Echo`). `TaskMetadata` carries its retries,
timeout and cache settings; `requests`, `limits` and `container_image` are taken as `@task`
takes them.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sdk.authoring import options
from sdk.authoring.entities import TaskDef
from sdk.model.errors import ConfigError
from sdk.values.flyte_context import FlyteContextManager

T = TypeVar("T")


class Interface:
    """Inputs (name -> type, or name -> (type, default)) and outputs (name -> type) of a
    task class, as flytekit's `Interface`."""

    def __init__(self, inputs: dict[str, Any] | None = None,
                 outputs: dict[str, Any] | None = None,
                 output_tuple_name: str | None = None, docstring: Any = None):
        self._inputs: dict[str, tuple[Any, Any]] = {}
        for k, v in (inputs or {}).items():
            if not k.isidentifier():
                raise ValueError(f"Input name must be a valid Python identifier: {k!r}")
            self._inputs[k] = v if type(v) is tuple and len(v) > 1 else (v, None)
        self._outputs: dict[str, Any] = dict(outputs or {})
        self._output_tuple_name = output_tuple_name
        self._docstring = docstring

    @property
    def inputs(self) -> dict[str, Any]:
        return {k: v[0] for k, v in self._inputs.items()}

    @property
    def inputs_with_defaults(self) -> dict[str, tuple[Any, Any]]:
        return dict(self._inputs)

    @property
    def default_inputs_as_kwargs(self) -> dict[str, Any]:
        return {k: v[1] for k, v in self._inputs.items() if v[1] is not None}

    @property
    def outputs(self) -> dict[str, Any]:
        return dict(self._outputs)

    @property
    def output_tuple_name(self) -> str | None:
        return self._output_tuple_name

    @property
    def docstring(self) -> Any:
        return self._docstring

    def remove_inputs(self, vars: list[str] | None) -> Interface:
        return Interface({k: v for k, v in self._inputs.items() if k not in (vars or [])},
                         self._outputs, self._output_tuple_name, self._docstring)

    def with_inputs(self, extra_inputs: dict[str, Any]) -> Interface:
        return Interface({**self._inputs, **extra_inputs}, self._outputs,
                         self._output_tuple_name, self._docstring)

    def with_outputs(self, extra_outputs: dict[str, Any]) -> Interface:
        return Interface(self._inputs, {**self._outputs, **extra_outputs},
                         self._output_tuple_name, self._docstring)

    def __repr__(self) -> str:
        return f"Interface(inputs={self.inputs!r}, outputs={self._outputs!r})"


# TaskMetadata fields graft has no use for, and why (the @task option of the same name says so).
_UNUSED_METADATA = {"interruptible": None, "pod_template_name": None, "labels": None,
                    "annotations": None, "deprecated": "", "generates_deck": False,
                    "is_eager": False}


@dataclasses.dataclass
class TaskMetadata:
    """A task class's retries, timeout and cache settings (flytekit's; the other fields must
    keep their defaults: graft has no use for them)."""

    cache: bool = False
    cache_serialize: bool = False
    cache_version: str = ""
    cache_ignore_input_vars: tuple[str, ...] = ()
    interruptible: bool | None = None
    deprecated: str = ""
    retries: int = 0
    timeout: datetime.timedelta | int | None = None
    pod_template_name: str | None = None
    generates_deck: bool = False
    is_eager: bool = False
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.timeout:
            if isinstance(self.timeout, int):
                self.timeout = datetime.timedelta(seconds=self.timeout)
            elif not isinstance(self.timeout, datetime.timedelta):
                raise ValueError("timeout should be duration represented as either a "
                                 "datetime.timedelta or int seconds")
        if self.cache and not self.cache_version:
            raise ValueError("Caching is enabled ``cache=True`` but ``cache_version`` is not "
                             "set.")
        if self.cache_serialize and not self.cache:
            raise ValueError("Cache serialize is enabled ``cache_serialize=True`` but "
                             "``cache`` is not enabled.")
        if self.cache_ignore_input_vars and not self.cache:
            raise ValueError(f"Cache ignore input vars are specified "
                             f"``cache_ignore_input_vars={self.cache_ignore_input_vars}`` but "
                             f"``cache`` is not enabled.")

    @property
    def retry_strategy(self) -> Any:
        from sdk.values.flyte_literals import RetryStrategy

        return RetryStrategy(self.retries)

    def task_options(self, where: str) -> dict[str, Any]:
        """What `@task` takes for these settings; ConfigError for one graft has no use for."""
        for name, default in _UNUSED_METADATA.items():
            if getattr(self, name) != default:
                why = options.UNSUPPORTED.get(name, "graft has no use for it")
                raise ConfigError(f"{where}: TaskMetadata({name}=...) is a flytekit setting "
                                  f"that graft does not take: {why}")
        given: dict[str, Any] = {"retries": self.retries, "timeout": self.timeout}
        if self.cache:
            given.update(cache=True, cache_version=self.cache_version,
                         cache_serialize=self.cache_serialize,
                         cache_ignore_input_vars=tuple(self.cache_ignore_input_vars))
        return given


def _caller_module(task: Any) -> str:
    """The module that creates `task`: the first frame outside its classes' `__init__`s."""
    here = inspect.currentframe()
    frame = here.f_back if here is not None else None
    try:
        while frame is not None:
            if not (frame.f_code.co_name == "__init__" and frame.f_locals.get("self") is task):
                return str(frame.f_globals.get("__name__", "__main__"))
            frame = frame.f_back
    finally:
        del frame, here
    return "__main__"


def _instance_function(task: PythonTask, name: str, iface: Interface,
                       module: str) -> Callable[..., Any]:
    """A function with the task's interface as its signature, calling its `execute`."""
    params = []
    for k, (tp, default) in iface.inputs_with_defaults.items():
        params.append(inspect.Parameter(
            k, inspect.Parameter.KEYWORD_ONLY, annotation=tp,
            default=inspect.Parameter.empty if default is None else default))
    types = list(iface.outputs.values())
    returns: Any = types[0] if len(types) == 1 else tuple(types) if types else None

    def run(**values: Any) -> Any:
        return task.dispatch(values)

    run.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    run.__annotations__ = {**{k: v[0] for k, v in iface.inputs_with_defaults.items()},
                           "return": returns}
    run.__name__ = run.__qualname__ = name
    run.__module__ = module
    run.__doc__ = type(task).__doc__
    return run


# the @task options a task class may pass on (the rest come from its TaskMetadata)
_PASSED_ON = tuple(o for o in options.TASK_OPTIONS if o not in (
    "cache", "cache_version", "cache_serialize", "cache_ignore_input_vars", "retries",
    "timeout"))


class PythonTask(TaskDef, Generic[T]):
    """A task whose body is the `execute` method of a class (flytekit's base for task
    plugins). Subclasses call `super().__init__(task_type=..., name=..., interface=...)` and
    implement `execute(**kwargs)`."""

    def __init__(self, task_type: str, name: str, task_config: T | None = None,
                 interface: Interface | None = None,
                 environment: dict[str, str] | None = None,
                 metadata: TaskMetadata | None = None, **kwargs: Any):
        where = f"task {name!r} ({type(self).__name__})"
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{type(self).__name__}: name must be a non-empty string, got "
                              f"{name!r}")
        self._task_type = task_type
        self._task_config = task_config
        self._python_interface = interface if interface is not None else Interface()
        self._metadata = metadata if metadata is not None else TaskMetadata()
        self._environment = dict(environment or {})
        for ignored in ("docs", "task_type_version", "security_ctx", "task_resolver"):
            kwargs.pop(ignored, None)  # graft has no docs or resolvers to give them to
        given = {k: v for k, v in kwargs.items()
                 if v is not None and (v is not False or k == "disable_deck")}
        if self._environment:
            given["environment"] = self._environment
        options.check_names(where, given, _PASSED_ON)
        given.update(self._metadata.task_options(where))
        module = _caller_module(self)
        super().__init__(_instance_function(self, name, self._python_interface, module),
                         **given)

    @property
    def task_type(self) -> str:
        return self._task_type

    @property
    def task_config(self) -> T | None:
        return self._task_config

    @property
    def python_interface(self) -> Interface:
        return self._python_interface

    @property
    def metadata(self) -> TaskMetadata:
        return self._metadata

    @property
    def environment(self) -> dict[str, str]:
        return dict(self._environment)

    def get_type_for_input_var(self, k: str, v: Any) -> Any:
        return self._python_interface.inputs[k]

    def get_type_for_output_var(self, k: str, v: Any) -> Any:
        return self._python_interface.outputs[k]

    def pre_execute(self, user_params: Any) -> Any:
        """Called before `execute` with the execution parameters; may return new ones."""
        return user_params

    def execute(self, **kwargs: Any) -> Any:
        """The task's body: its inputs by name in, its output (a tuple for several) out."""
        raise NotImplementedError(f"{type(self).__name__} must implement execute(**kwargs)")

    def post_execute(self, user_params: Any, rval: Any) -> Any:
        """Called with what `execute` returned; returns the task's output."""
        return rval

    def dispatch(self, values: dict[str, Any]) -> Any:
        params = FlyteContextManager.current_context().user_space_params
        params = self.pre_execute(params) or params
        return self.post_execute(params, self.execute(**values))


class PythonInstanceTask(PythonTask[T]):
    """A task class with a platform-defined `execute` and no user function (flytekit's),
    task type "python-task" unless given."""

    def __init__(self, name: str, task_config: T | None = None,
                 task_type: str = "python-task", task_resolver: Any = None, **kwargs: Any):
        super().__init__(task_type=task_type, name=name, task_config=task_config, **kwargs)
