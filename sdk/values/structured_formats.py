"""graft's own dataframe handlers: pandas and pyarrow tables as Parquet, pandas as CSV.

They are registered with `StructuredDatasetTransformerEngine` the first time a handler is
looked up or registered after pandas (or pyarrow) is imported, as flytekit registers its own,
so a user registering one for the same type, protocol and format needs `override=True`.

The Parquet ones are *native*: when one of them is the handler found, graft does not call it
but keeps the table as one Parquet object in the store, content-addressed
(`{"key": ..., "format": "parquet", "columns": [...]}`), and reads it back with only the
columns asked for. Their `encode` and `decode` do what flytekit's do (a folder holding
`00000`), for code that calls them. The CSV ones are called like a user's: a folder holding
`.csv`.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

from sdk.model.errors import ConfigError, TypeConversionError
from sdk.model.store import Store
from sdk.values.file_access import FileAccessProvider
from sdk.values.flyte_literals import StructuredDataset as StructuredDatasetLiteral
from sdk.values.flyte_literals import StructuredDatasetMetadata
from sdk.values.store import get_verified, put_blob
from sdk.values.stowed import fetch
from sdk.values.structured_dataset import (
    CSV,
    PARQUET,
    StructuredDatasetDecoder,
    StructuredDatasetEncoder,
    StructuredDatasetTransformerEngine,
    _builtins,
)


def arrow(module: str = "pyarrow") -> Any:
    """pyarrow (or one of its modules), or a ConfigError saying how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"tables need pandas and pyarrow ({e}); install them with "
                          f"pip install 'graft[tables]'") from None


def is_native(handler: Any) -> bool:
    return bool(getattr(handler, "_graft_native", False))


def _columns_of(metadata: Any) -> list[str] | None:
    sdt = getattr(metadata, "structured_dataset_type", None)
    cols = getattr(sdt, "columns", None)
    return [c.name for c in cols] if cols else None


def _new_folder(ctx: Any, sd: Any) -> str:
    uri = sd.uri or ctx.file_access.get_random_remote_directory()
    if not ctx.file_access.is_remote(uri):
        Path(uri).mkdir(parents=True, exist_ok=True)
    return str(uri)


class PandasToParquetEncodingHandler(StructuredDatasetEncoder):
    _graft_native = True

    def __init__(self) -> None:
        import pandas as pd

        super().__init__(pd.DataFrame, None, PARQUET)

    def encode(self, ctx: Any, structured_dataset: Any, structured_dataset_type: Any) -> Any:
        uri = _new_folder(ctx, structured_dataset)
        structured_dataset.dataframe.to_parquet(os.path.join(uri, f"{0:05}"),
                                                coerce_timestamps="us",
                                                allow_truncated_timestamps=False)
        structured_dataset_type.format = PARQUET
        return StructuredDatasetLiteral(uri, StructuredDatasetMetadata(structured_dataset_type))


class ParquetToPandasDecodingHandler(StructuredDatasetDecoder):
    _graft_native = True

    def __init__(self) -> None:
        import pandas as pd

        super().__init__(pd.DataFrame, None, PARQUET)

    def decode(self, ctx: Any, flyte_value: Any, current_task_metadata: Any) -> Any:
        import pandas as pd

        return pd.read_parquet(flyte_value.uri, columns=_columns_of(current_task_metadata))


class ArrowToParquetEncodingHandler(StructuredDatasetEncoder):
    _graft_native = True

    def __init__(self) -> None:
        super().__init__(arrow().Table, None, PARQUET)

    def encode(self, ctx: Any, structured_dataset: Any, structured_dataset_type: Any) -> Any:
        uri = _new_folder(ctx, structured_dataset)
        arrow("pyarrow.parquet").write_table(structured_dataset.dataframe,
                                             os.path.join(uri, f"{0:05}"))
        return StructuredDatasetLiteral(uri, StructuredDatasetMetadata(structured_dataset_type))


class ParquetToArrowDecodingHandler(StructuredDatasetDecoder):
    _graft_native = True

    def __init__(self) -> None:
        super().__init__(arrow().Table, None, PARQUET)

    def decode(self, ctx: Any, flyte_value: Any, current_task_metadata: Any) -> Any:
        return arrow("pyarrow.parquet").read_table(flyte_value.uri,
                                                   columns=_columns_of(current_task_metadata))


