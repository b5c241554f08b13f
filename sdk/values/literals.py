"""Literals and value references, and the bindings that carry them.

A *literal* is the JSON form of a value of a known type (files become store keys; see
`sdk.values.handlers`). A *value reference* (`{"v": literal}` or `{"u": store key}`) is how
literals travel: small ones inline, larger ones in the store under a content-derived key. The
local runner and the workers use these same functions, so local and remote runs see the same
values.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.errors import StoreError, StoreIntegrityError, TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc
from sdk.values.compact import decode_list, encode_list, is_compact
from sdk.values.handlers import decode, encode, store_keys
from sdk.values.store import get_verified, put_blob

__all__ = ["INLINE_LIMIT_BYTES", "ValueRef", "decode", "dumps", "encode", "from_ref",
           "materialize", "parse_stored", "ref_keys", "to_ref", "value_binding"]

INLINE_LIMIT_BYTES = 2048

ValueRef = dict[str, Any]


def dumps(obj: Any) -> bytes:
    """Canonical JSON: the same value always gives the same bytes (and the same key)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def to_ref(literal: Any, store: Store, limit: int = INLINE_LIMIT_BYTES) -> ValueRef:
    """The reference of a literal: inline when its JSON is at most `limit` bytes, else in
    the store (a large list of numbers or booleans as a `.npy` buffer, `sdk.values.compact`;
    anything else as canonical JSON)."""
    compact = encode_list(literal)
    if compact is not None and len(compact) > limit:
        return {"u": put_blob(store, compact, prefix="values")}
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
    return parse_stored(get_verified(store, key), key)


def parse_stored(data: bytes, key: str) -> Any:
    """The literal a stored value's bytes hold (canonical JSON or a `.npy` list buffer);
    StoreIntegrityError naming `key` when they hold neither."""
    if is_compact(data):
        return decode_list(data, key)
    try:
        return json.loads(data)
    except ValueError as exc:
        raise StoreIntegrityError(f"store object {key!r} is neither JSON nor a list buffer "
                                  f"graft wrote ({exc})") from exc


def value_binding(value: Any, desc: TypeDesc, store: Store, where: str) -> Binding:
    """The binding of a Python value of type `desc` (its literal, inline or in the store)."""
    return {"val": to_ref(encode(value, desc, store, where), store)}


def materialize(binding: Binding, store: Store) -> Any:
    """The literal a resolved binding stands for (store objects fetched, paths applied).

    The value a path reads from is parsed once per process and shared (map items all read
    their item of one stored list); the part a path selects is a copy, so nothing a task does
    to its input reaches the shared value."""
    return _materialize(binding, store, shared=False)


def _materialize(binding: Binding, store: Store, shared: bool) -> Any:
    kind, body = bindings.split(binding)
    if kind == "val":
        return _shared_ref(body, store) if shared else from_ref(body, store)
    if kind == "list":
        return [_materialize(b, store, shared) for b in body]
    if kind == "dict":
        return {k: _materialize(b, store, shared) for k, b in body.items()}
    if kind == "path":
        whole = _materialize(body["of"], store, shared=True)
        return copy.deepcopy(apply_steps(whole, body["steps"], str(body.get("from") or "a value")))
    raise StoreError(f"binding {{{kind!r}: {body!r}}} is not resolved")


_SHARED: OrderedDict[str, tuple[int, Any]] = OrderedDict()
_SHARED_LIMIT_BYTES = 256 * 2**20
_shared_bytes = [0]


def _shared_ref(ref: ValueRef, store: Store) -> Any:
    """`from_ref`, keeping recently parsed stored literals (never to be modified)."""
    key = ref.get("u") if isinstance(ref, dict) else None
    if not isinstance(key, str):
        return from_ref(ref, store)
    hit = _SHARED.get(key)
    if hit is not None:
        _SHARED.move_to_end(key)
        return hit[1]
    data = get_verified(store, key)
    value = parse_stored(data, key)
    _SHARED[key] = (len(data), value)
    _shared_bytes[0] += len(data)
    while _shared_bytes[0] > _SHARED_LIMIT_BYTES and len(_SHARED) > 1:
        _, (size, _value) = _SHARED.popitem(last=False)
        _shared_bytes[0] -= size
    return value


def apply_steps(literal: Any, steps: list[Any], source: str) -> Any:
    """The part of a literal a path names; TypeConversionError naming the producer and the
    path when the value has no such part (an index out of range, a missing key)."""
    value = literal
    for i, (kind, key) in enumerate(steps):
        try:
            value = value[key]
        except (IndexError, KeyError, TypeError):
            where = bindings.describe_steps(steps[:i + 1])
            problem = ("index out of range" if kind == "index" and isinstance(value, list)
                       else f"no {'field' if kind == 'attr' else 'key'} {key!r}"
                       if isinstance(value, dict) else f"{type(value).__name__} value")
            raise TypeConversionError(f"{source}{where}: {problem} (the value of {source} "
                                      f"has {_shape(value)})") from None
    return value


def _shape(value: Any) -> str:
    if isinstance(value, list):
        return f"{len(value)} item(s)"
    if isinstance(value, dict):
        return f"keys {', '.join(repr(k) for k in list(value)[:10])}"
    return f"type {type(value).__name__}"


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
        literal = bindings.fold(binding, leaf, apply_steps)
    except (StoreError, ValueError, TypeConversionError):
        yield from refs
        return
    yield from refs
    try:
        yield from store_keys(literal, desc)
    except (KeyError, TypeError, AttributeError):
        return
