"""Bindings: where an input's value comes from, and the one place that walks them.

A binding is JSON:

    {"ref": [node_id, output]}   another node's output (ids are relative to the graph)
    {"input": name}              an input of the enclosing graph
    {"val": value_ref}           a literal ({"v": literal} inline or {"u": store key})
    {"list": [binding, ...]}     a list built from bindings
    {"dict": {key: binding}}     a dict built from bindings
    {"path": {"of": binding, "steps": [step, ...], "from": "node.output"}}
                                 part of a value: steps are ["attr", field], ["index", i] or
                                 ["key", encoded key], applied when the value exists

`ref`, `input` and `val` are leaves; `list`, `dict` and `path` hold bindings. Everything that
reads, rewrites, resolves or checks bindings goes through the functions here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from sdk.model.errors import SpecError

Binding = dict[str, Any]
LEAVES = ("ref", "input", "val")
CONTAINERS = ("list", "dict", "path")
STEP_KINDS = ("attr", "index", "key")


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 200 else text[:200] + "..."


def split(b: Any, at: str = "binding") -> tuple[str, Any]:
    """`(kind, body)` of a well-formed binding; SpecError naming `at` otherwise."""
    if not isinstance(b, dict) or len(b) != 1:
        raise SpecError(f"{at}: malformed binding {_short(b)}")
    kind, body = next(iter(b.items()))
    if kind == "ref":
        if not (isinstance(body, list) and len(body) == 2
                and all(isinstance(x, str) for x in body)):
            raise SpecError(f"{at}: malformed reference {_short(body)}")
    elif kind == "input":
        if not isinstance(body, str):
            raise SpecError(f"{at}: malformed input name {_short(body)}")
    elif kind == "val":
        if not isinstance(body, dict) or not ("v" in body or "u" in body):
            raise SpecError(f"{at}: malformed value reference {_short(body)}")
    elif kind == "list":
        if not isinstance(body, list):
            raise SpecError(f"{at}: a list binding holds a list, got {type(body).__name__}")
    elif kind == "dict":
        if not isinstance(body, dict):
            raise SpecError(f"{at}: a dict binding holds an object, got {type(body).__name__}")
    elif kind == "path":
        if not isinstance(body, dict) or "of" not in body or not isinstance(body.get("steps"),
                                                                            list):
            raise SpecError(f"{at}: a path binding holds 'of' and 'steps', got {_short(body)}")
        for step in body["steps"]:
            check_step(step, at)
    else:
        raise SpecError(f"{at}: unknown binding kind {kind!r}")
    return kind, body


def check_step(step: Any, at: str) -> None:
    """SpecError unless `step` is a well-formed path step."""
    ok = isinstance(step, list) and len(step) == 2 and step[0] in STEP_KINDS and (
        isinstance(step[1], int) and not isinstance(step[1], bool) if step[0] == "index"
        else isinstance(step[1], str))
    if not ok:
        raise SpecError(f"{at}: malformed path step {_short(step)}")


def describe_steps(steps: list[Any]) -> str:
    """A path as Python would write it: `.field[0]['k']`."""
    out = []
    for kind, key in steps:
        out.append(f".{key}" if kind == "attr" else f"[{key!r}]" if kind == "key"
                   else f"[{key}]")
    return "".join(out)


def children(kind: str, body: Any) -> Iterator[tuple[str, Any, Binding]]:
    """`(label, key, binding)` of each binding a container holds: `[0]` for lists, `['k']`
    for dicts, the whole value for a path. Leaves hold none."""
    if kind == "list":
        for i, sub in enumerate(body):
            yield f"[{i}]", i, sub
    elif kind == "dict":
        for k, sub in body.items():
            yield f"[{k!r}]", k, sub
    elif kind == "path":
        yield describe_steps(body["steps"]), "of", body["of"]


def refs(b: Binding) -> Iterator[tuple[str, str]]:
    """Every `(node id, output)` a binding reads."""
    kind, body = next(iter(b.items()))
    if kind == "ref":
        yield body[0], body[1]
    elif kind in CONTAINERS:
        for _, _, sub in children(kind, body):
            yield from refs(sub)


def transform(b: Binding, leaf: Callable[[str, Any], Binding]) -> Binding:
    """A copy of `b` with each leaf replaced by `leaf(kind, body)`; containers are rebuilt."""
    kind, body = next(iter(b.items()))
    if kind == "list":
        return {"list": [transform(sub, leaf) for sub in body]}
    if kind == "dict":
        return {"dict": {k: transform(sub, leaf) for k, sub in body.items()}}
    if kind == "path":
        return {"path": {**body, "of": transform(body["of"], leaf)}}
    return leaf(kind, body)


def fold(b: Binding, leaf: Callable[[str, Any], Any],
         step: Callable[[Any, list[Any], str], Any] | None = None) -> Any:
    """The Python structure `b` stands for: lists and dicts of `leaf(kind, body)`, and for a
    path, `step(value, steps, source)` applied to the value it reads."""
    kind, body = next(iter(b.items()))
    if kind == "list":
        return [fold(sub, leaf, step) for sub in body]
    if kind == "dict":
        return {k: fold(sub, leaf, step) for k, sub in body.items()}
    if kind == "path":
        value = fold(body["of"], leaf, step)
        if step is None:
            raise SpecError("a path binding needs a step function to be folded")
        return step(value, body["steps"], str(body.get("from") or "a value"))
    return leaf(kind, body)


def check_resolved(b: Any, at: str) -> None:
    """SpecError unless `b` is fully resolved: values, or lists and dicts of them (what a
    message may carry: it never names nodes or graph inputs)."""
    kind, body = split(b, at)
    if kind in ("ref", "input"):
        raise SpecError(f"{at}: expected a value, got an unresolved {kind} binding")
    for label, _, sub in children(kind, body):
        check_resolved(sub, at + label)


def rebase(b: Binding, prefix: str, scope: dict[str, Binding]) -> Binding:
    """`b` as seen from outside its graph: node ids under `prefix`, graph inputs replaced by
    their bindings in `scope`. (Leaves, most bindings, take a shortcut: grafting 100,000
    nodes rebases as many.)"""
    kind = next(iter(b))
    if kind == "val":
        return b
    if kind == "ref":
        return {"ref": [prefix + b["ref"][0], b["ref"][1]]}
    if kind == "input":
        return scope[b["input"]]

    def leaf(kind: str, body: Any) -> Binding:
        if kind == "ref":
            return {"ref": [prefix + body[0], body[1]]}
        if kind == "input":
            return scope[body]
        return {kind: body}

    return transform(b, leaf)


class _Inline:
    """`{"v": value}` of a scalar while a document is parsed (`bound`: `{"val": {"v": value}}`):
    48 bytes where the two dicts take ~370."""

    __slots__ = ("bound", "value")

    def __init__(self, value: Any):
        self.value = value
        self.bound = False

    def restored(self) -> dict[str, Any]:
        return {"val": {"v": self.value}} if self.bound else {"v": self.value}


class _Folded(dict):  # type: ignore[type-arg]
    """`{"val": {"v": [...]}}` that `loads_inputs` made of a list of inline value bindings."""


_SCALARS = (int, float, str, bool, type(None))


def loads_inputs(data: bytes | str) -> dict[str, Binding]:
    """Parse the JSON of a node's resolved inputs (`{name: binding}`), reading a list
    binding of inline scalar values (`{"list": [{"val": {"v": 1}}, ...]}`, what a collected
    fan-out resolves to) as the one value binding it stands for (`{"val": {"v": [1, ...]}}`)
    without building two dicts per item. The result equals `json.loads(data)` but for those
    lists; a document where such a list sits inside a literal rather than in a binding is
    parsed plainly."""
    folded = [0]
    loose = [0]  # _Inline made and not yet folded or restored

    def restore(x: Any) -> Any:
        if type(x) is _Inline:
            loose[0] -= 1
            return x.restored()
        if type(x) is list and loose[0]:
            for i, item in enumerate(x):
                if type(item) in (_Inline, list):
                    x[i] = restore(item)
        return x

    def hook(pairs: list[tuple[str, Any]]) -> Any:
        if len(pairs) == 1:
            key, x = pairs[0]
            if key == "v" and type(x) in _SCALARS:
                loose[0] += 1
                return _Inline(x)
            if key == "val" and type(x) is _Inline and not x.bound:
                x.bound = True
                return x
            if key == "list" and type(x) is list and x and all(
                    type(i) is _Inline and i.bound for i in x):
                loose[0] -= len(x)
                folded[0] += 1
                return _Folded(val={"v": [i.value for i in x]})
        return {key: restore(x) for key, x in pairs}

    doc = restore(json.loads(data, object_pairs_hook=hook))
    if not folded[0]:
        return doc  # type: ignore[no-any-return]
    if not isinstance(doc, dict) or sum(_folds(b) for b in doc.values()) != folded[0]:
        return json.loads(data)  # type: ignore[no-any-return]
    return doc


def _folds(b: Any) -> int:
    """How many `_Folded` bindings sit where bindings are in `b` (not inside literals)."""
    if type(b) is _Folded:
        return 1
    if not isinstance(b, dict) or len(b) != 1:
        return 0
    kind, body = next(iter(b.items()))
    if kind == "list" and isinstance(body, list):
        return sum(_folds(sub) for sub in body)
    if kind == "dict" and isinstance(body, dict):
        return sum(_folds(sub) for sub in body.values())
    if kind == "path" and isinstance(body, dict):
        return _folds(body.get("of"))
    return 0
