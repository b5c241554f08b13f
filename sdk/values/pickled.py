"""Pickled values in the store: one value per object (`{"pickle": key}`), or, for the items of
an `Annotated[List[T], BatchSize(n)]`, n items per object (`{"pickle": key, "at": i}`: item
`i` of the list pickled under `key`).

Both shapes are item literals of their own, so a batched list is still a JSON list of items: a
downstream `List[T]`, `Iterator[T]`, map task or `[index]` path reads it as it reads any list.
Reading several items of one batch unpickles it once inside `batch_scope()` (a container
decoding its items opens one); items read in one scope share what their batch's pickle
shares, as the items of one pickled list do.
"""

from __future__ import annotations

import contextlib
import contextvars
import pickle
from collections.abc import Iterator
from typing import Any

from sdk.model.errors import TypeConversionError
from sdk.model.store import Store

_batches: contextvars.ContextVar[dict[str, list[Any]] | None] = contextvars.ContextVar(
    "graft_pickle_batches", default=None)


def is_pickled(lit: Any) -> bool:
    """Whether `lit` has the shape of a pickled value's literal (one value, or a batch item)."""
    if type(lit) is not dict or not isinstance(lit.get("pickle"), str):
        return False
    if len(lit) == 1:
        return True
    at = lit.get("at")
    return len(lit) == 2 and type(at) is int and at >= 0


def dumps(value: Any, where: str) -> bytes:
    """The pickle of `value`; TypeConversionError naming `where` when it cannot be pickled."""
    try:
        return pickle.dumps(value, protocol=4)
    except Exception as exc:
        raise TypeConversionError(f"{where}: cannot pickle {type(value).__name__}: "
                                  f"{exc}") from exc


def put_pickle(value: Any, store: Store, where: str) -> dict[str, str]:
    from sdk.values.store import put_blob

    return {"pickle": put_blob(store, dumps(value, where))}


def put_batches(values: list[Any], size: int, store: Store, where: str,
                positions: list[int] | None = None) -> list[dict[str, Any]]:
    """The item literals of `values` pickled `size` at a time (the last batch may be
    smaller). `positions`: where each value is in the list an error names (its index)."""
    from sdk.values.store import put_blob

    out: list[dict[str, Any]] = []
    for start in range(0, len(values), size):
        chunk = list(values[start:start + size])
        try:
            key = put_blob(store, dumps(chunk, where))
        except TypeConversionError:  # say which item
            for i, item in enumerate(chunk):
                dumps(item, f"{where}, item {(positions or range(len(values)))[start + i]}")
            raise
        out.extend({"pickle": key, "at": i} for i in range(len(chunk)))
    return out


def load(lit: dict[str, Any], store: Store) -> Any:
    """The value a pickled literal stands for (only bytes that match their key are
    unpickled)."""
    from sdk.values.store import get_verified

    key = lit["pickle"]
    if "at" not in lit:
        return pickle.loads(get_verified(store, key))
    memo = _batches.get()
    batch = memo.get(key) if memo is not None else None
    if batch is None:
        batch = pickle.loads(get_verified(store, key))
        if not isinstance(batch, list):
            raise TypeError(f"store object {key} holds a {type(batch).__name__}, not a batch "
                            f"of pickled items")
        if memo is not None:
            memo[key] = batch
    return batch[lit["at"]]


@contextlib.contextmanager
def batch_scope() -> Iterator[None]:
    """Unpickle each batch once while the items of one value are read."""
    if _batches.get() is not None:
        yield
        return
    token = _batches.set({})
    try:
        yield
    finally:
        _batches.reset(token)
