"""Reading a function's interface from its annotations."""

from __future__ import annotations

import ast
import inspect
import textwrap
import typing
from collections.abc import Callable
from typing import Any

from sdk.model.errors import CompileError
from sdk.model.interface import Interface
from sdk.model.typesys import TypeDesc
from sdk.values.handlers import class_ref, describe

_NO_DEFAULT = inspect.Parameter.empty


def _is_namedtuple(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


def read_interface(fn: Callable[..., Any], kind: str, untyped: bool = False) -> Interface:
    """The interface of `fn`; CompileError when an input has no annotation. With `untyped`
    (flytekit's `pickle_untyped=True`), an input without one is `typing.Any`, and so is the
    output of a function without a return annotation, which must then return a value."""
    where = f"{kind} {fn.__qualname__}"
    hints = _type_hints(fn, where)
    if untyped:
        hints = {name: Any for name in inspect.signature(fn).parameters} | hints
        if "return" not in hints:
            if not _returns_a_value(fn):
                raise CompileError(f"{where} must return a value: with pickle_untyped=True and "
                                   f"no return annotation it has one output, typing.Any "
                                   f"(add a return statement, or annotate -> None)")
            hints["return"] = Any
    sig = inspect.signature(fn)
    inputs: dict[str, TypeDesc] = {}
    defaults: dict[str, Any] = {}
    for name, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise CompileError(f"{where}: *args and **kwargs are not supported (input {name!r})")
        if name not in hints:
            raise CompileError(f"{where}: input {name!r} has no type annotation; graft needs "
                               "one to move its value between tasks (or pickle_untyped=True "
                               "to pickle it, as typing.Any)")
        inputs[name] = _described(hints[name], f"{where}: input {name!r}")
        if param.default is not _NO_DEFAULT:
            defaults[name] = param.default
    try:
        return _outputs(hints.get("return", _NO_DEFAULT), inputs, defaults)
    except CompileError as exc:
        raise CompileError(f"{where}: its output: {exc}") from None


def _described(tp: Any, where: str) -> TypeDesc:
    try:
        return describe(tp)
    except CompileError as exc:  # an annotation refused (a bare tuple)
        raise CompileError(f"{where}: {exc}") from None


def _returns_a_value(fn: Callable[..., Any]) -> bool:
    """Whether `fn`'s body has a `return <value>` (True when its source cannot be read)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return True
    body = tree.body[0] if tree.body else None
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)

    def found(node: ast.AST) -> bool:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Return) and child.value is not None:
                return True
            if not isinstance(child, nested) and found(child):
                return True
        return False

    return body is None or found(body)


def return_annotation(fn: Callable[..., Any], where: str) -> Any:
    """`fn`'s return annotation, evaluated, with its `Annotated` metadata (None when it has
    none)."""
    return _type_hints(fn, where).get("return")


def _type_hints(fn: Callable[..., Any], where: str) -> dict[str, Any]:
    """Annotations evaluated, strings included (`from __future__ import annotations`). A
    return annotation written as a tuple literal, `-> (A, B)`, stays a tuple of types."""
    annotations = dict(getattr(fn, "__annotations__", {}))
    ret = annotations.pop("return", _NO_DEFAULT)
    globalns = getattr(fn, "__globals__", {})
    try:
        if isinstance(ret, str):
            ret = eval(ret, globalns)  # what typing.get_type_hints does, minus its type check
        holder = type("_Annotations", (), {"__annotations__": annotations})
        hints = typing.get_type_hints(holder, globalns=globalns, include_extras=True)
    except Exception as exc:
        raise CompileError(f"{where}: cannot read its type annotations: {exc}") from exc
    if ret is not _NO_DEFAULT:
        hints["return"] = ret
    return hints


def _outputs(ret: Any, inputs: dict[str, TypeDesc], defaults: dict[str, Any]) -> Interface:
    if ret is _NO_DEFAULT or ret is None or ret is type(None):
        return Interface(inputs, {}, "none", defaults)
    if isinstance(ret, tuple):
        outs = {f"o{i}": describe(t) for i, t in enumerate(ret)}
        return Interface(inputs, outs, "tuple", defaults)
    if _is_namedtuple(ret):
        class_ref(ret)  # one defined inside a function is rebuilt from itself, in-process
        hints = typing.get_type_hints(ret, include_extras=True)
        outs = {name: describe(hints.get(name, Any)) for name in ret._fields}
        return Interface(inputs, outs, "namedtuple", defaults, ret)
    origin = typing.get_origin(ret)
    args = typing.get_args(ret)
    if origin in (tuple, typing.Tuple) and args and args[-1] is not Ellipsis:  # noqa: UP006
        outs = {f"o{i}": describe(t) for i, t in enumerate(args)}
        return Interface(inputs, outs, "tuple", defaults)
    return Interface(inputs, {"o0": describe(ret)}, "single", defaults)
