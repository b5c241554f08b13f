"""`Echo`: a task whose outputs are its inputs, as flytekit's `Echo` (a no-op branch of a
conditional, say).

    echo = Echo(name="echo", inputs={"radius": float})
    conditional("c").if_(x > 0).then(compute(x=x)).else_().then(echo(radius=x))

flytekit runs it inside its engine without a container; graft runs it as a task, which costs
one dispatch. Several Echos of one name in a module may take different inputs, as in
flytekit: each is registered under a reference of its own (`echo`, `echo-1`, ...), in the
order the module makes them, so that a worker importing the module finds each again.
"""

from __future__ import annotations

import inspect
from typing import Any

from sdk.authoring.entities import TaskDef
from sdk.model import entity as registry
from sdk.model.errors import ConfigError


def _echo_function(name: str, inputs: dict[str, Any], module: str, qualname: str) -> Any:
    params = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, annotation=t)
              for k, t in inputs.items()]
    types = list(inputs.values())
    returns = types[0] if len(types) == 1 else tuple[tuple(types)] if types else None

    def echo(**values: Any) -> Any:
        out = [values[k] for k in inputs]
        return out[0] if len(out) == 1 else tuple(out) if out else None

    echo.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    echo.__annotations__ = {**inputs, "return": returns}
    echo.__name__ = name
    echo.__qualname__ = qualname
    echo.__module__ = module
    return echo


class Echo(TaskDef):
    """A task named `name` with `inputs` (name -> type) that returns them, in order."""

    def __init__(self, name: str, inputs: dict[str, Any] | None = None, **options: Any):
        if not name.isidentifier():
            raise ConfigError(f"Echo: name must be a Python identifier, got {name!r}")
        frame = inspect.currentframe()
        caller = frame.f_back if frame is not None else None
        module = caller.f_globals.get("__name__", "__main__") if caller else "__main__"
        inputs = dict(inputs or {})
        qualname, n = name, 0
        while (known := registry.lookup(f"{module}:{qualname}")) is not None \
                and getattr(known, "echo_inputs", None) != inputs:
            n += 1
            qualname = f"{name}-{n}"  # another Echo (or task) of this name, with other inputs
        self.echo_inputs = inputs
        super().__init__(_echo_function(name, inputs, module, qualname), **options)