class PandasToCSVEncodingHandler(StructuredDatasetEncoder):
    def __init__(self) -> None:
        import pandas as pd

        super().__init__(pd.DataFrame, None, CSV)

    def encode(self, ctx: Any, structured_dataset: Any, structured_dataset_type: Any) -> Any:
        uri = _new_folder(ctx, structured_dataset)
        structured_dataset.dataframe.to_csv(os.path.join(uri, ".csv"), index=False)
        structured_dataset_type.format = CSV
        return StructuredDatasetLiteral(uri, StructuredDatasetMetadata(structured_dataset_type))


class CSVToPandasDecodingHandler(StructuredDatasetDecoder):
    def __init__(self) -> None:
        import pandas as pd

        super().__init__(pd.DataFrame, None, CSV)

    def decode(self, ctx: Any, flyte_value: Any, current_task_metadata: Any) -> Any:
        import pandas as pd

        return pd.read_csv(os.path.join(flyte_value.uri, ".csv"),
                           usecols=_columns_of(current_task_metadata))


class TopFrameRenderer:
    """A DataFrame as an HTML table (flytekit's default pandas renderer)."""

    def __init__(self, max_rows: int = 10, max_cols: int = 100):
        self._max_rows, self._max_cols = max_rows, max_cols

    def to_html(self, df: Any) -> str:
        return str(df.to_html(max_rows=self._max_rows, max_cols=self._max_cols))


class ArrowRenderer:
    def to_html(self, df: Any) -> str:
        return str(df.to_string())


_done: set[str] = set()


def register_csv_handlers() -> None:
    """flytekit's: registers the pandas CSV handlers (graft registers them as soon as
    pandas is imported, as flytekit does; calling this again does nothing)."""
    _install()


def _register(*handlers: Any) -> None:
    for h in handlers:
        StructuredDatasetTransformerEngine.register(h, default_format_for_type=True)


def _install() -> None:
    if "pandas" in sys.modules and "pandas" not in _done:
        _done.add("pandas")
        import pandas as pd

        _register(PandasToParquetEncodingHandler(), ParquetToPandasDecodingHandler(),
                  PandasToCSVEncodingHandler(), CSVToPandasDecodingHandler())
        StructuredDatasetTransformerEngine.register_renderer(pd.DataFrame, TopFrameRenderer())
    if "pyarrow" in sys.modules and "pyarrow" not in _done:
        _done.add("pyarrow")
        _register(ArrowToParquetEncodingHandler(), ParquetToArrowDecodingHandler())
        StructuredDatasetTransformerEngine.register_renderer(arrow().Table, ArrowRenderer())


_builtins.append(_install)


# --- the native form: one Parquet object in the store ------------------------------------

def to_table(value: Any) -> Any:
    """A pandas DataFrame or a pyarrow Table as a pyarrow Table."""
    pa = arrow()
    return value if isinstance(value, pa.Table) else pa.Table.from_pandas(value)


def write_native(table: Any, store: Store) -> dict[str, Any]:
    buf = io.BytesIO()
    arrow("pyarrow.parquet").write_table(table, buf)
    return {"key": put_blob(store, buf.getvalue()), "format": PARQUET,
            "columns": list(table.column_names)}


def read_native(lit: dict[str, Any], store: Store, columns: list[str] | None,
                where: str) -> Any:
    """The stored Parquet table, only `columns` when given (nested ones as `a.b`: a leaf of
    a struct column, named by the leaf, as pyarrow reads them); pandas' index comes back as
    pandas wrote it. TypeConversionError naming the columns the table lacks."""
    pq = arrow("pyarrow.parquet")
    have = lit.get("columns")
    if isinstance(have, list) and columns:
        missing = [c for c in columns if c not in have and c.split(".")[0] not in have]
        if missing:
            raise TypeConversionError(f"the table {lit.get('key')} has no column(s) "
                                      f"{', '.join(missing)} (its columns: "
                                      f"{', '.join(map(str, have))})")
    source: Any = io.BytesIO(get_verified(store, lit["key"])) if "key" in lit else \
        fetch(lit, store, where)
    filesystem = None
    if isinstance(source, str) and FileAccessProvider.is_remote(source):
        import fsspec  # a table at a URL (s3://, memory://, ...): read through fsspec

        web = source.split("://", 1)[0] in ("http", "https")
        filesystem, source = fsspec.core.url_to_fs(source)
        if web:  # one file, read whole: an HTTP server need not serve byte ranges
            source, filesystem = io.BytesIO(filesystem.cat_file(source)), None
    return pq.read_table(source, columns=columns, use_pandas_metadata=True,
                         filesystem=filesystem)
