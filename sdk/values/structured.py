"""Tables: the handler of pandas DataFrames, `StructuredDataset`s and every dataframe type with
an encoder or decoder (`StructuredDatasetTransformerEngine.register`).

    @task
    def load() -> pd.DataFrame: ...                                  # a DataFrame goes by value
    @task
    def pick(sd: Annotated[StructuredDataset, kwtypes(age=int)]) -> int:
        return int(sd.open(pd.DataFrame).all()["age"].sum())         # only the age column
    @task
    def as_csv(df: pd.DataFrame) -> Annotated[StructuredDataset, CSV]:
        return StructuredDataset(dataframe=df)                       # written by the CSV encoder

Descriptor: `{"t": "structured", "python": "dataset" | "dataframe" | "other", "format": f,
"columns": {name: type}}` ("other" adds the dataframe class's `ref`). Columns come from
`kwtypes`, a dict or a dataclass; nested ones are flattened to `a.b` names, as flytekit does.
All share one kind, so a DataFrame output may feed a StructuredDataset input and the other way
round.

Literals: graft's own Parquet handlers keep a table as one Parquet object
(`{"key", "format": "parquet", "columns"}`, `sdk.values.structured_formats`); any other
encoder's files are stored by content like a transformer's blob
(`{"format": f, "dir": ...}`, `sdk.values.transformer_handler.stow`), and handed to the
decoder as a local folder. pandas and pyarrow are needed only where tables are used
(`pip install 'graft[tables]'`).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from typing import Any

from sdk.model.errors import TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import KindRule, TypeDesc, qualified_name, type_name
from sdk.values import handlers
from sdk.values.flyte_context import FlyteContextManager
from sdk.values.flyte_literals import StructuredDataset as StructuredDatasetLiteral
from sdk.values.flyte_literals import StructuredDatasetMetadata
from sdk.values.flyte_types import LiteralType, SimpleType, StructuredDatasetType
from sdk.values.handlers import TypeHandler, register
from sdk.values.store import MemoryStore
from sdk.values.stowed import fetch, located_keys, stow
from sdk.values.structured_dataset import (
    CSV,
    GENERIC_FORMAT,
    LOCAL_PROTOCOL,
    PARQUET,
    StructuredDataset,
    StructuredDatasetTransformerEngine,
    _opener,
    extract_cols_and_format,
    flatten_dict,
    kwtypes,
    register_engine,
)
from sdk.values.structured_formats import (
    arrow,
    is_native,
    read_native,
    register_csv_handlers,
    to_table,
    write_native,
)

__all__ = ["CSV", "PARQUET", "StructuredDataset", "kwtypes", "register_csv_handlers"]

Engine = StructuredDatasetTransformerEngine
_SIMPLE = {"int": SimpleType.INTEGER, "float": SimpleType.FLOAT, "str": SimpleType.STRING,
           "bool": SimpleType.BOOLEAN}


def _is_pandas(tp: Any) -> bool:
    return isinstance(tp, type) and tp.__name__ == "DataFrame" \
        and tp.__module__.startswith("pandas")


def _is_frame_value(value: Any) -> bool:
    kind = type(value)
    return kind.__name__ in ("DataFrame", "Table") and kind.__module__.split(".")[0] in (
        "pandas", "pyarrow")


def _columns(desc: TypeDesc) -> list[str] | None:
    cols = desc.get("columns")
    return list(cols) if cols else None


def _has(have: list[str], name: str) -> bool:
    """Whether a table with top-level columns `have` has column `name` (`a.b`: a leaf of
    struct column `a`)."""
    return name in have or name.split(".")[0] in have


class StructuredRule(KindRule):
    kind = "structured"

    def name(self, desc: TypeDesc) -> str:
        python = desc.get("python")
        base = "DataFrame" if python == "dataframe" else "StructuredDataset" \
            if python != "other" else str(desc.get("ref", "table")).rpartition(":")[2]
        cols = _columns(desc)
        return f"{base}[{', '.join(cols)}]" if cols else base

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        """A table fits when it has every column the input asks for (when both say)."""
        want, have = _columns(dst), _columns(src)
        return want is None or have is None or all(_has(have, w) for w in want)


def _column_types(desc: TypeDesc) -> list[StructuredDatasetType.DatasetColumn]:
    return [StructuredDatasetType.DatasetColumn(
        name, LiteralType(simple=_SIMPLE.get(d.get("t", ""), SimpleType.STRUCT)))
        for name, d in (desc.get("columns") or {}).items()]


def _encoder(df_type: type, fmt: str, where: str) -> Any:
    """The encoder for `df_type` and `fmt`; for Parquet, which a descriptor says when the
    annotation names no format, the type's default or only encoder when none writes
    Parquet."""
    try:
        return Engine.get_encoder(df_type, LOCAL_PROTOCOL, fmt)
    except ValueError:
        pass
    try:
        if fmt != PARQUET:
            raise ValueError(fmt)
        return Engine.get_encoder(df_type, LOCAL_PROTOCOL, GENERIC_FORMAT)
    except ValueError:
        raise TypeConversionError(f"{where}: no encoder writes a {df_type.__name__} as a "
                                  f"{fmt!r} table (register a StructuredDatasetEncoder)"
                                  ) from None


def encode_table(value: Any, desc: TypeDesc, store: Store, where: str) -> dict[str, Any]:
    """The literal of a table: a StructuredDataset (passed on, given by uri, or wrapping a
    dataframe) or a dataframe, written by the encoder its type and the format find."""
    fmt = desc.get("format") or PARQUET
    if isinstance(value, StructuredDataset):
        if value._literal is not None and value.dataframe is None:
            return value._literal
        if value.dataframe is None:
            if not value.uri:
                raise TypeConversionError(f"{where}: a StructuredDataset needs a dataframe "
                                          f"or a uri")
            return {"format": value.file_format or fmt, **stow(value.uri, store, where, None)}
        sd = value
    else:
        sd = StructuredDataset(dataframe=value)
    encoder = _encoder(type(sd.dataframe), fmt, where)
    if is_native(encoder) and not sd.uri:  # with a uri, the encoder writes the table there
        return write_native(to_table(sd.dataframe), store)
    ctx = FlyteContextManager.current_context()
    sdt = StructuredDatasetType(columns=_column_types(desc), format=fmt)
    try:
        model = encoder.encode(ctx, sd, sdt)
    except Exception as exc:
        raise TypeConversionError(f"{where}: {type(encoder).__name__}.encode raised "
                                  f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(model, StructuredDatasetLiteral):
        raise TypeConversionError(f"{where}: {type(encoder).__name__}.encode returned a "
                                  f"{type(model).__name__}, not a literals.StructuredDataset")
    meta = model.metadata.structured_dataset_type if model.metadata else None
    out_fmt = encoder.supported_format or (meta.format if meta else "") or fmt
    return {"format": out_fmt, **stow(model.uri, store, where, ctx.file_access)}


def _local_uri(lit: dict[str, Any], store: Store, where: str) -> str:
    """A local folder (or a URL) holding the table's files."""
    if "key" in lit:  # graft's one Parquet object, as flytekit's folder of parts
        return handlers.decode({"name": "table", "files": {f"{0:05}": lit["key"]}},
                               {"t": "dir"}, store, where).path
    return fetch(lit, store, where)


