"""`FlyteSchema`: flytekit's older table type (`sdk.types.schema`), kept by graft as a table.

    @task
    def make() -> FlyteSchema[kwtypes(a=int, b=str)]:
        s = FlyteSchema[kwtypes(a=int, b=str)]()
        s.open().write(pd.DataFrame({"a": [1], "b": ["x"]}))   # a writer: Parquet parts
        return s                                               # (or return the DataFrame)

    @task
    def use(s: FlyteSchema[kwtypes(a=int)]) -> int:
        return int(s.open().all()["a"].sum())                  # a reader: only column a

A FlyteSchema travels as a `StructuredDataset` does (`sdk.values.structured`): one Parquet
object in the store, read back with only the columns the receiving type names. Its
descriptor is the table kind's (`{"t": "structured", "python": "schema", "columns": ...}`),
so a task returning a DataFrame or a StructuredDataset may feed a FlyteSchema input and the
other way round. The readers and writers (`SchemaEngine`, one `SchemaHandler` per dataframe
type) are flytekit's: pandas has one (`sdk.values.schema_pandas`, registered when first
asked for).
"""

from __future__ import annotations

import datetime
import logging
import os
from abc import abstractmethod
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Generic, TypeVar

from sdk.model.errors import TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc
from sdk.values import handlers
from sdk.values.flyte_context import FlyteContextManager
from sdk.values.handlers import register
from sdk.values.structured import (
    PARQUET,
    StructuredDataset,
    StructuredHandler,
    _columns,
    _local_uri,
    encode_table,
    open_literal,
)
from sdk.values.structured_formats import to_table, write_native

__all__ = ["FlyteSchema", "LocalIOSchemaReader", "LocalIOSchemaWriter", "SchemaEngine",
           "SchemaFormat", "SchemaHandler", "SchemaOpenMode", "SchemaReader", "SchemaWriter"]

T = TypeVar("T")
_log = logging.getLogger("graft")
_DEPRECATED = "FlyteSchema is deprecated, use Structured Dataset instead."


class SchemaFormat(Enum):
    """How a schema is kept at rest: Parquet only, as in flytekit."""

    PARQUET = "parquet"


class SchemaOpenMode(Enum):
    READ = "r"
    WRITE = "w"


def generate_ordered_files(directory: os.PathLike, n: int) -> Generator[str, None, None]:
    for i in range(n):
        yield os.path.join(directory, f"{i:05}")


class SchemaReader(Generic[T]):
    """Reads a schema's table as a dataframe of type T (flytekit's base)."""

    def __init__(self, from_path: str, cols: dict[str, type] | None, fmt: SchemaFormat):
        self._from_path = from_path
        self._fmt = fmt
        self._columns = cols

    @property
    def from_path(self) -> str:
        return self._from_path

    @property
    def column_names(self) -> list[str] | None:
        return list(self._columns) if self._columns else None

    @abstractmethod
    def iter(self, **kwargs: Any) -> Generator[T, None, None]: ...

    @abstractmethod
    def all(self, **kwargs: Any) -> T: ...


class SchemaWriter(Generic[T]):
    """Writes dataframes of type T into a schema's folder, one part each (flytekit's
    base)."""

    def __init__(self, to_path: str, cols: dict[str, type] | None, fmt: SchemaFormat):
        self._to_path = to_path
        self._fmt = fmt
        self._columns = cols
        self._file_name_gen = generate_ordered_files(Path(self._to_path), 1024)

    @property
    def to_path(self) -> str:
        return self._to_path

    @property
    def column_names(self) -> list[str] | None:
        return list(self._columns) if self._columns else None

    @abstractmethod
    def write(self, *dfs: Any, **kwargs: Any) -> None: ...


class LocalIOSchemaReader(SchemaReader[T]):
    """A reader of the part files in a local folder: implement `_read(*paths)`."""

    @abstractmethod
    def _read(self, *path: os.PathLike, **kwargs: Any) -> T: ...

    def _parts(self) -> list[Path]:
        with os.scandir(self._from_path) as it:
            return [Path(e.path) for e in it if not e.name.startswith(".") and e.is_file()]

    def iter(self, **kwargs: Any) -> Generator[T, None, None]:
        for part in self._parts():
            yield self._read(part, **kwargs)

    def all(self, **kwargs: Any) -> T:
        return self._read(*self._parts(), **kwargs)


