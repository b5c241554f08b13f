"""Literals and value references, and the bindings that carry them.

A *literal* is the JSON form of a value of a known type (files become store keys; see
`sdk.values.handlers`). A *value reference* (`{"v": literal}` or `{"u": store key}`) is how
literals travel: small ones inline, larger ones in the store under a content-derived key. The
local runner and the workers use these same functions, so local and remote runs see the same
values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.errors import StoreError, TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc
from sdk.values.handlers import decode, encode, store_keys
from sdk.values.store import get_verified, put_blob

__all__ = ["INLINE_LIMIT_BYTES", "ValueRef", "decode", "dumps", "encode", "from_ref",
           "materialize", "ref_keys", "to_ref", "value_binding"]

INLINE_LIMIT_BYTES = 2048

ValueRef = dict[str, Any]


def dumps(obj: Any) -> bytes:
    """Canonical JSON: the same value always gives the same bytes (and the same key)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def to_ref(literal: Any, store: Store, limit: int = INLINE_LIMIT_BYTES) -> ValueRef:
    data = dumps(literal)
    if len(data) <= limit:
        return {"v": literal}
    return {"u": put_blob(store, data, prefix="values")}


def from_ref(ref: ValueRef, store: Store) -> Any:
    if "v" in ref:
        return ref["v"]
    try:
        key = ref["u"]
    except (KeyError, TypeError) as exc:
        raise StoreError(f"malformed value reference {ref!r}") from exc
    return json.loads(get_verified(store, key))


def value_binding(value: Any, desc: TypeDesc, store: Store, where: str) -> Binding:
    """The binding of a Python value of type `desc` (its literal, inline or in the store)."""
    return {"val": to_ref(encode(value, desc, store, where), store)}


def materialize(binding: Binding, store: Store) -> Any:
    """The literal a resolved binding stands for (store objects fetched)."""

    def leaf(kind: str, body: Any) -> Any:
        if kind != "val":
            raise StoreError(f"binding {{{kind!r}: {body!r}}} is not resolved")
        return from_ref(body, store)

    return bindings.fold(binding, leaf)


def load(binding: Binding, desc: TypeDesc, store: Store, where: str) -> Any:
    """The Python value a resolved binding stands for."""
    return decode(materialize(binding, store), desc, store, where)


def ref_keys(binding: Binding, desc: TypeDesc, store: Store) -> Iterator[str]:
    """The store keys a resolved binding needs: stored literals and what they refer to (a
    literal kept in the store is read only when it is there)."""
    refs: list[str] = []

    def leaf(kind: str, body: Any) -> Any:
        if "u" in body:
            refs.append(body["u"])
            if not store.exists(body["u"]):
                return None
        return from_ref(body, store)

    try:
        literal = bindings.fold(binding, leaf)
    except (StoreError, ValueError, TypeConversionError):
        yield from refs
        return
    yield from refs
    try:
        yield from store_keys(literal, desc)
    except (KeyError, TypeError, AttributeError):
        return
