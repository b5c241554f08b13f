"""pydantic (v2) models as task inputs and outputs, and graft's value classes as their fields.

    class Datum(BaseModel):
        x: int
        z: dict[int, str]
        table: StructuredDataset
        file: File | None = None

A model travels as a dataclass does: its literal is a JSON object holding each field's literal,
converted by the handler of the field's annotation (`{"t": "basemodel", "ref": ...,
"fields": {name: descriptor}}`). So a `File`, `Directory` or `StructuredDataset` field goes
through the store by content as it does anywhere, a nested model, an `Optional`, a list or a
dict is converted part by part, cache keys hash the content, and a workflow may read a field
(`res.x`). Fields no handler converts (a `datetime`, a `UUID`) are pickled, as anywhere. The
task downstream gets the model back from its class (imported by name, from the code bundle on a
worker) with `model_validate`, so the model's own validators run, as flytekit's
`model_validate_json` runs them. The fields of a model that contains itself are read from its
class when a value is converted. Extra fields (`extra="allow"`) travel as `Any` values.

graft does not need pydantic: a type is a model only when pydantic has been imported (by the
module that defines it). Importing this module lets pydantic build schemas for fields of
graft's value classes (`File`, `Directory`, `StructuredDataset`): a field takes an object of
the class (a `File` or a `Directory` field also a path), and in JSON mode (`model_dump_json`)
gives its path or uri.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

from sdk.model.errors import TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc, qualified_name, type_name
from sdk.values import handlers
from sdk.values.files import Directory, File
from sdk.values.handlers import TypeHandler, register
from sdk.values.structured_dataset import StructuredDataset

_ANY: TypeDesc = {"t": "any"}
_in_progress = threading.local()


def _base_model() -> type | None:
    """pydantic's BaseModel when pydantic is imported (no model exists before it is)."""
    pydantic = sys.modules.get("pydantic")
    return getattr(pydantic, "BaseModel", None) if pydantic is not None else None


def _is_model(cls: type) -> bool:
    base = _base_model()
    return base is not None and issubclass(cls, base)


def _fields_of(cls: type) -> dict[str, TypeDesc]:
    """The descriptors of a model class's fields (a field whose model is being described
    already, a model containing itself, gets a descriptor without fields)."""
    busy: set[str] = _in_progress.__dict__.setdefault("refs", set())
    ref = qualified_name(cls)
    busy.add(ref)
    try:
        return {name: handlers.describe(info.annotation)
                for name, info in cls.model_fields.items()}  # type: ignore[attr-defined]
    finally:
        busy.discard(ref)


def _fields(desc: TypeDesc) -> dict[str, TypeDesc]:
    if "fields" in desc:
        return desc["fields"]
    cls = handlers.try_class(desc.get("ref"))
    return _fields_of(cls) if cls is not None and _is_model(cls) else {}


def _expected(desc: TypeDesc, value: Any) -> str:
    return f"expected {type_name(desc)}, got {type(value).__name__}"


@functools.cache
def _by_name(cls: Any) -> dict[str, Any]:
    """`model_validate`'s option to take fields by name even when they have an alias
    (pydantic >= 2.11)."""
    try:
        return {"by_name": True} if "by_name" in inspect.signature(
            cls.model_validate).parameters else {}
    except (TypeError, ValueError):
        return {}


def _aliased(cls: Any, values: dict[str, Any]) -> dict[str, Any]:
    """`values` keyed by the fields' aliases, for a pydantic that cannot take names."""
    out = dict(values)
    for name, info in cls.model_fields.items():
        alias = info.validation_alias if isinstance(info.validation_alias, str) else info.alias
        if alias and name in out and not cls.model_config.get("populate_by_name"):
            out[alias] = out.pop(name)
    return out


