"""Running one node in this process: shared by the local runner and the workers."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

from sdk.entities import DynamicDef, Entity, TaskDef
from sdk.errors import StoreError, TypeConversionError
from sdk.literals import decode, encode, from_ref, to_ref
from sdk.spec import Binding, GraphSpec, NodeSpec
from sdk.store import Store


@dataclass
class Outcome:
    """What running a node gave: values, a sub-graph, or an error."""

    kind: str  # "values" | "subgraph" | "error"
    outputs: dict[str, Binding] | None = None
    subgraph: GraphSpec | None = None
    error: dict[str, Any] | None = None
    retriable: bool = True
    exception: BaseException | None = None


def materialize(binding: Binding, store: Store) -> Any:
    """The literal a resolved binding stands for (store objects fetched)."""
    if "val" in binding:
        return from_ref(binding["val"], store)
    if "list" in binding:
        return [materialize(b, store) for b in binding["list"]]
    if "dict" in binding:
        return {k: materialize(b, store) for k, b in binding["dict"].items()}
    raise StoreError(f"binding {binding!r} is not resolved")


def load_inputs(spec: NodeSpec, inputs: dict[str, Binding], store: Store) -> dict[str, Any]:
    return {
        name: decode(materialize(b, store), spec.inputs_types[name], store,
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


def execute(spec: NodeSpec, entity: Entity, inputs: dict[str, Binding], store: Store,
            bundle: str | None = None) -> Outcome:
    """Run `entity` for node `spec` with resolved `inputs`; never raises for user errors."""
    try:
        values = load_inputs(spec, inputs, store)
    except StoreError as exc:
        return Outcome("error", error=error_info(exc), retriable=True)
    except Exception as exc:  # GraftError, or a value that cannot be rebuilt (unpickling...)
        return Outcome("error", error=error_info(exc), retriable=False)
    if isinstance(entity, DynamicDef):
        try:
            sub = entity.compile_dynamic(values, store, bundle)
        except Exception as exc:
            return Outcome("error", error=error_info(exc, skip_frames=2), exception=exc)
        return Outcome("subgraph", subgraph=sub)
    if not isinstance(entity, TaskDef):
        return Outcome("error", error={"type": "GraftError", "message":
                       f"{entity.ref} is a {entity.kind}, which does not run on a worker"},
                       retriable=False)
    try:
        result = entity.fn(**values)
    except Exception as exc:
        return Outcome("error", error=error_info(exc, skip_frames=1), exception=exc)
    try:
        return Outcome("values", outputs=_encode_outputs(spec, entity, result, store))
    except StoreError as exc:
        return Outcome("error", error=error_info(exc), retriable=True)
    except Exception as exc:  # TypeConversionError, or a value JSON cannot hold
        return Outcome("error", error=error_info(exc), retriable=False)


def _encode_outputs(spec: NodeSpec, entity: TaskDef, result: Any,
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
    return {
        name: {"val": to_ref(encode(v, iface.outputs[name], store, f"output {name!r} of {where}"),
                             store)}
        for name, v in zip(names, values)
    }
