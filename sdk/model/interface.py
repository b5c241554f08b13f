"""Typed interfaces: the inputs and outputs of a task, dynamic or workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
