"""flytekit's literal models (`flytekit.models.literals`): what a `TypeTransformer.to_literal`
returns and its `to_python_value` receives.

    Literal(scalar=Scalar(primitive=Primitive(integer=3)))
    Literal(scalar=Scalar(blob=Blob(uri=path, metadata=BlobMetadata(type=BlobType(...)))))
    Literal(collection=LiteralCollection(literals=[...])), Literal(map=LiteralMap({...}))

graft stores a literal as its JSON (`to_json()`); the files and folders a blob or a structured
dataset points at are moved into graft's store by `sdk.values.transformer_handler`.
"""

from __future__ import annotations

import base64
import datetime as _dt
from typing import Any

from sdk.values.flyte_model import FlyteModel, set_fields
from sdk.values.flyte_types import BlobType, LiteralType, StructuredDatasetType


class Primitive(FlyteModel):
    """One of integer, float_value, string_value, boolean, datetime, duration."""

    def __init__(self, integer: int | None = None, float_value: float | None = None,
                 string_value: str | None = None, boolean: bool | None = None,
                 datetime: _dt.datetime | None = None, duration: _dt.timedelta | None = None):
        self._integer = integer
        self._float_value = float_value
        self._string_value = string_value
        self._boolean = boolean
        self._datetime = datetime
        self._duration = duration

    integer = property(lambda self: self._integer)
    float_value = property(lambda self: self._float_value)
    string_value = property(lambda self: self._string_value)
    boolean = property(lambda self: self._boolean)
    duration = property(lambda self: self._duration)

    @property
    def datetime(self) -> _dt.datetime | None:
        """In UTC when it was given without a time zone, as flytekit's."""
        if self._datetime is None or self._datetime.tzinfo is not None:
            return self._datetime
        return self._datetime.replace(tzinfo=_dt.timezone.utc)

    @property
    def value(self) -> Any:
        for v in (self.integer, self.float_value, self.string_value, self.boolean,
                  self.datetime, self.duration):
            if v is not None:
                return v
        return None

    def to_json(self) -> dict[str, Any]:
        return set_fields(integer=self._integer, float_value=self._float_value,
                          string_value=self._string_value, boolean=self._boolean,
                          datetime=self.datetime.isoformat() if self._datetime else None,
                          duration=self._duration.total_seconds()
                          if self._duration is not None else None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Primitive:
        when = data.get("datetime")
        seconds = data.get("duration")
        return cls(data.get("integer"), data.get("float_value"), data.get("string_value"),
                   data.get("boolean"), _dt.datetime.fromisoformat(when) if when else None,
                   _dt.timedelta(seconds=seconds) if seconds is not None else None)


class Binary(FlyteModel):
    def __init__(self, value: bytes, tag: str):
        self._value = value
        self._tag = tag

    value = property(lambda self: self._value)
    tag = property(lambda self: self._tag)

    def to_json(self) -> dict[str, Any]:
        return {"value": base64.b64encode(self._value).decode(), "tag": self._tag}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Binary:
        return cls(base64.b64decode(data["value"]), data.get("tag", ""))


class Void(FlyteModel):
    """The value of None."""

    def to_json(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Void:
        return cls()


class BlobMetadata(FlyteModel):
    def __init__(self, type: BlobType):
        self._type = type

    type = property(lambda self: self._type)

    def to_json(self) -> dict[str, Any]:
        return {"type": self._type.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BlobMetadata:
        return cls(BlobType.from_json(data.get("type", {})))


class Blob(FlyteModel):
    """A file (dimensionality SINGLE) or a folder (MULTIPART) at `uri`."""

    def __init__(self, metadata: BlobMetadata, uri: str):
        self._metadata = metadata
        self._uri = uri

    metadata = property(lambda self: self._metadata)
    uri = property(lambda self: self._uri)

    def to_json(self) -> dict[str, Any]:
        return {"metadata": self._metadata.to_json(), "uri": self._uri}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Blob:
        return cls(BlobMetadata.from_json(data.get("metadata", {})), data.get("uri", ""))


class StructuredDatasetMetadata(FlyteModel):
    def __init__(self, structured_dataset_type: StructuredDatasetType | None = None):
        self._structured_dataset_type = structured_dataset_type

    @property
    def structured_dataset_type(self) -> StructuredDatasetType:
        return self._structured_dataset_type  # type: ignore[return-value]

    def to_json(self) -> dict[str, Any]:
        return set_fields(structured_dataset_type=self._structured_dataset_type)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StructuredDatasetMetadata:
        sdt = data.get("structured_dataset_type")
        return cls(StructuredDatasetType.from_json(sdt) if sdt is not None else None)


class StructuredDataset(FlyteModel):
    """The literal of a table: where it is, and its type (columns, format). Not the user's
    `sdk.types.structured.StructuredDataset`."""

    def __init__(self, uri: str, metadata: StructuredDatasetMetadata | None = None):
        self._uri = uri
        self._metadata = metadata

    uri = property(lambda self: self._uri)

    @property
    def metadata(self) -> StructuredDatasetMetadata | None:
        return self._metadata

    def to_json(self) -> dict[str, Any]:
        return set_fields(uri=self._uri, metadata=self._metadata)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StructuredDataset:
        meta = data.get("metadata")
        return cls(data.get("uri", ""),
                   StructuredDatasetMetadata.from_json(meta) if meta is not None else None)


class Union(FlyteModel):
    def __init__(self, value: Literal, stored_type: LiteralType):
        self._value = value
        self._stored_type = stored_type

    value = property(lambda self: self._value)
    stored_type = property(lambda self: self._stored_type)

    def to_json(self) -> dict[str, Any]:
        return {"value": self._value.to_json(), "stored_type": self._stored_type.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Union:
        return cls(Literal.from_json(data["value"]), LiteralType.from_json(data["stored_type"]))


def _generic_json(generic: Any) -> Any:
    """A Scalar's generic value: a dict, or a protobuf Struct read as one."""
    if isinstance(generic, dict):
        return generic
    if hasattr(generic, "ListFields"):
        from google.protobuf import json_format

        return json_format.MessageToDict(generic)
    raise TypeError(f"Scalar(generic=...) takes a dict (or a protobuf Struct), got "
                    f"{type(generic).__name__}")


class Scalar(FlyteModel):
    """One of primitive, blob, binary, union, none_type, error, generic (a JSON object here)
    or structured_dataset."""

    def __init__(self, primitive: Primitive | None = None, blob: Blob | None = None,
                 binary: Binary | None = None, schema: Any = None, union: Union | None = None,
                 none_type: Void | None = None, error: Any = None, generic: Any = None,
                 structured_dataset: StructuredDataset | None = None):
        self._primitive = primitive
        self._blob = blob
        self._binary = binary
        self._schema = schema
        self._union = union
        self._none_type = none_type
        self._error = error
        self._generic = generic
        self._structured_dataset = structured_dataset

    primitive = property(lambda self: self._primitive)
    blob = property(lambda self: self._blob)
    binary = property(lambda self: self._binary)
    schema = property(lambda self: self._schema)
    union = property(lambda self: self._union)
    none_type = property(lambda self: self._none_type)
    error = property(lambda self: self._error)
    generic = property(lambda self: self._generic)
    structured_dataset = property(lambda self: self._structured_dataset)

    @property
    def value(self) -> Any:
        return (self.primitive or self.blob or self.binary or self.union or self.none_type
                or self.error or self.generic or self.structured_dataset)

    def to_json(self) -> dict[str, Any]:
        return set_fields(primitive=self._primitive, blob=self._blob, binary=self._binary,
                          union=self._union, none_type=self._none_type,
                          generic=None if self._generic is None else _generic_json(self._generic),
                          structured_dataset=self._structured_dataset)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scalar:
        def sub(key: str, model: Any) -> Any:
            return model.from_json(data[key]) if key in data else None

        return cls(primitive=sub("primitive", Primitive), blob=sub("blob", Blob),
                   binary=sub("binary", Binary), union=sub("union", Union),
                   none_type=sub("none_type", Void), generic=data.get("generic"),
                   structured_dataset=sub("structured_dataset", StructuredDataset))


class LiteralCollection(FlyteModel):
    def __init__(self, literals: list[Literal]):
        self._literals = literals

    literals = property(lambda self: self._literals)

    def to_json(self) -> dict[str, Any]:
        return {"literals": [lit.to_json() for lit in self._literals]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LiteralCollection:
        return cls([Literal.from_json(lit) for lit in data.get("literals", [])])


class LiteralMap(FlyteModel):
    def __init__(self, literals: dict[str, Literal]):
        self._literals = literals

    literals = property(lambda self: self._literals)

    def to_json(self) -> dict[str, Any]:
        return {"literals": {k: lit.to_json() for k, lit in self._literals.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LiteralMap:
        return cls({k: Literal.from_json(lit) for k, lit in data.get("literals", {}).items()})


class Literal(FlyteModel):
    """A value: a scalar, a collection or a map (with an optional cache `hash` and
    `metadata`)."""

    def __init__(self, scalar: Scalar | None = None, collection: LiteralCollection | None = None,
                 map: LiteralMap | None = None, hash: str | None = None,
                 metadata: dict[str, str] | None = None, offloaded_metadata: Any = None):
        self._scalar = scalar
        self._collection = collection
        self._map = map
        self._hash = hash
        self._metadata = metadata
        self._offloaded_metadata = offloaded_metadata

    scalar = property(lambda self: self._scalar)
    collection = property(lambda self: self._collection)
    map = property(lambda self: self._map)
    metadata = property(lambda self: self._metadata)
    offloaded_metadata = property(lambda self: self._offloaded_metadata)

    @property
    def value(self) -> Any:
        return self.scalar or self.collection or self.map

    @property
    def hash(self) -> str | None:
        return self._hash

    @hash.setter
    def hash(self, value: str | None) -> None:
        self._hash = value

    def set_metadata(self, metadata: dict[str, str]) -> None:
        self._metadata = metadata

    def to_json(self) -> dict[str, Any]:
        return set_fields(scalar=self._scalar, collection=self._collection, map=self._map,
                          hash=self._hash, metadata=self._metadata)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Literal:
        def sub(key: str, model: Any) -> Any:
            return model.from_json(data[key]) if key in data else None

        return cls(scalar=sub("scalar", Scalar), collection=sub("collection", LiteralCollection),
                   map=sub("map", LiteralMap), hash=data.get("hash"),
                   metadata=data.get("metadata"))


class RetryStrategy(FlyteModel):
    def __init__(self, retries: int):
        self._retries = retries

    retries = property(lambda self: self._retries)

    def to_json(self) -> dict[str, Any]:
        return {"retries": self._retries}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetryStrategy:
        return cls(int(data.get("retries", 0)))
