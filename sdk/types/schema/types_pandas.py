"""`sdk.types.schema.types_pandas`, as `flytekit.types.schema.types_pandas`: the pandas reader
and writer of FlyteSchema."""

from sdk.values.schema_pandas import PandasSchemaReader, PandasSchemaWriter, ParquetIO, install

install()

__all__ = ["PandasSchemaReader", "PandasSchemaWriter", "ParquetIO"]
