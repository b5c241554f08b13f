"""`sdk.types.structured.structured_dataset`, as
`flytekit.types.structured.structured_dataset`."""

from sdk.values.flyte_literals import StructuredDatasetMetadata
from sdk.values.flyte_types import StructuredDatasetType
from sdk.values.structured_dataset import (
    CSV,
    GENERIC_FORMAT,
    PARQUET,
    DuplicateHandlerError,
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetFormat,
    StructuredDatasetTransformerEngine,
    extract_cols_and_format,
    flatten_dict,
    kwtypes,
)

__all__ = ["CSV", "GENERIC_FORMAT", "PARQUET", "DuplicateHandlerError", "StructuredDataset",
           "StructuredDatasetDecoder", "StructuredDatasetEncoder", "StructuredDatasetFormat",
           "StructuredDatasetMetadata", "StructuredDatasetTransformerEngine",
           "StructuredDatasetType", "extract_cols_and_format", "flatten_dict", "kwtypes"]