def open_literal(lit: dict[str, Any], store: Store, df_type: Any,
                 columns: dict[str, Any] | None, where: str, iterate: bool = False) -> Any:
    """The stored table as a `df_type` (only `columns` when given), by the decoder its type
    and format find (an iterator of parts with `iterate`)."""
    fmt = lit.get("format") or PARQUET
    try:
        decoder = Engine.get_decoder(df_type, LOCAL_PROTOCOL, fmt)
    except ValueError:
        if _is_ndarray(df_type):  # no decoder of the user's: through pandas
            return _to_numpy(open_literal(lit, store, _pandas(), columns, where, iterate),
                             iterate)
        raise TypeConversionError(f"{where}: no decoder reads a {fmt!r} table as "
                                  f"{getattr(df_type, '__name__', df_type)} (register a "
                                  f"StructuredDatasetDecoder; graft itself opens a table "
                                  f"as a pandas DataFrame, a pyarrow Table or a numpy "
                                  f"ndarray)") from None
    names = list(columns) if columns else None
    if is_native(decoder):
        table = read_native(lit, store, names, where)
        as_pandas = _is_pandas(df_type)
        if iterate:
            return (b.to_pandas() if as_pandas else b for b in table.to_batches())
        return table.to_pandas() if as_pandas else table
    desc: TypeDesc = {"columns": columns or {}}
    current = StructuredDatasetMetadata(StructuredDatasetType(_column_types(desc), fmt))
    flyte_value = StructuredDatasetLiteral(_local_uri(lit, store, where),
                                           StructuredDatasetMetadata(
                                               StructuredDatasetType(format=fmt)))
    try:
        result = decoder.decode(FlyteContextManager.current_context(), flyte_value, current)
    except Exception as exc:
        raise TypeConversionError(f"{where}: {type(decoder).__name__}.decode raised "
                                  f"{type(exc).__name__}: {exc}") from exc
    if iterate:
        return result if inspect.isgenerator(result) else iter([result])
    if inspect.isgenerator(result):
        raise TypeConversionError(f"{where}: decoder {type(decoder).__name__} returned an "
                                  f"iterator but the whole table was asked for; use .iter()")
    return result


