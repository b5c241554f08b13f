"""The registry of type handlers: everything graft does to a value depends on its type, and
each type's part of it lives in one handler.

A handler is a `KindRule` of the model layer (readable name, assignability) that can also
describe an annotation, check a value, turn a value into its JSON literal and back, normalise
a literal for cache keys, list the store objects a literal refers to, and read a value from
command-line text. Adding a type is writing one handler and registering it.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any

from sdk.model.errors import GraftError, TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import KindRule, TypeDesc, qualified_name, register_kind, type_name


class TypeHandler(KindRule):
    """One kind of type. Handlers for containers call the module functions below for their
    items, so every item goes through its own handler."""

    kind = ""

    def describe(self, tp: Any) -> TypeDesc | None:
        """The descriptor of annotation `tp`, or None when `tp` is not of this kind."""
        return None

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        """None when `value` fits `desc`, else a short reason naming what was found."""
        return None

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        """The JSON literal of a checked value (files and large objects go to `store`)."""
        return value

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        """The Python value of a literal."""
        return lit

    def normalise(self, lit: Any, desc: TypeDesc) -> Any:
        """The literal in the one form that cache keys hash (equal values, equal forms)."""
        return lit

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        """The store keys a literal refers to (its value is gone when one is)."""
        return iter(())

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        """The value command-line text `raw` stands for; ValueError when it does not fit."""
        raise ValueError(f"{type_name(desc)} cannot be given on the command line")


_HANDLERS: list[TypeHandler] = []
_BY_KIND: dict[str, TypeHandler] = {}


def register(handler: TypeHandler, *, first: bool = False) -> TypeHandler:
    """Register `handler` for its kind. `describe` asks handlers in registration order
    (`first=True` puts this one before the others, for a subclass of a handled type)."""
    if handler.kind in _BY_KIND:
        _HANDLERS.remove(_BY_KIND[handler.kind])
    if first:
        _HANDLERS.insert(0, handler)
    else:
        _HANDLERS.append(handler)
    _BY_KIND[handler.kind] = handler
    register_kind(handler)
    return handler


def handler(desc: TypeDesc) -> TypeHandler:
    """The handler of a descriptor's kind; TypeConversionError for an unknown kind."""
    found = _BY_KIND.get(desc.get("t", "") if isinstance(desc, dict) else "")
    if found is None:
        raise TypeConversionError(f"unknown type descriptor {str(desc)[:200]}")
    return found


def describe(tp: Any) -> TypeDesc:
    """The descriptor of an annotation; types no handler takes are pickled."""
    if tp is inspect.Parameter.empty or tp is typing.Any or tp is object:
        return {"t": "any"}
    for h in _HANDLERS:
        desc = h.describe(tp)
        if desc is not None:
            return desc
    if typing.get_origin(tp) is typing.Annotated:  # metadata no handler reads: the type itself
        return describe(typing.get_args(tp)[0])
    return {"t": "pickle", "ref": class_ref(tp) if isinstance(tp, type) else None}


def check_value(value: Any, desc: TypeDesc) -> str | None:
    """None when `value` fits `desc`, else a short reason naming what was found."""
    return handler(desc).check(value, desc)


def encode(value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
    """The literal of `value` as type `desc`; TypeConversionError names `where` on mismatch."""
    reason = check_value(value, desc)
    if reason:
        raise TypeConversionError(f"{where}: {reason}")
    return encode_checked(value, desc, store, where)


def encode_checked(value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
    """`encode` for a value already checked (containers call it for their items)."""
    return handler(desc).encode(value, desc, store, where)


def located(exc: TypeConversionError, where: str, part: str) -> TypeConversionError:
    """`exc`, an error about the value at `where`, said of `part` of it ("item 3", "key 'a'").
    Containers name the part only when one fails, so encoding builds no text per item."""
    text = str(exc)
    if not text.startswith(where):
        return exc
    return TypeConversionError(f"{where}, {part}{text[len(where):]}")


def decode(lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
    """The Python value of a literal of type `desc`; TypeConversionError naming `where` when
    the literal does not have that type's shape."""
    try:
        return handler(desc).decode(lit, desc, store, where)
    except GraftError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise TypeConversionError(
            f"{where}: stored value does not match {type_name(desc)} ({exc})") from exc


def normalise(lit: Any, desc: TypeDesc) -> Any:
    return handler(desc).normalise(lit, desc)


def store_keys(lit: Any, desc: TypeDesc) -> Iterator[str]:
    return handler(desc).store_keys(lit, desc)


def parse_text(raw: str, desc: TypeDesc) -> Any:
    return handler(desc).parse_text(raw, desc)


# Classes defined inside a function (as tests define them), by reference: they cannot be
# imported, so values of them are rebuilt from these in the process that defined them.
_LOCAL_CLASSES: dict[str, type] = {}


def class_ref(cls: type) -> str:
    """`module:qualname` of a class that descriptors name. A class defined inside a function
    (`<locals>` in its qualname) is remembered under it, so that its values are rebuilt from
    the declared class in this process (the latest class of one name wins); elsewhere (a
    worker) it cannot be imported, and a value of it fails its node naming it."""
    ref = qualified_name(cls)
    if "<locals>" in ref:
        _LOCAL_CLASSES[ref] = cls
    return ref


def import_ref(ref: str) -> Any:
    """Import `module:qualname` and return the object (a class `class_ref` remembered, for a
    class defined inside a function); GraftError when it cannot."""
    if not isinstance(ref, str) or ":" not in ref:
        raise GraftError(f"cannot import {str(ref)[:200]!r}: expected 'module:qualname'")
    local = _LOCAL_CLASSES.get(ref)
    if local is not None:
        return local
    module_name, _, qualname = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise GraftError(f"cannot import {ref!r}: {exc}") from exc
    return obj


def resolve_class(ref: str, is_kind: Callable[[type], bool], kind: str, where: str) -> type:
    """The class `ref` names, checked to be of the declared `kind` before anything calls it,
    so that a descriptor can never make graft call an arbitrary function."""
    obj = import_ref(ref)
    if not isinstance(obj, type) or not is_kind(obj):
        found = "another class" if isinstance(obj, type) else f"a {type(obj).__name__}"
        raise TypeConversionError(f"{where}: {ref} is declared as {kind} but is {found}; "
                                  f"refusing to use it")
    return obj


def try_class(ref: str | None) -> type | None:
    """The class `ref` names when it imports, else None (for checks that are best-effort)."""
    if not ref:
        return None
    try:
        obj = import_ref(ref)
    except GraftError:
        return None
    return obj if isinstance(obj, type) else None
