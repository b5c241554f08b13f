"""flytekit's type models (`flytekit.models.types`, `flytekit.models.core.types`): what a
`TypeTransformer.get_literal_type` returns.

    LiteralType(simple=SimpleType.INTEGER)
    LiteralType(blob=BlobType(format="binary", dimensionality=BlobType.BlobDimensionality.SINGLE))
    LiteralType(structured_dataset_type=StructuredDatasetType(format="parquet"))

graft keeps a transformer's literal type in the task's type descriptor (its JSON), where two
values of the same literal type may bind to each other as in Flyte.
"""

from __future__ import annotations

import base64
from typing import Any

from sdk.values.flyte_model import FlyteModel, set_fields


class SimpleType:
    """Flyte's simple types, with their protobuf enum numbers."""

    NONE = 0
    INTEGER = 1
    FLOAT = 2
    STRING = 3
    BOOLEAN = 4
    DATETIME = 5
    DURATION = 6
    BINARY = 7
    ERROR = 8
    STRUCT = 9


class BlobType(FlyteModel):
    """A blob's format (any string, "" for any) and whether it is one file or a folder."""

    class BlobDimensionality:
        SINGLE = 0
        MULTIPART = 1

    def __init__(self, format: str, dimensionality: int):
        self._format = format
        self._dimensionality = dimensionality

    @property
    def format(self) -> str:
        return self._format

    @property
    def dimensionality(self) -> int:
        return self._dimensionality

    def to_json(self) -> dict[str, Any]:
        return {"format": self._format, "dimensionality": int(self._dimensionality)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BlobType:
        return cls(data.get("format", ""), int(data.get("dimensionality", 0)))


class EnumType(FlyteModel):
    def __init__(self, values: list[str]):
        self._values = list(values)

    @property
    def values(self) -> list[str]:
        return self._values

    def to_json(self) -> dict[str, Any]:
        return {"values": list(self._values)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EnumType:
        return cls(list(data.get("values", [])))


class UnionType(FlyteModel):
    def __init__(self, variants: list[LiteralType]):
        self._variants = list(variants)

    @property
    def variants(self) -> list[LiteralType]:
        return self._variants

    def to_json(self) -> dict[str, Any]:
        return {"variants": [v.to_json() for v in self._variants]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnionType:
        return cls([LiteralType.from_json(v) for v in data.get("variants", [])])


class StructuredDatasetType(FlyteModel):
    """A table's columns (each a name and a LiteralType) and its storage format."""

    class DatasetColumn(FlyteModel):
        def __init__(self, name: str, literal_type: LiteralType):
            self._name = name
            self._literal_type = literal_type

        @property
        def name(self) -> str:
            return self._name

        @property
        def literal_type(self) -> LiteralType:
            return self._literal_type

        def to_json(self) -> dict[str, Any]:
            return {"name": self._name, "literal_type": self._literal_type.to_json()}

        @classmethod
        def from_json(cls, data: dict[str, Any]) -> StructuredDatasetType.DatasetColumn:
            return cls(data["name"], LiteralType.from_json(data.get("literal_type", {})))

    def __init__(self, columns: list[DatasetColumn] | None = None, format: str = "",
                 external_schema_type: str | None = None,
                 external_schema_bytes: bytes | None = None):
        self._columns = columns
        self._format = format
        self._external_schema_type = external_schema_type
        self._external_schema_bytes = external_schema_bytes

    @property
    def columns(self) -> list[DatasetColumn]:
        return self._columns  # type: ignore[return-value]

    @columns.setter
    def columns(self, value: list[DatasetColumn]) -> None:
        self._columns = value

    @property
    def format(self) -> str:
        return self._format

    @format.setter
    def format(self, format: str) -> None:
        self._format = format

    @property
    def external_schema_type(self) -> str | None:
        return self._external_schema_type

    @property
    def external_schema_bytes(self) -> bytes | None:
        return self._external_schema_bytes

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self._format or ""}
        if self._columns:
            out["columns"] = [c.to_json() for c in self._columns]
        if self._external_schema_type:
            out["external_schema_type"] = self._external_schema_type
        if self._external_schema_bytes:
            out["external_schema_bytes"] = base64.b64encode(self._external_schema_bytes).decode()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StructuredDatasetType:
        raw = data.get("external_schema_bytes")
        return cls([cls.DatasetColumn.from_json(c) for c in data.get("columns", [])],
                   data.get("format", ""), data.get("external_schema_type"),
                   base64.b64decode(raw) if raw else None)


class LiteralType(FlyteModel):
    """The type of a literal: one of simple, collection_type, map_value_type, blob, enum_type,
    union_type or structured_dataset_type, with optional metadata (a JSON object)."""

    def __init__(self, simple: int | None = None, schema: Any = None,
                 collection_type: LiteralType | None = None,
                 map_value_type: LiteralType | None = None, blob: BlobType | None = None,
                 enum_type: EnumType | None = None, union_type: UnionType | None = None,
                 structured_dataset_type: StructuredDatasetType | None = None,
                 metadata: dict[str, Any] | None = None, structure: Any = None,
                 annotation: Any = None):
        self._simple = simple
        self._schema = schema
        self._collection_type = collection_type
        self._map_value_type = map_value_type
        self._blob = blob
        self._enum_type = enum_type
        self._union_type = union_type
        self._structured_dataset_type = structured_dataset_type
        self._metadata = metadata
        self._structure = structure
        self._annotation = annotation

    simple = property(lambda self: self._simple)
    schema = property(lambda self: self._schema)
    collection_type = property(lambda self: self._collection_type)
    map_value_type = property(lambda self: self._map_value_type)
    blob = property(lambda self: self._blob)
    enum_type = property(lambda self: self._enum_type)
    union_type = property(lambda self: self._union_type)
    structured_dataset_type = property(lambda self: self._structured_dataset_type)
    structure = property(lambda self: self._structure)

    @property
    def metadata(self) -> dict[str, Any] | None:
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any] | None) -> None:
        self._metadata = value

    @property
    def annotation(self) -> Any:
        return self._annotation

    @annotation.setter
    def annotation(self, value: Any) -> None:
        self._annotation = value

    def to_json(self) -> dict[str, Any]:
        return set_fields(simple=self._simple, collection_type=self._collection_type,
                          map_value_type=self._map_value_type, blob=self._blob,
                          enum_type=self._enum_type, union_type=self._union_type,
                          structured_dataset_type=self._structured_dataset_type,
                          metadata=self._metadata)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LiteralType:
        def sub(key: str, model: Any) -> Any:
            return model.from_json(data[key]) if key in data else None

        return cls(simple=data.get("simple"),
                   collection_type=sub("collection_type", LiteralType),
                   map_value_type=sub("map_value_type", LiteralType), blob=sub("blob", BlobType),
                   enum_type=sub("enum_type", EnumType), union_type=sub("union_type", UnionType),
                   structured_dataset_type=sub("structured_dataset_type", StructuredDatasetType),
                   metadata=data.get("metadata"))
