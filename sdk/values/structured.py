"""Tables: pandas DataFrames and `StructuredDataset`s, kept in the store as Parquet.

    @task
    def load() -> pd.DataFrame: ...                                  # a DataFrame goes by value
    @task
    def pick(sd: Annotated[StructuredDataset, kwtypes(age=int)]) -> int:
        return int(sd.open(pd.DataFrame).all()["age"].sum())         # only the age column

A table travels as one Parquet object (pyarrow), content-addressed like every stored value; it
is never pickled. A column subset declared with `kwtypes` reads only those columns. Both types
share one descriptor kind, so a DataFrame output may feed a StructuredDataset input and the
other way round. pandas and pyarrow are needed only where tables are used
(`pip install 'graft[tables]'`).
"""

from __future__ import annotations

import io
import typing
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from sdk.model.errors import ConfigError, TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import KindRule, TypeDesc, type_name
from sdk.values import handlers
from sdk.values.handlers import TypeHandler, register
from sdk.values.store import get_verified, put_blob

PARQUET = "parquet"


def _arrow(module: str = "pyarrow") -> Any:
    """pyarrow (or one of its modules), or a ConfigError saying how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"tables need pandas and pyarrow ({e}); install them with "
                          f"pip install 'graft[tables]'") from None


def kwtypes(**columns: type) -> OrderedDict[str, type]:
    """Column names and types, for `Annotated[StructuredDataset, kwtypes(a=int, b=str)]`."""
    return OrderedDict(columns)


class StructuredDataset:
    """A table: give it a pandas DataFrame or a pyarrow Table to return one; read one with
    `.open(pd.DataFrame).all()` (or `pa.Table`)."""

    def __init__(self, dataframe: Any = None, uri: str | None = None,
                 file_format: str = PARQUET):
        if uri is not None:
            raise ConfigError("StructuredDataset(uri=...): tables from URLs are not supported; "
                              "read the file in a task and return its DataFrame")
        if file_format != PARQUET:
            raise ConfigError(f"StructuredDataset: graft keeps tables as Parquet, not "
                              f"{file_format!r}")
        self.dataframe = dataframe
        self.file_format = file_format
        self._literal: dict[str, Any] | None = None
        self._store: Store | None = None
        self._columns: list[str] | None = None
        self._as: Any = None

    def __repr__(self) -> str:
        where = "in memory" if self.dataframe is not None else (self._literal or {}).get("key")
        return f"StructuredDataset({where})"

    def open(self, as_type: Any) -> StructuredDataset:
        """Choose how `all()` gives the table: `pandas.DataFrame` or `pyarrow.Table`."""
        self._as = as_type
        return self

    def all(self) -> Any:
        """The whole table (the declared columns only), as chosen with `open()`."""
        table = self._table()
        if self._as is None or getattr(self._as, "__name__", "") == "DataFrame":
            return table.to_pandas()
        return table

    def iter(self) -> Iterator[Any]:
        """The table in record batches, each as chosen with `open()`."""
        for batch in self._table().to_batches():
            yield batch.to_pandas() if getattr(self._as, "__name__", "DataFrame") == \
                "DataFrame" else batch

    def _table(self) -> Any:
        pa = _arrow()
        if self.dataframe is not None:
            table = self.dataframe if isinstance(self.dataframe, pa.Table) else \
                pa.Table.from_pandas(self.dataframe)
        elif self._literal is not None and self._store is not None:
            table = _read(self._literal, self._store, self._columns)
        else:
            raise TypeConversionError("this StructuredDataset holds no table")
        if self._columns:
            table = table.select(self._columns)
        return table


def _columns(desc: TypeDesc) -> list[str] | None:
    cols = desc.get("columns")
    return list(cols) if cols else None


def _to_table(value: Any) -> Any:
    pa = _arrow()
    if isinstance(value, StructuredDataset):
        return value._table()
    if isinstance(value, pa.Table):
        return value
    return pa.Table.from_pandas(value)


def _read(lit: dict[str, Any], store: Store, columns: list[str] | None) -> Any:
    """The stored table, only `columns` when given (TypeConversionError naming those it
    lacks). A DataFrame's index comes back as its index, as pandas' own Parquet does."""
    pq = _arrow("pyarrow.parquet")
    have = lit.get("columns")
    missing = sorted(set(columns or ()) - set(have)) if isinstance(have, list) else []
    if missing:
        raise TypeConversionError(f"the table {lit['key']} has no column(s) "
                                  f"{', '.join(missing)} (its columns: {', '.join(have)})")
    return pq.read_table(io.BytesIO(get_verified(store, lit["key"])), columns=columns)


class StructuredRule(KindRule):
    kind = "structured"

    def name(self, desc: TypeDesc) -> str:
        base = "DataFrame" if desc.get("python") == "dataframe" else "StructuredDataset"
        cols = _columns(desc)
        return f"{base}[{', '.join(cols)}]" if cols else base

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        """A table fits when it has every column the input asks for (when both say)."""
        want, have = _columns(dst), _columns(src)
        return want is None or have is None or set(want) <= set(have)


class StructuredHandler(StructuredRule, TypeHandler):
    def describe(self, tp: Any) -> TypeDesc | None:
        columns = None
        if typing.get_origin(tp) is typing.Annotated:
            base, *meta = typing.get_args(tp)
            table = [m for m in meta if isinstance(m, dict)]
            if not table or self.describe(base) is None:
                return None
            columns = {name: handlers.describe(t) for name, t in table[0].items()}
            tp = base
        if tp is StructuredDataset:
            python = "dataset"
        elif isinstance(tp, type) and tp.__name__ == "DataFrame" \
                and tp.__module__.startswith("pandas"):
            python = "dataframe"
        else:
            return None
        desc: TypeDesc = {"t": "structured", "python": python, "format": PARQUET}
        if columns:
            desc["columns"] = columns
        return desc

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        if isinstance(value, StructuredDataset):
            return None
        kind = type(value)
        if kind.__name__ in ("DataFrame", "Table") and kind.__module__.split(".")[0] in (
                "pandas", "pyarrow"):
            missing = sorted(set(_columns(desc) or ()) - set(map(str, value.columns)
                                                               if kind.__name__ == "DataFrame"
                                                               else value.column_names))
            return f"table lacks column(s) {', '.join(missing)}" if missing else None
        return f"expected {type_name(desc)}, got {kind.__name__}"

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        if isinstance(value, StructuredDataset) and value._literal is not None \
                and value.dataframe is None:
            return value._literal
        pq = _arrow("pyarrow.parquet")
        table = _to_table(value)
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return {"key": put_blob(store, buf.getvalue()), "format": PARQUET,
                "columns": list(table.column_names)}

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        columns = _columns(desc)
        if desc.get("python") == "dataframe":
            return _read(lit, store, columns).to_pandas()
        sd = StructuredDataset()
        sd._literal, sd._store, sd._columns = lit, store, columns
        return sd

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        yield lit["key"]


register(StructuredHandler(), first=True)