class LocalIOSchemaWriter(SchemaWriter[T]):
    """A writer of part files `00000`, `00001`, ... in a local folder: implement
    `_write(df, path)`."""

    @abstractmethod
    def _write(self, df: T, path: os.PathLike, **kwargs: Any) -> None: ...

    def write(self, *dfs: Any, **kwargs: Any) -> None:
        for df in dfs:
            self._write(df, next(self._file_name_gen), **kwargs)  # type: ignore[arg-type]


@dataclass
class SchemaHandler:
    name: str
    object_type: type
    reader: type[SchemaReader]
    writer: type[SchemaWriter]
    handles_remote_io: bool = False


class SchemaEngine:
    """The readers and writers of schemas, one handler per dataframe type (flytekit's)."""

    _SCHEMA_HANDLERS: dict[type, SchemaHandler] = {}

    @classmethod
    def register_handler(cls, h: SchemaHandler) -> None:
        """Register the reader and writer for `h.object_type`; ValueError for a second one."""
        if h.object_type in cls._SCHEMA_HANDLERS:
            raise ValueError(f"SchemaHandler {cls._SCHEMA_HANDLERS[h.object_type].name} "
                             f"already registered for {h.object_type}, cannot replace with "
                             f"{h.name}")
        cls._SCHEMA_HANDLERS[h.object_type] = h

    @classmethod
    def get_handler(cls, t: type) -> SchemaHandler:
        if t not in cls._SCHEMA_HANDLERS and _is_pandas(t):
            from sdk.values import schema_pandas

            schema_pandas.install()
        if t not in cls._SCHEMA_HANDLERS:
            raise ValueError(f"DataFrames of type {t} are not supported currently")
        return cls._SCHEMA_HANDLERS[t]


def _is_pandas(t: Any) -> bool:
    return isinstance(t, type) and t.__name__ == "DataFrame" and t.__module__.startswith(
        "pandas")


def _pandas() -> Any:
    import pandas

    return pandas


# The column types a FlyteSchema takes (flytekit's), and numpy's scalar types.
_COLUMN_TYPES: tuple[Any, ...] = (int, float, bool, str, datetime.datetime, datetime.timedelta)
_NUMPY_COLUMN_TYPES = ("int32", "int64", "uint32", "uint64", "float32", "float64", "bool_",
                       "datetime64", "timedelta64", "bytes_", "str_", "object_")


def _supported(t: Any) -> bool:
    if t in _COLUMN_TYPES:
        return True
    return getattr(t, "__module__", "") == "numpy" and getattr(t, "__name__", "") in \
        _NUMPY_COLUMN_TYPES


_warned: list[bool] = []  # flytekit warns at every use; graft once a process


def _warn_deprecated() -> None:
    if not _warned:
        _warned.append(True)
        _log.warning(_DEPRECATED)


