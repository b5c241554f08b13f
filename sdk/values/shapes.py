"""A run's inputs and outputs as a whole: input values by name <-> bindings, and finished
outputs shaped as flytekit returns them (one value or a named tuple)."""

from __future__ import annotations

import collections
import functools
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
    """Native values of a finished graph's outputs, as flytekit returns them: None, one
    value, or a named tuple (see `shape_values`)."""
    values = [load(outputs[o.name], o.type, store, f"output {o.name!r} of {spec.name!r}")
              for o in spec.outputs]
    return shape_values(spec.output_style, spec.output_ref, [o.name for o in spec.outputs],
                        values)


def _is_namedtuple(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


@functools.cache
def named_outputs(name: str, fields: tuple[str, ...]) -> type:
    """The named tuple class `name` with `fields`: what flytekit returns for several
    unnamed outputs (`DefaultNamedTupleOutput`, fields o0, o1, ...) and, here, for a
    NamedTuple whose class cannot be imported."""
    return collections.namedtuple(name, fields)  # type: ignore[misc]


DEFAULT_OUTPUTS = "DefaultNamedTupleOutput"


def shown(result: Any) -> str:
    """How the command line prints a call's outputs: their repr, several unnamed outputs as a
    plain tuple (their names o0, o1, ... say nothing)."""
    if isinstance(result, tuple) and type(result) is named_outputs(
            DEFAULT_OUTPUTS, getattr(result, "_fields", ())):
        return repr(tuple(result))
    return repr(result)


def shape_values(style: str, ref: str | None, names: list[str], values: list[Any]) -> Any:
    """None, the one value, or a named tuple: the declared NamedTuple (one of its name and
    fields when its class cannot be imported here), or for several unnamed outputs
    (`-> (A, B)`, `Tuple[A, B]`) `DefaultNamedTupleOutput(o0=..., o1=...)`, as flytekit."""
    if style == "none":
        return None
    if style == "single":
        return values[0]
    if style == "namedtuple" and ref:
        try:
            return resolve_class(ref, _is_namedtuple, "a NamedTuple", "outputs")(*values)
        except GraftError:
            return named_outputs(ref.rpartition(".")[2].rpartition(":")[2], tuple(names))(
                *values)
    return named_outputs(DEFAULT_OUTPUTS, tuple(names))(*values)
