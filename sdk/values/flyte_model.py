"""The base of flytekit's model classes as graft has them: plain Python objects with the
constructors and properties of `flytekit.models` (which wrap Flyte's protobuf messages), whose
`to_json()` is the JSON graft keeps and compares them by.

A message sets one of its fields (a `Literal` is a scalar, a collection or a map); JSON keeps
only the fields that are set, under flytekit's names.
"""

from __future__ import annotations

import json
from typing import Any


class FlyteModel:
    """Equal when their JSON is; hashable by it; shown as the class and its JSON."""

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def to_flyte_idl(self) -> dict[str, Any]:
        """flytekit's name for the serialized form: here, the JSON."""
        return self.to_json()

    @classmethod
    def from_flyte_idl(cls, data: dict[str, Any]) -> Any:
        return cls.from_json(data)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_json() == self.to_json()  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_json(), sort_keys=True, default=str))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({json.dumps(self.to_json(), sort_keys=True, default=str)})"

    def short_string(self) -> str:
        return repr(self)

    @property
    def is_empty(self) -> bool:
        return not self.to_json()


def set_fields(**fields: Any) -> dict[str, Any]:
    """The JSON of the fields that are set (not None), each model field as its JSON."""
    return {k: (v.to_json() if isinstance(v, FlyteModel) else v)
            for k, v in fields.items() if v is not None}
