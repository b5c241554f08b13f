"""The bridge between flytekit's literals and graft's: the handler of every type a user
registered a `TypeTransformer` for (`TypeEngine.register`).

Descriptor: `{"t": "flyte", "ref": "module:Class", "transformer": name, "literal_type": JSON}`.
Two such types bind to each other when they are the same class or have the same literal type,
as Flyte checks literal types.

A value is converted by the transformer's `to_literal`, and the `Literal` it returns is kept as
its JSON (`sdk.values.flyte_literals`) with one change: the file or folder a blob or a
structured dataset points at (`uri`, a local path: usually one the transformer wrote under
`ctx.file_access.raw_output_prefix`) is put into graft's store by content, as a `File` or
`Directory` is, and the literal keeps that instead of the path:

    {"scalar": {"blob": {"metadata": {...}, "dir": {"name": "x", "files": {"a": "blobs/..."}}}}}
    {"scalar": {"blob": {"metadata": {...}, "file": {"key": "blobs/...", "name": "f.bin"}}}}
    {"scalar": {"blob": {"metadata": {...}, "uri": "s3://bucket/x"}}}   (a URL stays a URL)

So the same content gives the same literal (cache keys hash content), and a worker reads it
from the store. Back, the stored content is made local (once per machine, under graft's cache
folder, read-only by convention) and the transformer's `to_python_value` gets a `Literal` whose
`uri` is that local path; it copies what it needs (`ctx.file_access.download_directory`).
What the transformer wrote under the raw output prefix is removed once it is stored.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from typing import Any

from sdk.model.errors import GraftError, TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import KindRule, TypeDesc, qualified_name
from sdk.values import handlers
from sdk.values.builtin_transformers import using_store
from sdk.values.flyte_context import FlyteContextManager
from sdk.values.flyte_literals import Literal
from sdk.values.flyte_types import LiteralType
from sdk.values.handlers import TypeHandler, register
from sdk.values.stowed import LOCATED, fetch, located_keys, stow
from sdk.values.type_engine import TypeEngine, TypeTransformer, run_sync


def _base(tp: Any) -> Any:
    return typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp


def _has_user_transformer(cls: type) -> bool:
    return TypeEngine.user_transformer(cls) is not None


def _map_located(lit: dict[str, Any], fn: Callable[[dict[str, Any]], dict[str, Any]]
                 ) -> dict[str, Any]:
    """`lit` (a Literal's JSON) with `fn` applied to every blob and structured dataset."""
    out = dict(lit)
    scalar = lit.get("scalar")
    if isinstance(scalar, dict):
        scalar = dict(scalar)
        for kind in ("blob", "structured_dataset"):
            if isinstance(scalar.get(kind), dict):
                scalar[kind] = fn(scalar[kind])
        if isinstance(scalar.get("union"), dict) and "value" in scalar["union"]:
            scalar["union"] = {**scalar["union"],
                               "value": _map_located(scalar["union"]["value"], fn)}
        out["scalar"] = scalar
    if isinstance(lit.get("collection"), dict):
        out["collection"] = {"literals": [_map_located(x, fn)
                                          for x in lit["collection"].get("literals", [])]}
    if isinstance(lit.get("map"), dict):
        out["map"] = {"literals": {k: _map_located(x, fn)
                                   for k, x in lit["map"].get("literals", {}).items()}}
    return out


def _keys_of(lit: dict[str, Any]) -> list[str]:
    keys: list[str] = []

    def collect(part: dict[str, Any]) -> dict[str, Any]:
        keys.extend(located_keys(part))
        return part

    _map_located(lit, collect)
    return keys


class TransformerRule(KindRule):
    kind = "flyte"

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        return src.get("ref") == dst.get("ref") or (
            src.get("literal_type") == dst.get("literal_type") and bool(src.get("literal_type")))


class TransformerHandler(TransformerRule, TypeHandler):
    """Values of a type with a user's TypeTransformer, converted by it."""

    def describe(self, tp: Any) -> TypeDesc | None:
        base = _base(tp)
        if not isinstance(base, type):
            return None
        transformer = TypeEngine.user_transformer(tp)
        if transformer is None:
            return None
        try:
            literal_type = transformer.get_literal_type(tp)
        except Exception as exc:
            raise TypeConversionError(f"{transformer.name}.get_literal_type({base.__name__}) "
                                      f"raised {type(exc).__name__}: {exc}") from exc
        return {"t": "flyte", "ref": qualified_name(base), "transformer": transformer.name,
                "literal_type": literal_type.to_json() if literal_type is not None else {}}

    def _resolve(self, desc: TypeDesc, where: str) -> tuple[type, TypeTransformer]:
        cls = handlers.resolve_class(desc["ref"], _has_user_transformer,
                                     "a type with a TypeTransformer", where)
        transformer = TypeEngine.user_transformer(cls)
        assert transformer is not None
        return cls, transformer

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        cls = handlers.try_class(desc.get("ref"))
        transformer = TypeEngine.user_transformer(cls) if cls is not None else None
        if transformer is None or not transformer.type_assertions_enabled:
            return None
        try:
            transformer.assert_type(cls, value)
        except (TypeError, AssertionError, ValueError) as exc:
            return str(exc) or f"expected {cls.__name__}, got {type(value).__name__}"
        return None

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        cls, transformer = self._resolve(desc, where)
        ctx = FlyteContextManager.current_context()
        expected = LiteralType.from_json(desc.get("literal_type") or {})
        try:
            with using_store(store):
                lv = run_sync(transformer.to_literal(ctx, value, cls, expected))
        except GraftError:
            raise
        except Exception as exc:
            raise TypeConversionError(f"{where}: {transformer.name}.to_literal raised "
                                      f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(lv, Literal):
            raise TypeConversionError(f"{where}: {transformer.name}.to_literal returned a "
                                      f"{type(lv).__name__}, not a Literal")
        fa = ctx.file_access

        def keep(part: dict[str, Any]) -> dict[str, Any]:
            rest = {k: v for k, v in part.items() if k not in LOCATED}
            return {**rest, **stow(part.get("uri", ""), store, where, fa)}

        return _map_located(lv.to_json(), keep)

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        cls, transformer = self._resolve(desc, where)

        def local(part: dict[str, Any]) -> dict[str, Any]:
            rest = {k: v for k, v in part.items() if k not in LOCATED}
            return {**rest, "uri": fetch(part, store, where)}

        lv = Literal.from_json(_map_located(lit, local))
        ctx = FlyteContextManager.current_context()
        try:
            with using_store(store):
                return run_sync(transformer.to_python_value(ctx, lv, cls))
        except GraftError:
            raise
        except Exception as exc:
            raise TypeConversionError(f"{where}: {transformer.name}.to_python_value raised "
                                      f"{type(exc).__name__}: {exc}") from exc

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        yield from _keys_of(lit)


register(TransformerHandler(), first=True)