def _is_ndarray(tp: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and tp is numpy.ndarray


def _pandas() -> type:
    import pandas as pd

    return pd.DataFrame


def _to_numpy(frames: Any, iterate: bool) -> Any:
    """A table opened as pandas, as numpy: `DataFrame.to_numpy()`, a row per row (what the
    numpy decoder of flytekit's documentation gives)."""
    if iterate:
        return (df.to_numpy() for df in frames)
    return frames.to_numpy()


def _open(sd: StructuredDataset, iterate: bool) -> Any:
    """`sd.all()` / `sd.iter()`: the table as the type chosen with `open()` (pandas when
    none was)."""
    as_type = sd._as
    if as_type is None:
        import pandas as pd

        as_type = pd.DataFrame
    where = repr(sd)
    df = sd.dataframe
    if df is not None:  # made in this task: convert in memory
        if isinstance(as_type, type) and isinstance(df, as_type):
            return iter([df]) if iterate else df
        if _is_frame_value(df) and (_is_pandas(as_type) or as_type is arrow().Table):
            table = to_table(df)
            out = table.to_pandas() if _is_pandas(as_type) else table
            return iter([out]) if iterate else out
        store = MemoryStore()
        lit = encode_table(sd, {"format": sd.file_format or PARQUET}, store, where)
        return open_literal(lit, store, as_type, sd._columns, where, iterate)
    if sd._literal is not None and sd._store is not None:
        return open_literal(sd._literal, sd._store, as_type, sd._columns, where, iterate)
    if sd.uri:
        lit = {"format": sd.file_format or PARQUET, "uri": sd.uri}
        return open_literal(lit, MemoryStore(), as_type, sd._columns, where, iterate)
    raise TypeConversionError("this StructuredDataset holds no table")


_opener[:] = [_open]


class StructuredHandler(StructuredRule, TypeHandler):
    def describe(self, tp: Any) -> TypeDesc | None:
        try:
            base, columns, fmt, _schema = extract_cols_and_format(tp)
        except ValueError as exc:
            raise TypeConversionError(f"{tp}: {exc}") from None
        if not isinstance(base, type):
            return None
        desc: TypeDesc
        if issubclass(base, StructuredDataset):
            desc = {"t": "structured", "python": "dataset"}
        elif _is_pandas(base):
            desc = {"t": "structured", "python": "dataframe"}
        elif Engine.handles(base):
            desc = {"t": "structured", "python": "other", "ref": qualified_name(base)}
        else:
            return None
        desc["format"] = fmt or PARQUET
        if columns:
            desc["columns"] = {name: handlers.describe(t)
                               for name, t in flatten_dict(columns).items()}
        return desc

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        if isinstance(value, StructuredDataset):
            return None
        if _is_frame_value(value):
            have = list(map(str, value.columns)) if type(value).__name__ == "DataFrame" \
                else list(value.column_names)
            missing = [c for c in _columns(desc) or () if not _has(have, c)]
            return f"table lacks column(s) {', '.join(missing)}" if missing else None
        if Engine.handles(type(value)) and desc.get("python") != "dataframe":
            return None
        return f"expected {type_name(desc)}, got {type(value).__name__}"

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        return encode_table(value, desc, store, where)

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        columns = desc.get("columns") or None
        python = desc.get("python")
        if python == "dataframe":
            import pandas as pd

            return open_literal(lit, store, pd.DataFrame, columns, where)
        if python == "other":
            cls = handlers.resolve_class(desc["ref"], Engine.handles, "a dataframe type",
                                         where)
            return open_literal(lit, store, cls, columns, where)
        sd = StructuredDataset(file_format=lit.get("format", PARQUET))
        sd._literal, sd._store, sd._columns = lit, store, columns
        sd._metadata = StructuredDatasetMetadata(StructuredDatasetType(
            _column_types(desc), lit.get("format", PARQUET)))
        return sd

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        if "key" in lit:
            yield lit["key"]
        else:
            yield from located_keys(lit)


register_engine()
register(StructuredHandler(), first=True)

