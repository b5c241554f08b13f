"""Large lists of numbers or booleans kept in the store as NumPy `.npy` buffers.

A stored value (`values/<sha256>`, see `sdk.values.literals`) is canonical JSON, or, for a
list literal of at least `MIN_ITEMS` items that are all ints (each within int64), all floats
or all bools, a `.npy` buffer (format version 1.0) of a one-dimensional little-endian array of
dtype `<i8`, `<f8` or `|b1`. The buffer stands for exactly the JSON list of its items: it is a
storage form of the literal, not a new literal, so every type whose literal is such a list
(`List[int]`, `List[float]`, `List[bool]`, `Any`, a `Union` of them...) is kept this way
without its handler knowing.

Why `.npy`: it is the simplest self-describing layout of a typed buffer, documented and
stable since NumPy 1.0 (`numpy.lib.format`), so `numpy.load(path, allow_pickle=False)` reads a
stored object as it is; and it is written and read here with the standard library's `array`
and `memoryview`, so that a worker of a 256Mi tier neither needs NumPy (not a dependency of
graft) nor pays its import. Arrow IPC would need pyarrow in every worker for the same three
dtypes. A list of strings stays a JSON list: its items have to become `str` objects anyway,
and `json.loads` builds them straight from the buffer in C, with 3 bytes of framing an item
against Arrow's 8-byte offsets.

Decoding builds the final `list` at once from the buffer (`memoryview.cast(...).tolist()`),
with no literal structure per item in between.
"""

from __future__ import annotations

import array
import sys
from typing import Any

from sdk.model.errors import StoreIntegrityError

__all__ = ["MAGIC", "MIN_ITEMS", "decode_list", "encode_list", "is_compact"]

MAGIC = b"\x93NUMPY"
MIN_ITEMS = 256  # shorter lists stay JSON (inline, most of them)
_ALIGN = 64  # NumPy pads its header so that the data starts on a 64-byte boundary
_INT64 = (-(2**63), 2**63 - 1)
# dtype of the items' Python type -> (memoryview format code, .npy descr)
_DTYPES = {int: ("q", "<i8"), float: ("d", "<f8"), bool: ("?", "|b1")}
_BY_DESCR = {descr: code for code, descr in _DTYPES.values()}
_WIDTH = {"q": 8, "d": 8, "?": 1}


def is_compact(data: bytes) -> bool:
    """Whether a stored value is a `.npy` buffer rather than JSON (no JSON text starts with
    byte 0x93)."""
    return data[:len(MAGIC)] == MAGIC


def _header(descr: str, count: int) -> bytes:
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({count},), }}"
    pad = -(len(MAGIC) + 4 + len(text) + 1) % _ALIGN
    text = text + " " * pad + "\n"
    return MAGIC + b"\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin-1")


def encode_list(literal: Any) -> bytes | None:
    """The `.npy` buffer of a list literal of at least `MIN_ITEMS` ints, floats or bools (one
    type, exactly: not a bool among ints), or None when it is not such a list."""
    if type(literal) is not list or len(literal) < MIN_ITEMS:
        return None
    kind = type(literal[0])
    if kind not in _DTYPES or not all(type(x) is kind for x in literal):
        return None
    code, descr = _DTYPES[kind]
    if kind is bool:
        return _header(descr, len(literal)) + bytes(literal)
    try:
        items = array.array(code, literal)
    except OverflowError:  # an int beyond int64: JSON holds it
        return None
    if sys.byteorder == "big":
        items.byteswap()
    return _header(descr, len(literal)) + items.tobytes()


def decode_list(data: bytes, key: str) -> list[Any]:
    """The list a `.npy` buffer written by `encode_list` stands for; StoreIntegrityError
    naming `key` when it is not one (truncated, or another layout)."""
    try:
        size = int.from_bytes(data[8:10], "little")
        text = data[10:10 + size].decode("latin-1")
        descr = text.split("'descr': '", 1)[1].split("'", 1)[0]
        count = int(text.split("'shape': (", 1)[1].split(",", 1)[0])
        code = _BY_DESCR[descr]
    except (IndexError, KeyError, ValueError) as exc:
        raise StoreIntegrityError(f"store object {key!r} is not a list buffer graft wrote: "
                                  f"unreadable .npy header") from exc
    offset = 10 + size
    if data[:offset] != _header(descr, count):
        raise StoreIntegrityError(f"store object {key!r} is not a list buffer graft wrote: "
                                  f"unexpected .npy header {text.strip()!r}")
    width = _WIDTH[code]
    if len(data) - offset != count * width:
        raise StoreIntegrityError(f"store object {key!r} is truncated or overlong: its header "
                                  f"announces {count} items of {width} bytes, it holds "
                                  f"{len(data) - offset} bytes of data")
    if sys.byteorder == "big" and code != "?":
        items = array.array(code, data[offset:])
        items.byteswap()
        return items.tolist()
    view = memoryview(data)[offset:]
    if code == "?" and data[offset:].translate(None, b"\x00\x01"):
        raise StoreIntegrityError(f"store object {key!r} holds bytes that are no booleans")
    return view.cast(code).tolist()
