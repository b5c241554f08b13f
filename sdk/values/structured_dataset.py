"""The user's `StructuredDataset`, and flytekit's registry of dataframe encoders and decoders.

    class NumpyEncodingHandler(StructuredDatasetEncoder):
        def encode(self, ctx, structured_dataset, structured_dataset_type):
            ...                                       # write under ctx.file_access
            return literals.StructuredDataset(uri=path, metadata=...)

    StructuredDatasetTransformerEngine.register(NumpyEncodingHandler(np.ndarray, None, PARQUET))

A table travels as a format (`PARQUET`, `CSV`, any string) and where it is. An encoder turns a
dataframe of its Python type into files under the context's raw output prefix (which graft
then puts into its store, `sdk.values.transformer_handler.stow`); a decoder turns them back
into a dataframe of its type. Handlers are found by Python type, protocol (graft's files are
local: "file", which the handlers registered for every protocol serve) and format, as in
flytekit. graft's own pandas and pyarrow Parquet handlers keep a table as one Parquet object in
the store (`sdk.values.structured_formats`).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import typing
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from sdk.model.errors import ConfigError
from sdk.model.store import Store
from sdk.values.flyte_literals import StructuredDatasetMetadata
from sdk.values.type_engine import TypeEngine, TypeTransformer

T = TypeVar("T")
DF = TypeVar("DF")

StructuredDatasetFormat = str
PARQUET: StructuredDatasetFormat = "parquet"
CSV: StructuredDatasetFormat = "csv"
GENERIC_FORMAT: StructuredDatasetFormat = ""
GENERIC_PROTOCOL = "generic protocol"
LOCAL_PROTOCOL = "file"  # where graft's tables are when a task reads them


def kwtypes(**columns: type) -> collections.OrderedDict[str, type]:
    """Column names and types, for `Annotated[StructuredDataset, kwtypes(a=int, b=str)]`."""
    return collections.OrderedDict(columns)


# What opens a stored table, installed by sdk.values.structured (which this module's classes
# cannot import): (literal, store, dataframe type, columns, format, where) -> dataframe.
_opener: list[Callable[..., Any]] = []


class StructuredDataset:
    """A table: give it a dataframe (pandas, pyarrow, or any type with an encoder) to return
    one, or a `uri` of files already written; read one with `.open(pd.DataFrame).all()` (or
    any type with a decoder)."""

    def __init__(self, dataframe: Any = None, uri: str | None = None,
                 metadata: StructuredDatasetMetadata | None = None, **kwargs: Any):
        unknown = set(kwargs) - {"file_format"}
        if unknown:
            raise ConfigError(f"StructuredDataset() got unexpected argument(s) "
                              f"{', '.join(sorted(unknown))}")
        self._dataframe = dataframe
        self.uri = None if uri is None else str(uri)
        self.file_format: str = kwargs.get("file_format", GENERIC_FORMAT) or GENERIC_FORMAT
        self._metadata = metadata
        # set when the table comes from the store: its literal, and the columns asked for
        self._literal: dict[str, Any] | None = None
        self._store: Store | None = None
        self._columns: dict[str, Any] | None = None
        self._as: Any = None

    @property
    def dataframe(self) -> Any:
        return self._dataframe

    @dataframe.setter
    def dataframe(self, value: Any) -> None:
        self._dataframe = value

    @property
    def metadata(self) -> StructuredDatasetMetadata | None:
        return self._metadata

    @property
    def literal(self) -> dict[str, Any] | None:
        """graft's literal of the stored table (None for one made in this task)."""
        return self._literal

    @classmethod
    def columns(cls) -> dict[str, type]:
        return {}

    @classmethod
    def column_names(cls) -> list[str]:
        return list(cls.columns())

    def __repr__(self) -> str:
        where = "in memory" if self._dataframe is not None else (
            self.uri or (self._literal or {}).get("key") or "stored")
        return f"StructuredDataset({where})"

    def open(self, dataframe_type: Any) -> StructuredDataset:
        """Choose the type `all()` and `iter()` give the table as (`pandas.DataFrame`,
        `pyarrow.Table`, or any type with a decoder)."""
        self._as = dataframe_type
        return self

    def all(self) -> Any:
        """The whole table (only the declared columns), as chosen with `open()`."""
        return _opener[0](self, iterate=False)

    def iter(self) -> Iterator[Any]:
        """The table in parts, as chosen with `open()`."""
        return _opener[0](self, iterate=True)


