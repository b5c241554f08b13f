"""The pandas reader and writer of `FlyteSchema` (flytekit's `types_pandas`): Parquet parts
in a local folder. Registered with `SchemaEngine` the first time a pandas DataFrame's handler
is asked for, so pandas is imported only where schemas are used."""

from __future__ import annotations

import os
from typing import Any

from sdk.values.schema import (
    LocalIOSchemaReader,
    LocalIOSchemaWriter,
    SchemaEngine,
    SchemaFormat,
    SchemaHandler,
)


class ParquetIO:
    PARQUET_ENGINE = "pyarrow"

    def _read(self, chunk: os.PathLike, columns: list[str] | None, **kwargs: Any) -> Any:
        import pandas

        return pandas.read_parquet(chunk, columns=columns, engine=self.PARQUET_ENGINE, **kwargs)

    def read(self, *files: os.PathLike, columns: list[str] | None = None,
             **kwargs: Any) -> Any:
        """The parts, concatenated (an empty DataFrame when there are none)."""
        import pandas

        frames = [self._read(chunk=f, columns=columns, **kwargs) for f in files
                  if os.path.getsize(f) > 0]
        if len(frames) == 1:
            return frames[0]
        if len(frames) > 1:
            return pandas.concat(frames)
        return pandas.DataFrame()

    def write(self, df: Any, to_file: os.PathLike, coerce_timestamps: str = "us",
              allow_truncated_timestamps: bool = False, **kwargs: Any) -> None:
        df.to_parquet(to_file, coerce_timestamps=coerce_timestamps,
                      allow_truncated_timestamps=allow_truncated_timestamps, **kwargs)


class PandasSchemaReader(LocalIOSchemaReader[Any]):
    def __init__(self, local_dir: str, cols: dict[str, type] | None, fmt: SchemaFormat):
        super().__init__(local_dir, cols, fmt)
        self._parquet_engine = ParquetIO()

    def _read(self, *path: os.PathLike, **kwargs: Any) -> Any:
        return self._parquet_engine.read(*path, columns=self.column_names, **kwargs)


class PandasSchemaWriter(LocalIOSchemaWriter[Any]):
    def __init__(self, local_dir: str, cols: dict[str, type] | None, fmt: SchemaFormat):
        super().__init__(local_dir, cols, fmt)
        self._parquet_engine = ParquetIO()

    def _write(self, df: Any, path: os.PathLike, **kwargs: Any) -> None:
        self._parquet_engine.write(df, to_file=path, **kwargs)


def install() -> None:
    """Register the pandas handler (once)."""
    import pandas

    if pandas.DataFrame not in SchemaEngine._SCHEMA_HANDLERS:
        SchemaEngine.register_handler(SchemaHandler(
            "pandas-dataframe-schema", pandas.DataFrame, PandasSchemaReader,
            PandasSchemaWriter))
