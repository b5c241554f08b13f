"""`sdk.types.structured`, as `flytekit.types.structured`: tables, and their encoders and
decoders."""

from sdk.values.structured import register_csv_handlers
from sdk.values.structured_dataset import (
    CSV,
    PARQUET,
    DuplicateHandlerError,
    StructuredDataset,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
    kwtypes,
)

__all__ = ["CSV", "PARQUET", "DuplicateHandlerError", "StructuredDataset",
           "StructuredDatasetDecoder", "StructuredDatasetEncoder",
           "StructuredDatasetTransformerEngine", "kwtypes", "register_csv_handlers"]