def flatten_dict(sub_dict: dict[str, Any], parent_key: str = "") -> dict[str, Any]:
    """Nested column maps (dicts and dataclasses) as `a.b.c` names, as flytekit's."""
    result: dict[str, Any] = {}
    for key, value in sub_dict.items():
        current = f"{parent_key}.{key}" if parent_key else key
        if isinstance(value, dict):
            result.update(flatten_dict(value, current))
        elif dataclasses.is_dataclass(value) and isinstance(value, type):
            result.update(flatten_dict(typing.get_type_hints(value), current))
        else:
            result[current] = value
    return result


def extract_cols_and_format(t: Any) -> tuple[Any, collections.OrderedDict[str, Any] | None,
                                             str, Any]:
    """What an annotation says of a table: (its type, its columns or None, its format or "",
    a pyarrow schema or None), as flytekit reads `Annotated[StructuredDataset, ...]`."""
    fmt, columns, schema = GENERIC_FORMAT, None, None
    if typing.get_origin(t) is not typing.Annotated:
        return t, None, fmt, None
    base, *extras = typing.get_args(t)
    for extra in extras:
        if isinstance(extra, type) and dataclasses.is_dataclass(extra):
            columns = collections.OrderedDict(typing.get_type_hints(extra))
        elif isinstance(extra, type) and getattr(extra, "__annotations__", None):
            columns = collections.OrderedDict(extra.__annotations__)  # a class's fields
        elif isinstance(extra, dict):
            if columns is not None and isinstance(extra, collections.OrderedDict):
                raise ValueError(f"Column information was already found {columns}, cannot "
                                 f"use {extra}")
            columns = collections.OrderedDict(extra)
        elif isinstance(extra, str):
            if fmt:
                raise ValueError(f"A format was already specified {fmt}, cannot use {extra}")
            fmt = extra
        elif type(extra).__name__ == "Schema" and type(extra).__module__.startswith("pyarrow"):
            schema = extra
    return base, columns, fmt, schema


class StructuredDatasetEncoder(Generic[T]):
    """Turns a dataframe of `python_type` into files in `supported_format` (flytekit's base:
    implement `encode`)."""

    def __init__(self, python_type: type[T], protocol: str | None = None,
                 supported_format: str | None = None):
        self._python_type = python_type
        self._protocol = protocol.replace("://", "") if protocol else None
        self._supported_format = supported_format or ""

    @property
    def python_type(self) -> type[T]:
        return self._python_type

    @property
    def protocol(self) -> str | None:
        return self._protocol

    @property
    def supported_format(self) -> str:
        return self._supported_format

    def encode(self, ctx: Any, structured_dataset: StructuredDataset,
               structured_dataset_type: Any) -> Any:
        """Write `structured_dataset.dataframe`; return a `literals.StructuredDataset` naming
        where."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self._python_type.__name__}, {self._protocol}, "
                f"{self._supported_format!r})")


class StructuredDatasetDecoder(Generic[DF]):
    """Reads files in `supported_format` as a dataframe of `python_type` (flytekit's base:
    implement `decode`)."""

    def __init__(self, python_type: type[DF], protocol: str | None = None,
                 supported_format: str | None = None):
        self._python_type = python_type
        self._protocol = protocol.replace("://", "") if protocol else None
        self._supported_format = supported_format or ""

    @property
    def python_type(self) -> type[DF]:
        return self._python_type

    @property
    def protocol(self) -> str | None:
        return self._protocol

    @property
    def supported_format(self) -> str:
        return self._supported_format

    def decode(self, ctx: Any, flyte_value: Any, current_task_metadata: Any) -> Any:
        """The dataframe of `flyte_value` (a `literals.StructuredDataset`), only the columns
        of `current_task_metadata.structured_dataset_type` when it names some."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self._python_type.__name__}, {self._protocol}, "
                f"{self._supported_format!r})")


