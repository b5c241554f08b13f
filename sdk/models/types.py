"""`sdk.models.types`, as `flytekit.models.types`."""

from sdk.values.flyte_types import LiteralType, SimpleType, StructuredDatasetType, UnionType

__all__ = ["LiteralType", "SimpleType", "StructuredDatasetType", "UnionType"]
