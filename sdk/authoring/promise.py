"""Promises: placeholders for values that exist only when the graph runs."""

from __future__ import annotations

from typing import Any, NoReturn

from sdk.model.bindings import Binding
from sdk.model.errors import CompileError
from sdk.model.typesys import TypeDesc, type_name


class Promise:
    """The future output of a node (or an input of the workflow being compiled).

    Inside a `@workflow`, task calls return Promises: pass them to other tasks, return them,
    but do not loop over them, test them or take their length; their values do not exist yet.
    """

    __slots__ = ("binding", "label", "type")

    def __init__(self, binding: Binding, type_: TypeDesc, label: str):
        self.binding = binding
        self.type = type_
        self.label = label

    def __repr__(self) -> str:
        return f"Promise({self.label}: {type_name(self.type)})"

    def _refuse(self, what: str) -> NoReturn:
        raise CompileError(
            f"Promise {self.label} ({type_name(self.type)}) {what} at compile time: inside a "
            f"@workflow a task call returns a placeholder, and its value exists only when the "
            f"graph runs. Pass it to a task, or move this logic into a @dynamic workflow, "
            f"whose body runs with real values."
        )

    def __iter__(self) -> NoReturn:
        self._refuse("is not iterable")

    def __bool__(self) -> NoReturn:
        self._refuse("has no truth value")

    def __len__(self) -> NoReturn:
        self._refuse("has no length")

    def __getitem__(self, key: Any) -> NoReturn:
        self._refuse(f"cannot be indexed (with {key!r})")

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse(f"has no attribute {name!r}")

    def __eq__(self, other: object) -> NoReturn:  # type: ignore[override]
        self._refuse("cannot be compared")

    __hash__ = object.__hash__


def contains_promise(value: Any) -> bool:
    if isinstance(value, Promise):
        return True
    if isinstance(value, (list, tuple)):
        return any(contains_promise(v) for v in value)
    if isinstance(value, dict):
        return any(contains_promise(v) for v in value.values())
    return False
