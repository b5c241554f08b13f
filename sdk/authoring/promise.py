"""Promises: placeholders for values that exist only when the graph runs.

Inside a `@workflow` a task call returns Promises. They can be passed on, indexed
(`res[0]`, `res["k"]`) and their dataclass fields read (`res.field`), which become binding
paths resolved when the value exists; compared (`res > 1`, `res.is_none()`) to make a
condition for `conditional`; and ordered without data (`a >> b`). What needs the value itself
(iterating, `if`, `len`) is a CompileError that says where to put that logic instead.
"""

from __future__ import annotations

import functools
import json
from typing import Any, NoReturn

from sdk.model.bindings import Binding
from sdk.model.errors import CompileError, CompileTypeError
from sdk.model.typesys import TypeDesc, step_type, type_name


class NoSuchPart(CompileError, AttributeError):
    """A Promise has no such attribute: a CompileError that `hasattr` and `getattr(x, n,
    default)` still read as a missing attribute."""


class Orderable:
    """Something a workflow body can order with `>>`: the node it comes from."""

    __slots__ = ()
    _node: str | None
    _owner: Any

    def __rshift__(self, other: Any) -> Any:
        """`a >> b`: run b's node after a's, though it reads none of a's outputs."""
        if not isinstance(other, Orderable):
            raise CompileError(f"{self!r} >> {other!r}: only task calls, sub-workflow calls "
                               f"and nodes can be ordered")
        if self._node is None or other._node is None:
            raise CompileError(f"{self!r} >> {other!r}: a workflow input is not a node, so "
                               f"nothing can run after it")
        if self._owner is not other._owner:
            raise CompileError(f"{self!r} >> {other!r}: both must be called in the same "
                               f"workflow body")
        other._owner.add_after(other._node, self._node)
        return other

    def runs_before(self, other: Any) -> Any:
        """flytekit's spelling of `self >> other`."""
        return self >> other

    def with_overrides(self, **overrides: Any) -> Any:
        """Change this call's node: `retries`, `timeout`, `requests`, `limits`, `resources`,
        `container_image`, `cache` (True, False or `Cache(...)`), `cache_version`,
        `cache_serialize` (ConfigError for anything else)."""
        if self._node is None:
            raise CompileError(f"{self!r}.with_overrides(): a workflow input is not a node")
        self._owner.override(self._node, overrides)
        return self


class Promise(Orderable):
    """The future output of a node, or an input of the graph being compiled.

    A body may hold a million of them (a dynamic's fan-out), so a Promise has three slots:
    its binding (None for a node's output), its node id, and a tuple shared by the outputs
    of one task's calls, `(task name, output name, type, owner)` (`Promise.output`); its
    binding and label are made when read. Any other Promise keeps `(label, None, type,
    owner)` there."""

    __slots__ = ("_b", "_l", "_node")

    def __init__(self, binding: Binding, type_: TypeDesc, label: str, owner: Any = None,
                 node: str | None = None):
        self._b: Binding | None = binding
        self._l: tuple[str, str | None, TypeDesc, Any] = (label, None, type_, owner)
        self._node = node

    @classmethod
    def output(cls, node: str, port: tuple[str, str, TypeDesc, Any]) -> Promise:
        """Output `port[1]` (of type `port[2]`) of node `node`, a call of task `port[0]` in
        the body `port[3]` builds."""
        promise = cls.__new__(cls)
        promise._b = None
        promise._l = port
        promise._node = node
        return promise

    @property
    def _binding(self) -> Binding:
        if self._b is None:
            return {"ref": [self._node, self._l[1]]}
        return self._b

    @property
    def _label(self) -> str:
        if self._b is None:
            return f"{self._l[0]}.{self._l[1]} (node {self._node!r})"
        return self._l[0]

    @property
    def _type(self) -> TypeDesc:
        return self._l[2]

    @property
    def _owner(self) -> Any:  # type: ignore[override]
        return self._l[3]

    def __repr__(self) -> str:
        return f"Promise({self._label}: {type_name(self._type)})"

    def _refuse(self, what: str, hint: str = "",
                error: type[CompileError] = CompileError) -> NoReturn:
        raise error(
            f"Promise {self._label} ({type_name(self._type)}) {what} at compile time: inside a "
            f"@workflow a task call returns a placeholder, and its value exists only when the "
            f"graph runs. {hint or 'Pass it to a task, or move this logic into a @dynamic '}"
            f"{'' if hint else 'workflow, whose body runs with real values.'}"
        )

    # ---- parts of the value --------------------------------------------------------------

    def _part(self, step: list[Any], shown: str) -> Promise:
        part = step_type(self._type, step)
        if part is None:
            self._refuse(f"has no part {shown}",
                         "Fields of dataclasses, items of lists and tuples and values of dicts "
                         "can be read; ")
        kind, body = next(iter(self._binding.items()))
        if kind == "path":
            binding = {"path": {**body, "steps": [*body["steps"], step]}}
        else:
            binding = {"path": {"of": self._binding, "steps": [step], "from": self._label}}
        return Promise(binding, part, self._label + shown, self._owner, self._node)

    def __getattr__(self, name: str) -> Promise:
        if name.startswith("_"):  # probes by Python and libraries (_fields, __array__...)
            raise AttributeError(name)
        if self._type.get("t") in ("dataclass", "basemodel") and name in self._type.get(
                "fields", {}):
            return self._part(["attr", name], f".{name}")
        self._refuse(f"has no attribute {name!r}",
                     "Fields of a dataclass or pydantic model output can be read "
                     "(`res.field`); for other "
                     "attributes, move this logic into a @dynamic workflow, whose body runs "
                     "with real values.", NoSuchPart)

    def __getitem__(self, key: Any) -> Promise:
        t = self._type.get("t")
        if t in ("list", "tuple") and isinstance(key, int) and not isinstance(key, bool):
            return self._part(["index", key], f"[{key}]")
        if t == "dict":
            encoded = key if self._type["key"]["t"] == "str" else json.dumps(key)
            if isinstance(encoded, str):
                return self._part(["key", encoded], f"[{key!r}]")
        self._refuse(f"cannot be indexed (with {key!r})",
                     "Lists and tuples take an int index and dicts a key (`res[0]`, "
                     "`res['k']`); slices and other keys need a @dynamic workflow, whose body "
                     "runs with real values.")

    # ---- what needs the value -----------------------------------------------------------

    def __iter__(self) -> NoReturn:
        self._refuse("is not iterable")

    def __bool__(self) -> NoReturn:
        self._refuse("has no truth value", "To branch on it, use conditional(\"name\").if_("
                     "promise > 1).then(...).else_().then(...); or move this logic into a "
                     "@dynamic workflow, whose body runs with real values.")

    def __len__(self) -> NoReturn:
        self._refuse("has no length", error=CompileTypeError)

    # ---- conditions -------------------------------------------------------------------------

    def _compare(self, op: str, other: Any) -> Condition:
        return Condition({"cmp": [op, self, other]}, f"{self._label} {op} {other!r}")

    def __eq__(self, other: object) -> Condition:  # type: ignore[override]
        return self._compare("==", other)

    def __ne__(self, other: object) -> Condition:  # type: ignore[override]
        return self._compare("!=", other)

    def __lt__(self, other: Any) -> Condition:
        return self._compare("<", other)

    def __le__(self, other: Any) -> Condition:
        return self._compare("<=", other)

    def __gt__(self, other: Any) -> Condition:
        return self._compare(">", other)

    def __ge__(self, other: Any) -> Condition:
        return self._compare(">=", other)

    def is_true(self) -> Condition:
        return self._compare("==", True)

    def is_false(self) -> Condition:
        return self._compare("==", False)

    def is_none(self) -> Condition:
        return self._compare("==", None)

    __hash__ = object.__hash__


