"""`sdk.types.structured`, as `flytekit.types.structured`: tables kept as Parquet."""

from sdk.values.structured import PARQUET, StructuredDataset, kwtypes

__all__ = ["PARQUET", "StructuredDataset", "kwtypes"]