class FlyteSchema:
    """A table of Parquet parts. `FlyteSchema[kwtypes(a=int)]` names its columns; `open()`
    gives a writer (a schema made in this task) or a reader (one received)."""

    remote_path: str | None

    @classmethod
    def columns(cls) -> dict[str, type]:
        return {}

    @classmethod
    def column_names(cls) -> list[str]:
        return list(cls.columns())

    @classmethod
    def format(cls) -> SchemaFormat:
        return SchemaFormat.PARQUET

    def __class_getitem__(cls, columns: dict[str, type],
                          fmt: SchemaFormat = SchemaFormat.PARQUET) -> type[FlyteSchema]:
        _warn_deprecated()
        if columns is None:
            return FlyteSchema
        if not isinstance(columns, dict):
            raise AssertionError(f"Columns should be specified as an ordered dict of column "
                                 f"names and their types, received {type(columns)}")
        if len(columns) == 0:
            return FlyteSchema
        if not isinstance(fmt, SchemaFormat):
            raise AssertionError(f"Only FlyteSchemaFormat types are supported, received "
                                 f"format is {fmt} of type {type(fmt)}")
        return _typed(dict(columns), fmt)

    def __init__(self, local_path: str | None = None, remote_path: str | None = None,
                 supported_mode: SchemaOpenMode = SchemaOpenMode.WRITE,
                 downloader: Callable[[str, str], Any] | None = None):
        _warn_deprecated()
        if supported_mode == SchemaOpenMode.READ and remote_path is None:
            raise ValueError("To create a FlyteSchema in read mode, remote_path is required")
        self._local_path = local_path
        self._given_remote = remote_path
        if remote_path is None:  # flytekit's: a random path under the raw output prefix
            fa = FlyteContextManager.current_context().file_access
            remote_path = fa.join(fa.raw_output_prefix, fa.get_random_string())
        self.remote_path = remote_path
        self._supported_mode = supported_mode
        self._downloaded = False
        self._downloader = downloader
        # set when the table comes from the store
        self._literal: dict[str, Any] | None = None
        self._store: Store | None = None

    @property
    def local_path(self) -> str:
        """The folder of the table's parts (made when first asked for; for a received
        schema, its parts made local)."""
        if self._local_path is None:
            if self._literal is not None and self._store is not None:
                self._local_path = _local_uri(self._literal, self._store, repr(self))
                self._downloaded = True
            else:
                self._local_path = FlyteContextManager.current_context().file_access \
                    .get_random_local_directory()
        return self._local_path

    @property
    def supported_mode(self) -> SchemaOpenMode:
        return self._supported_mode

    def __repr__(self) -> str:
        where = (self._literal or {}).get("key") or self.remote_path or self._local_path
        return f"{type(self).__name__}({where or 'new'})"

    def open(self, dataframe_fmt: type | None = None,
             override_mode: SchemaOpenMode | None = None) -> SchemaReader | SchemaWriter:
        """A writer (a schema made here) or a reader (a received one) of `dataframe_fmt`
        dataframes (pandas when None); `override_mode` reads back what was written.
        AssertionError when a received schema is opened for writing."""
        if override_mode and self._supported_mode == SchemaOpenMode.READ and \
                override_mode == SchemaOpenMode.WRITE:
            raise AssertionError("Readonly schema cannot be opened in write mode!")
        mode = override_mode if override_mode else self._supported_mode
        dataframe_fmt = dataframe_fmt if dataframe_fmt else _pandas().DataFrame
        h = SchemaEngine.get_handler(dataframe_fmt)
        if mode == SchemaOpenMode.WRITE:
            return h.writer(self.local_path, self.columns(), self.format())
        if self._literal is not None:  # received: graft's table machinery reads pandas
            if _is_pandas(dataframe_fmt):
                return _StoredReader(self, dataframe_fmt)
            return h.reader(self.local_path, self.columns(), self.format())
        if self._supported_mode == SchemaOpenMode.READ and not self._downloaded and \
                not h.handles_remote_io:
            if self._downloader is None:
                raise AssertionError("downloader cannot be None in read mode!")
            self._downloader(str(self.remote_path), self.local_path)
            self._downloaded = True
        if h.handles_remote_io:
            return h.reader(str(self.remote_path), self.columns(), self.format())
        return h.reader(self.local_path, self.columns(), self.format())

    def as_readonly(self) -> FlyteSchema:
        if self._supported_mode == SchemaOpenMode.READ:
            return self
        s = FlyteSchema.__class_getitem__(self.columns(), self.format())(
            local_path=self.local_path, remote_path=self.remote_path or "",
            supported_mode=SchemaOpenMode.READ)
        s._downloaded = True
        return s


def _typed(columns: dict[str, type], fmt: SchemaFormat) -> type[FlyteSchema]:
    class _TypedSchema(FlyteSchema):
        __origin__ = FlyteSchema

        @classmethod
        def columns(cls) -> dict[str, type]:
            return columns

        @classmethod
        def format(cls) -> SchemaFormat:
            return fmt

    return _TypedSchema