class Condition:
    """A condition for `conditional(...).if_()`: comparisons of Promises and literals,
    combined with `&` and `|`. Its operands stay Promises until the conditional takes it."""

    def __init__(self, expr: dict[str, Any], label: str):
        self.expr = expr
        self.label = label

    def __repr__(self) -> str:
        return f"Condition({self.label})"

    def __and__(self, other: Any) -> Condition:
        return Condition({"and": [self, _condition(other, "&")]}, f"({self.label}) & (...)")

    def __or__(self, other: Any) -> Condition:
        return Condition({"or": [self, _condition(other, "|")]}, f"({self.label}) | (...)")

    def __bool__(self) -> NoReturn:
        raise CompileError(
            f"condition {self.label} has no truth value at compile time: its Promises have no "
            f"values yet. Use conditional(\"name\").if_(condition).then(...), combine conditions "
            f"with & and | (not `and`/`or`/`not`), or move this logic into a @dynamic workflow.")

    def promises(self) -> list[Promise]:
        """Every Promise the condition reads."""
        kind, body = next(iter(self.expr.items()))
        if kind == "cmp":
            return [v for v in body[1:] if isinstance(v, Promise)]
        return [p for sub in body for p in sub.promises()]


def _condition(value: Any, op: str) -> Condition:
    if isinstance(value, Condition):
        return value
    raise CompileError(f"`{op}` combines conditions (comparisons of Promises), not "
                       f"{type(value).__name__}; write `(a > 1) {op} (b < 2)`")


class Void(Orderable):
    """What calling a task without outputs returns in a workflow: nothing to pass on, but it
    can be ordered (`cleanup() >> report()`)."""

    def __init__(self, node: str, owner: Any, label: str):
        self._node = node
        self._owner = owner
        self._label = label

    def __repr__(self) -> str:
        return f"Void({self._label})"


class CallOutputs(Orderable):
    """Mixed into the named tuple of Promises a call of several outputs returns in a body
    (`DefaultNamedTupleOutput` for `-> (A, B)`, the declared NamedTuple's class otherwise),
    so that the call can be ordered and overridden as a one-output call can:
    `t(x=1).with_overrides(retries=2)`, `a >> t(x=1)`, as flytekit's call outputs can."""

    __slots__ = ()

    @property
    def _node(self) -> str | None:  # type: ignore[override]
        return self[0]._node  # type: ignore[index, no-any-return]

    @property
    def _owner(self) -> Any:  # type: ignore[override]
        return self[0]._owner  # type: ignore[index]


def call_outputs(shape: type) -> type:
    """The class of what a call of several outputs returns: `shape`, a named tuple class,
    with `CallOutputs` mixed in (named and placed as `shape`, so that it stands for it)."""
    if issubclass(shape, CallOutputs):
        return shape
    return _call_outputs(shape)


@functools.cache
def _call_outputs(shape: type) -> type:
    return type(shape.__name__, (shape, CallOutputs), {
        "__slots__": (), "__module__": shape.__module__, "__qualname__": shape.__qualname__})


def contains_promise(value: Any) -> bool:
    if isinstance(value, Promise):
        return True
    if isinstance(value, (list, tuple)):
        return any(contains_promise(v) for v in value)
    if isinstance(value, dict):
        return any(contains_promise(v) for v in value.values())
    return False
