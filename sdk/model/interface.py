"""Typed interfaces: the inputs and outputs of a task, dynamic or workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sdk.model.errors import TypeConversionError
from sdk.model.typesys import TypeDesc, qualified_name


@dataclass(frozen=True)
class Interface:
    """Inputs (name -> type, with defaults) and outputs of a task, dynamic or workflow.

    `style` says how outputs map to Python: "none", "single" (one output `o0`), "tuple"
    (`o0`, `o1`, ... from `-> (A, B)` or `Tuple[A, B]`) or "namedtuple" (named fields).
    """

    inputs: dict[str, TypeDesc]
    outputs: dict[str, TypeDesc]
    style: str
    defaults: dict[str, Any] = field(default_factory=dict)
    namedtuple: type | None = None

    @property
    def namedtuple_ref(self) -> str | None:
        return qualified_name(self.namedtuple) if self.namedtuple else None

    def output_values(self, result: Any, what: str) -> list[Any]:
        """What a body or task returned, as one value per declared output; a NamedTuple with
        one field may be returned as that field's plain value, as in flytekit.
        TypeConversionError names `what` when the count does not fit."""
        names = list(self.outputs)
        if self.style == "none":
            if result is not None:
                raise TypeConversionError(f"{what} declares no outputs but returned "
                                          f"{result!r}; add a return annotation")
            return []
        if self.style == "single":
            return [result]
        if self.style == "namedtuple" and len(names) == 1 and not (
                isinstance(result, tuple) and len(result) == 1):
            return [result]
        if not isinstance(result, (tuple, list)) or len(result) != len(names):
            got = len(result) if isinstance(result, (tuple, list)) else 1
            raise TypeConversionError(f"{what} declares {len(names)} outputs "
                                      f"({', '.join(names)}) but returned {got} value(s)")
        return list(result)
