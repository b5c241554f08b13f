"""`sdk.models.literals`, as `flytekit.models.literals`."""

from sdk.values.flyte_literals import (
    Binary,
    Blob,
    BlobMetadata,
    Literal,
    LiteralCollection,
    LiteralMap,
    Primitive,
    RetryStrategy,
    Scalar,
    StructuredDataset,
    StructuredDatasetMetadata,
    Union,
    Void,
)

__all__ = ["Binary", "Blob", "BlobMetadata", "Literal", "LiteralCollection", "LiteralMap",
           "Primitive", "RetryStrategy", "Scalar", "StructuredDataset",
           "StructuredDatasetMetadata", "Union", "Void"]