class _StoredReader(SchemaReader[Any]):
    """A received schema read by graft's table machinery (only its columns, from the one
    Parquet object in the store)."""

    def __init__(self, schema: FlyteSchema, df_type: type):
        super().__init__(repr(schema), schema.columns() or None, schema.format())
        self._schema, self._df_type = schema, df_type

    def _open(self, iterate: bool) -> Any:
        s = self._schema
        assert s._literal is not None and s._store is not None
        cols = {name: handlers.describe(t) for name, t in self._columns.items()} \
            if self._columns else None
        return open_literal(s._literal, s._store, self._df_type, cols, repr(s), iterate)

    def iter(self, **kwargs: Any) -> Iterator[Any]:  # type: ignore[override]
        return self._open(True)

    def all(self, **kwargs: Any) -> Any:
        return self._open(False)


# ---- the type handler: the table kind, taught FlyteSchema ------------------------------------

_SIMPLE_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


def _column_type(desc: TypeDesc) -> Any:
    """The Python type of a column descriptor, for the class of a received schema."""
    t = desc.get("t", "")
    if t in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[t]
    found = handlers.try_class(desc.get("ref"))
    return found if found is not None else object


class SchemaTableHandler(StructuredHandler):
    """The table handler, which also takes `FlyteSchema` (descriptor "python": "schema")."""

    def name(self, desc: TypeDesc) -> str:
        if desc.get("python") != "schema":
            return super().name(desc)
        cols = _columns(desc)
        return f"FlyteSchema[{', '.join(cols)}]" if cols else "FlyteSchema"

    def describe(self, tp: Any) -> TypeDesc | None:
        if not (isinstance(tp, type) and issubclass(tp, FlyteSchema)):
            return super().describe(tp)
        desc: TypeDesc = {"t": "structured", "python": "schema", "format": PARQUET}
        unsupported = [t for t in tp.columns().values() if not _supported(t)]
        if unsupported:
            raise TypeConversionError(f"{tp.__name__}: type {unsupported[0]} is currently not "
                                      f"supported by FlyteSchema")
        if tp.columns():
            desc["columns"] = {name: handlers.describe(t) for name, t in tp.columns().items()}
        return desc

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        if isinstance(value, FlyteSchema):
            return None
        if desc.get("python") == "schema":
            reason = super().check(value, {**desc, "columns": None})
            return None if reason is None else f"No automatic conversion found from type " \
                f"{type(value).__name__} to FlyteSchema"
        return super().check(value, desc)

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        if not isinstance(value, FlyteSchema):
            return super().encode(value, desc, store, where)
        if value._literal is not None:
            return value._literal
        unread = value.supported_mode == SchemaOpenMode.READ and not value._downloaded
        if (value._local_path is None or unread) and value._given_remote:
            # given by where its parts are, never read here: stored from there
            return encode_table(StructuredDataset(uri=value._given_remote,
                                                  file_format=PARQUET), desc, store, where)
        parts = [p for p in sorted(os.listdir(value.local_path)) if not p.startswith(".")]
        if not parts:
            return write_native(to_table(_pandas().DataFrame()), store)
        try:  # the parts as flytekit's pandas reader reads them: concatenated
            frame = SchemaEngine.get_handler(_pandas().DataFrame).reader(
                value.local_path, None, SchemaFormat.PARQUET).all()
        except Exception as exc:
            raise TypeConversionError(f"{where}: the schema's parts in {value.local_path} "
                                      f"cannot be read ({type(exc).__name__}: {exc})") from exc
        return encode_table(frame, {**desc, "python": "dataframe"}, store, where)

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        if desc.get("python") != "schema":
            return super().decode(lit, desc, store, where)
        cols = desc.get("columns") or {}
        cls = FlyteSchema[{n: _column_type(d) for n, d in cols.items()}] if cols \
            else FlyteSchema
        schema = cls(remote_path=str(lit.get("key") or lit.get("uri") or "stored"),
                     supported_mode=SchemaOpenMode.READ)
        schema._literal, schema._store = lit, store
        return schema


register(SchemaTableHandler(), first=True)
