"""Type descriptors: the JSON form of a Python annotation, named and compared without Python.

A descriptor is a small dict, e.g. `{"t": "list", "of": {"t": "float"}}`. Specs carry
descriptors, never Python classes, so a graph can be checked and moved without importing user
code. Each kind (`"t"`) has one `KindRule` in the registry below; the values layer registers
its type handlers here too (a handler is a `KindRule` that can also convert values), so naming
and assignability live in one place for every kind.
"""

from __future__ import annotations

from typing import Any

TypeDesc = dict[str, Any]


def qualified_name(obj: Any) -> str:
    """`module:qualname` of a class or function: how descriptors and specs name code."""
    return f"{obj.__module__}:{obj.__qualname__}"


class KindRule:
    """What the model knows of one kind of descriptor: its readable name and which other
    descriptors of the same kind may bind to it. Subclasses override what differs."""

    kind: str = ""

    def name(self, desc: TypeDesc) -> str:
        ref = desc.get("ref")
        return ref.rpartition(":")[2] if ref else self.kind

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        """Whether `src` fits `dst`, both of this kind."""
        return src.get("ref") == dst.get("ref") or dst.get("ref") is None


class ScalarRule(KindRule):
    """A kind without parameters: every descriptor of it fits every other."""

    display = ""

    def __init__(self, kind: str = "", display: str = ""):
        self.kind = kind or self.kind
        self.display = display or self.display

    def name(self, desc: TypeDesc) -> str:
        return self.display or self.kind

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        return True


class ListRule(KindRule):
    kind = "list"

    def name(self, desc: TypeDesc) -> str:
        return f"List[{type_name(desc['of'])}]"

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        return is_assignable(src["of"], dst["of"])


class DictRule(KindRule):
    kind = "dict"

    def name(self, desc: TypeDesc) -> str:
        return f"Dict[{type_name(desc['key'])}, {type_name(desc['of'])}]"

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        return src["key"] == dst["key"] and is_assignable(src["of"], dst["of"])


class TupleRule(KindRule):
    kind = "tuple"

    def name(self, desc: TypeDesc) -> str:
        return f"Tuple[{', '.join(type_name(d) for d in desc['items'])}]"

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        return len(src["items"]) == len(dst["items"]) and all(
            is_assignable(a, b) for a, b in zip(src["items"], dst["items"]))


class OptionalRule(KindRule):
    kind = "optional"

    def name(self, desc: TypeDesc) -> str:
        return f"Optional[{type_name(desc['of'])}]"


class UnionRule(KindRule):
    """`Union[A, B, ...]` of two or more types besides None (`{"t": "union", "of": [...]}`,
    None among them when the Union holds it); what fits it: `is_assignable`."""

    kind = "union"

    def name(self, desc: TypeDesc) -> str:
        return f"Union[{', '.join(type_name(d) for d in desc['of'])}]"


class FileRule(KindRule):
    kind = "file"

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        return not dst["format"] or not src["format"] or src["format"] == dst["format"]


class PickleRule(KindRule):
    kind = "pickle"

    def name(self, desc: TypeDesc) -> str:
        ref = desc.get("ref")
        return (ref.rpartition(":")[2] if ref else "object") + " (pickled)"


_RULES: dict[str, KindRule] = {}


def register_kind(rule: KindRule) -> None:
    """Make `rule` the one for its kind (a later registration replaces an earlier one)."""
    _RULES[rule.kind] = rule


def kind_rule(kind: str) -> KindRule | None:
    return _RULES.get(kind)


for _rule in (ScalarRule("int"), ScalarRule("float"), ScalarRule("str"), ScalarRule("bool"),
              ScalarRule("bytes"), ScalarRule("any", "Any"), ScalarRule("none", "None"),
              ScalarRule("dir", "Directory"), ListRule(), DictRule(), TupleRule(),
              OptionalRule(), UnionRule(), FileRule(), PickleRule()):
    register_kind(_rule)
for _kind in ("dataclass", "enum", "basemodel"):
    _rule = KindRule()
    _rule.kind = _kind
    register_kind(_rule)


def type_name(desc: TypeDesc) -> str:
    """A readable name for a descriptor, in typing's notation."""
    rule = _RULES.get(desc.get("t", ""))
    return rule.name(desc) if rule is not None else str(desc.get("ref") or desc.get("t"))


def is_assignable(src: TypeDesc, dst: TypeDesc) -> bool:
    """Whether a value of type `src` may bind to an input of type `dst`: `Any` fits and takes
    anything, `T` and `None` fit `Optional[T]`, an int fits a float, and otherwise the kinds
    must match and their rule decides. A type fits a Union when it fits one of its types.
    Where one of several types may fit, as flytekit accepts it (`Optional[T]` into a Union of
    T and others, a Union into an Optional or another Union), the value is checked when it
    exists and fails the node that reads it if it does not fit; a Union fits any other type
    only when each of its types does."""
    s, d = src["t"], dst["t"]
    if d == "any" or s == "any":
        return True
    if s == "union":
        fits = [is_assignable(variant, dst) for variant in src["of"]]
        return any(fits) if d in ("union", "optional") else all(fits)
    if d == "union":
        inner = src["of"] if s == "optional" else src
        return any(is_assignable(inner, variant) for variant in dst["of"])
    if d == "optional":
        return s == "none" or is_assignable(src["of"] if s == "optional" else src, dst["of"])
    if s == "optional":
        return False
    if s == d:
        rule = _RULES.get(s)
        return rule.assignable(src, dst) if rule is not None else src == dst
    return s == "int" and d == "float"


def step_type(desc: TypeDesc, step: list[Any]) -> TypeDesc | None:
    """The type of the part of a `desc` value that a path step names, or None when a value
    of that type has no such part."""
    kind, key = step
    t = desc.get("t")
    if t == "any":
        return {"t": "any"}
    if kind == "attr" and t in ("dataclass", "basemodel"):
        return desc.get("fields", {}).get(key)
    if kind == "index" and t == "list":
        return desc["of"]
    if kind == "index" and t == "tuple":
        items = desc["items"]
        return items[key] if -len(items) <= key < len(items) else None
    if kind == "key" and t == "dict":
        return desc["of"]
    return None