class DuplicateHandlerError(ValueError):
    pass


Handler = StructuredDatasetEncoder | StructuredDatasetDecoder
# Registers graft's built-in handlers for the dataframe libraries imported so far (installed
# by sdk.values.structured_formats), before any lookup or registration, as flytekit does.
_builtins: list[Callable[[], None]] = []


def ensure_builtins() -> None:
    for install in _builtins:
        install()


class StructuredDatasetTransformerEngine(TypeTransformer[Any]):
    """The registry of dataframe encoders and decoders, by type, protocol and format."""

    ENCODERS: dict[type, dict[str, dict[str, StructuredDatasetEncoder]]] = {}
    DECODERS: dict[type, dict[str, dict[str, StructuredDatasetDecoder]]] = {}
    DEFAULT_PROTOCOLS: dict[type, str] = {}
    DEFAULT_FORMATS: dict[type, str] = {}
    Renderers: dict[type, Any] = {}

    def __init__(self) -> None:
        super().__init__("StructuredDataset Transformer", StructuredDataset)
        self._type_assertions_enabled = False

    @classmethod
    def _finder(cls, handler_map: dict[type, dict[str, dict[str, Any]]], df_type: type,
                protocol: str, format: str) -> Any:
        try:
            return handler_map[df_type][protocol][format]
        except KeyError:
            pass
        fsspec_handler = protocol_handler = single_handler = None
        default_format = cls.DEFAULT_FORMATS.get(df_type)
        generic = handler_map.get(df_type, {}).get("fsspec")
        if generic:
            if format in generic:
                fsspec_handler = generic[format]
            elif GENERIC_FORMAT in generic:
                fsspec_handler = generic[GENERIC_FORMAT]
            elif default_format and default_format in generic and format == GENERIC_FORMAT:
                fsspec_handler = generic[default_format]
            elif len(generic) == 1 and format == GENERIC_FORMAT:
                single_handler = next(iter(generic.values()))
        specific = handler_map.get(df_type, {}).get(protocol)
        if specific:
            if GENERIC_FORMAT in specific:
                protocol_handler = specific[GENERIC_FORMAT]
            elif default_format and default_format in specific:
                protocol_handler = specific[default_format]
            elif len(specific) == 1:
                single_handler = next(iter(specific.values()))
        found = protocol_handler or fsspec_handler or single_handler
        if found is None:
            raise ValueError(f"Failed to find a handler for {df_type}, protocol [{protocol}], "
                             f"fmt ['{format}']")
        return found

    @classmethod
    def get_encoder(cls, df_type: type, protocol: str, format: str) -> StructuredDatasetEncoder:
        ensure_builtins()
        return cls._finder(cls.ENCODERS, df_type, protocol, format)

    @classmethod
    def get_decoder(cls, df_type: type, protocol: str, format: str) -> StructuredDatasetDecoder:
        ensure_builtins()
        return cls._finder(cls.DECODERS, df_type, protocol, format)

    @classmethod
    def handles(cls, df_type: Any) -> bool:
        """Whether some encoder or decoder takes dataframes of `df_type`."""
        ensure_builtins()
        try:
            return df_type in cls.ENCODERS or df_type in cls.DECODERS
        except TypeError:  # unhashable
            return False

    @classmethod
    def register_renderer(cls, python_type: type, renderer: Any) -> None:
        cls.Renderers[python_type] = renderer

    @classmethod
    def register(cls, h: Handler, default_for_type: bool = False, override: bool = False,
                 default_format_for_type: bool = False,
                 default_storage_for_type: bool = False) -> None:
        """Register an encoder or decoder (for every protocol when its protocol is None).
        DuplicateHandlerError when one is registered for its type, protocol and format
        already, unless `override`."""
        if not isinstance(h, (StructuredDatasetEncoder, StructuredDatasetDecoder)):
            raise TypeError(f"We don't support this type of handler {h}")
        ensure_builtins()
        if h.protocol is None:
            if default_for_type:
                raise ValueError(f"Registering SD handler {h} with all protocols should never "
                                 f"have default specified.")
            with contextlib.suppress(DuplicateHandlerError):  # skipped, as flytekit does
                cls.register_for_protocol(h, "fsspec", False, override,
                                          default_format_for_type, default_storage_for_type)
        elif h.protocol == "":
            raise ValueError(f"Use None instead of empty string for registering handler {h}")
        else:
            cls.register_for_protocol(h, h.protocol, default_for_type, override,
                                      default_format_for_type, default_storage_for_type)

    @classmethod
    def register_for_protocol(cls, h: Handler, protocol: str, default_for_type: bool,
                              override: bool, default_format_for_type: bool,
                              default_storage_for_type: bool) -> None:
        if protocol == "/":
            protocol = "file"
        top = cls.ENCODERS if isinstance(h, StructuredDatasetEncoder) else cls.DECODERS
        lowest = top.setdefault(h.python_type, {}).setdefault(protocol, {})
        if h.supported_format in lowest and not override:
            raise DuplicateHandlerError(f"Already registered a handler for "
                                        f"{(h.python_type, protocol, h.supported_format)}")
        lowest[h.supported_format] = h
        if (default_format_for_type or default_for_type) and h.supported_format and (
                h.python_type not in cls.DEFAULT_FORMATS or override):
            cls.DEFAULT_FORMATS[h.python_type] = h.supported_format
        if (default_storage_for_type or default_for_type) and (
                h.python_type not in cls.DEFAULT_PROTOCOLS or override):
            cls.DEFAULT_PROTOCOLS[h.python_type] = protocol
        # values of the type are tables now (graft's table handler describes them)
        engine = StructuredDatasetTransformerEngine()
        engine._graft_builtin = True  # type: ignore[attr-defined]
        TypeEngine.register_additional_type(engine, h.python_type, override=True)

    def get_literal_type(self, t: Any) -> Any:
        from sdk.values.flyte_types import LiteralType, StructuredDatasetType

        _, _, fmt, _ = extract_cols_and_format(t)
        return LiteralType(structured_dataset_type=StructuredDatasetType(format=fmt))

    def to_literal(self, ctx: Any, python_val: Any, python_type: Any, expected: Any) -> Any:
        from sdk.values.builtin_transformers import GRAFT_VALUE

        return GRAFT_VALUE.to_literal(ctx, python_val, python_type, expected)

    def to_python_value(self, ctx: Any, lv: Any, expected_python_type: Any) -> Any:
        from sdk.values.builtin_transformers import GRAFT_VALUE

        return GRAFT_VALUE.to_python_value(ctx, lv, expected_python_type)

    def to_html(self, ctx: Any, python_val: Any, expected_python_type: Any) -> str:
        df = python_val.dataframe if isinstance(python_val, StructuredDataset) else python_val
        renderer = self.Renderers.get(type(df))
        if renderer is None:
            raise NotImplementedError(f"Could not find a renderer for {type(df)} in "
                                      f"{self.Renderers}")
        return str(renderer.to_html(df))

    def guess_python_type(self, literal_type: Any) -> Any:
        if getattr(literal_type, "structured_dataset_type", None) is not None:
            return StructuredDataset
        raise ValueError(f"StructuredDatasetTransformerEngine cannot reverse {literal_type}")


def register_engine() -> None:
    engine = StructuredDatasetTransformerEngine()
    engine._graft_builtin = True  # type: ignore[attr-defined]
    TypeEngine.register(engine)
