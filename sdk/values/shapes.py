"""A run's inputs and outputs as a whole: input values by name <-> bindings, and finished
outputs shaped as Python returns them (one value, a tuple or a NamedTuple)."""

from __future__ import annotations

from typing import Any

from sdk.model.bindings import Binding
from sdk.model.entity import Runnable
from sdk.model.errors import GraftError, TypeConversionError
from sdk.model.spec import GraphSpec
from sdk.model.store import Store
from sdk.values.handlers import resolve_class
from sdk.values.literals import load, value_binding


def encode_inputs(entity: Runnable, values: dict[str, Any], store: Store) -> dict[str, Binding]:
    """Input values as bindings, checked against the entity's interface."""
    iface = entity.interface
    try:
        return {name: value_binding(v, iface.inputs[name], store,
                                    f"input {name!r} of {entity.kind} {entity.name!r}")
                for name, v in values.items()}
    except TypeConversionError:
        raise
    except GraftError as exc:
        raise TypeConversionError(str(exc)) from exc


def shape_outputs(spec: GraphSpec, outputs: dict[str, Binding], store: Store) -> Any:
    """Native values of a finished graph's outputs: None, one value, a tuple or a NamedTuple."""
    values = [load(outputs[o.name], o.type, store, f"output {o.name!r} of {spec.name!r}")
              for o in spec.outputs]
    return shape_values(spec.output_style, spec.output_ref, values)


def _is_namedtuple(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


def shape_values(style: str, ref: str | None, values: list[Any]) -> Any:
    if style == "none":
        return None
    if style == "single":
        return values[0]
    if style == "namedtuple" and ref:
        try:
            return resolve_class(ref, _is_namedtuple, "a NamedTuple", "outputs")(*values)
        except GraftError:
            pass
    return tuple(values)