def _refusal(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return f"{type(exc).__name__}: {exc}"
    parts = [f"field {'.'.join(map(str, e.get('loc', ()))) or '(model)'!r}: {e.get('msg')}"
             for e in errors()[:5]]
    return "; ".join(parts)


class BaseModelHandler(TypeHandler):
    """pydantic models: `{field name: field literal}`."""

    kind = "basemodel"

    def describe(self, tp: Any) -> TypeDesc | None:
        base = _base_model()
        if base is None or not isinstance(tp, type) or not issubclass(tp, base) or tp is base:
            return None
        ref = qualified_name(tp)
        if ref in _in_progress.__dict__.get("refs", ()):
            return {"t": "basemodel", "ref": ref}
        return {"t": "basemodel", "ref": ref, "fields": _fields_of(tp)}

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        cls = handlers.try_class(desc.get("ref"))
        if cls is not None and not isinstance(value, cls):
            return _expected(desc, value)
        for name, fdesc in _fields(desc).items():
            if not hasattr(value, name):
                return f"{_expected(desc, value)} without field {name!r}"
            reason = handlers.check_value(getattr(value, name), fdesc)
            if reason:
                return f"field {name!r}: {reason}"
        return None

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        out = {name: handlers.encode_checked(getattr(value, name), fdesc, store,
                                             f"{where}, field {name!r}")
               for name, fdesc in _fields(desc).items()}
        for name, extra in (getattr(value, "model_extra", None) or {}).items():
            if name not in out:
                out[name] = handlers.encode(extra, _ANY, store, f"{where}, field {name!r}")
        return out

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        cls: Any = handlers.resolve_class(desc["ref"], _is_model, "a pydantic model", where)
        if not isinstance(lit, dict):
            raise TypeError(f"a model's literal is a JSON object, got {type(lit).__name__}")
        fields = _fields(desc)
        values = {name: handlers.decode(sub, fields.get(name, _ANY), store,
                                        f"{where}, field {name!r}")
                  for name, sub in lit.items()}
        options = _by_name(cls)
        try:
            return cls.model_validate(values if options else _aliased(cls, values), **options)
        except ValueError as exc:  # pydantic's ValidationError
            raise TypeConversionError(f"{where}: {cls.__name__} refuses the stored value "
                                      f"({_refusal(exc)})") from exc

    def normalise(self, lit: Any, desc: TypeDesc) -> Any:
        if not isinstance(lit, dict):
            return lit
        fields = _fields(desc)
        return {k: handlers.normalise(v, fields[k]) if k in fields else v
                for k, v in lit.items()}

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        fields = _fields(desc)
        for name, sub in lit.items():
            yield from handlers.store_keys(sub, fields.get(name, _ANY))

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        cls: Any = handlers.resolve_class(desc["ref"], _is_model, "a pydantic model",
                                          "command-line value")
        try:
            return cls.model_validate_json(raw)
        except ValueError as exc:
            raise ValueError(f"expected the JSON of a {cls.__name__} ({_refusal(exc)})"
                             ) from None


# ---- graft's value classes as fields of a model -------------------------------------------


def _as_json(value: Any) -> Any:
    if isinstance(value, (File, Directory)):
        return value.remote_source or value.path
    return value.uri if isinstance(value, StructuredDataset) else value


def _schema(cls: Any, source: Any, handler: Any) -> Any:
    """pydantic's hook (`__get_pydantic_core_schema__`): a field of `cls` takes an object of
    it, or for a file or a folder a path."""
    from pydantic_core import core_schema

    paths = issubclass(cls, (File, Directory))

    def validate(value: Any) -> Any:
        if isinstance(value, cls):
            return value
        if paths and isinstance(value, (str, os.PathLike)) and not isinstance(
                value, (File, Directory)):
            return cls(os.fspath(value))
        raise ValueError(f"expected {cls.__name__}{' or a path' if paths else ''}, got "
                         f"{type(value).__name__}")

    return core_schema.no_info_plain_validator_function(
        validate, json_schema_input_schema=core_schema.str_schema(),
        serialization=core_schema.plain_serializer_function_ser_schema(
            _as_json, when_used="json"))


# Kept here rather than in the classes, so that all graft knows of pydantic is in this module.
for _cls in (File, Directory, StructuredDataset):
    _cls.__get_pydantic_core_schema__ = classmethod(_schema)  # type: ignore[attr-defined]

register(BaseModelHandler())
