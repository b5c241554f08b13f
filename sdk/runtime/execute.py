"""Running one node in this process: shared by the local runner and the workers."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from sdk.model.bindings import Binding
from sdk.model.entity import DYNAMIC, TASK, Runnable
from sdk.model.errors import StoreError, TypeConversionError
from sdk.model.spec import GraphSpec, NodeSpec
from sdk.model.store import Store
from sdk.values.literals import load, value_binding


@dataclass
class Outcome:
    """What running a node gave: values, a sub-graph, or an error."""

    kind: str  # "values" | "subgraph" | "error"
    outputs: dict[str, Binding] | None = None
    subgraph: GraphSpec | None = None
    error: dict[str, Any] | None = None
    retriable: bool = True
    exception: BaseException | None = None


def load_inputs(spec: NodeSpec, inputs: dict[str, Binding], store: Store) -> dict[str, Any]:
    return {
        name: load(b, spec.inputs_types[name], store,
                   f"input {name!r} of task {spec.task.name!r} (node {spec.id!r})")
        for name, b in inputs.items()
    }


def error_info(exc: BaseException, skip_frames: int = 0) -> dict[str, Any]:
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, tb)),
    }


def execute(spec: NodeSpec, entity: Runnable, inputs: dict[str, Binding], store: Store,
            bundle: str | None = None) -> Outcome:
    """Run `entity` for node `spec` with resolved `inputs`; never raises for user errors."""
    try:
        values = load_inputs(spec, inputs, store)
    except StoreError as exc:
        return Outcome("error", error=error_info(exc), retriable=True)
    except Exception as exc:  # GraftError, or a value that cannot be rebuilt (unpickling...)
        return Outcome("error", error=error_info(exc), retriable=False)
    if entity.kind == DYNAMIC:
        try:
            sub = entity.expand(values, store, bundle)
        except Exception as exc:
            return Outcome("error", error=error_info(exc, skip_frames=2), exception=exc)
        return Outcome("subgraph", subgraph=sub)
    if entity.kind != TASK:
        return Outcome("error", error={"type": "GraftError", "message":
                       f"{entity.ref} is a {entity.kind}, which does not run on a worker"},
                       retriable=False)
    try:
        result = entity.run(values)
    except Exception as exc:
        return Outcome("error", error=error_info(exc, skip_frames=2), exception=exc)
    try:
        return Outcome("values", outputs=_encode_outputs(spec, entity, result, store))
    except StoreError as exc:
        return Outcome("error", error=error_info(exc), retriable=True)
    except Exception as exc:  # TypeConversionError, or a value JSON cannot hold
        return Outcome("error", error=error_info(exc), retriable=False)


def _encode_outputs(spec: NodeSpec, entity: Runnable, result: Any,
                    store: Store) -> dict[str, Binding]:
    iface = entity.interface
    names = list(iface.outputs)
    where = f"task {spec.task.name!r} (node {spec.id!r})"
    if iface.style == "none":
        values: list[Any] = []
    elif iface.style == "single":
        values = [result]
    else:
        if not isinstance(result, (tuple, list)) or len(result) != len(names):
            got = len(result) if isinstance(result, (tuple, list)) else 1
            raise TypeConversionError(f"{where} declares {len(names)} outputs "
                                      f"({', '.join(names)}) but returned {got} value(s)")
        values = list(result)
    return {name: value_binding(v, iface.outputs[name], store, f"output {name!r} of {where}")
            for name, v in zip(names, values)}
