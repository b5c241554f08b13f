"""`sdk.types.structured.structured_dataset`, as `flytekit.types.structured.structured_dataset`."""

from sdk.values.structured import PARQUET, StructuredDataset, kwtypes

__all__ = ["PARQUET", "StructuredDataset", "kwtypes"]
