"""`conditional(name)`: run one of several branches, chosen when the workflow runs.

    result = (conditional("sign")
              .if_(x > 0).then(positive(x=x))
              .elif_(x < 0).then(negative(x=x))
              .else_().fail("x is zero"))

The calls inside `.then(...)` are recorded into that case's own sub-graph, not the body's; a
Promise of the body that a case or a condition reads becomes an input of the conditional node.
Compiled, the whole chain is one node (kind "branch") whose cases hold their sub-graphs; at run
time the first case whose condition holds runs, and the others' nodes show as SKIPPED.
"""

from __future__ import annotations

import enum
from typing import Any

from sdk.authoring.compiler import GraphBuilder, _current, current_builder
from sdk.authoring.promise import Condition, Promise, Void
from sdk.model.bindings import Binding
from sdk.model.errors import BindingError, CompileError, CompileTypeError
from sdk.model.interface import Interface
from sdk.model.spec import BranchSpec, Case, GraphSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.typesys import TypeDesc, type_name

_LITERALS = (int, float, str, bool, type(None))


def conditional(name: str) -> ConditionalSection:
    """Start a conditional named `name` inside a @workflow or @dynamic body."""
    builder = current_builder()
    if builder is None:
        raise CompileError(f"conditional({name!r}) is used inside a @workflow or @dynamic "
                           f"body; outside one, use a plain Python if")
    if not isinstance(name, str) or not name or "/" in name or name == "on-failure":
        raise CompileError(f"conditional(name): the name is a non-empty string without '/' "
                           f"(and not 'on-failure'), got {name!r}")
    return ConditionalSection(name, builder)


class ConditionalSection:
    """A conditional being written: its cases so far, and what it reads from the body."""

    def __init__(self, name: str, builder: GraphBuilder):
        self._conditional_name = name
        self._builder = builder
        self._cases: list[tuple[str, dict[str, Any] | None, GraphBuilder | None, Any, str]] = []
        self._imports: dict[str, tuple[str, Promise]] = {}
        self._open: _Then | None = None
        builder.open_conditionals.append(self)

    def __repr__(self) -> str:
        return f"conditional({self._conditional_name!r})"

    def __bool__(self) -> bool:
        raise BindingError(f"conditional {self._conditional_name!r} is not finished: end it "
                           f"with .else_().then(...) or .else_().fail(...)")

    # ---- the chain --------------------------------------------------------------------------

    def if_(self, condition: Any) -> _Then:
        if self._cases or self._open is not None:
            raise CompileError(f"conditional {self._conditional_name!r}: if_() comes first, "
                               f"once; use elif_() for more cases")
        return self._case("if", condition)

    def elif_(self, condition: Any) -> _Then:
        if not self._cases or self._open is not None:
            raise CompileError(f"conditional {self._conditional_name!r}: elif_() follows "
                               f"if_(...).then(...)")
        return self._case(f"elif-{len(self._cases)}", condition)

    def else_(self) -> _Then:
        if not self._cases or self._open is not None:
            raise CompileError(f"conditional {self._conditional_name!r}: else_() follows "
                               f"if_(...).then(...)")
        return self._case("else", None)

    def _case(self, label: str, condition: Any) -> _Then:
        expr = None if condition is None else self._condition(condition, label)
        case = GraphBuilder(label, self._builder._store_factory, self._builder._bundle,
                            parent=self._builder)
        case.own = lambda promise: self._import(promise, case)  # type: ignore[method-assign]
        self._open = _Then(self, label, expr, case, _current.set(case))
        return self._open

    # ---- what the cases read ----------------------------------------------------------------

    def _import(self, promise: Promise, case: GraphBuilder | None) -> Binding:
        """A Promise as one of the conditional's inputs (the case's own Promises, read by
        that case, stay what they are)."""
        if case is not None and promise._owner is case:
            return promise._binding
        key = f"{id(promise._owner)}:{promise._binding!r}"
        if key not in self._imports:
            self._imports[key] = (f"in{len(self._imports)}", promise)
        return {"input": self._imports[key][0]}

    def _condition(self, condition: Any, label: str) -> dict[str, Any]:
        where = f"conditional {self._conditional_name!r}, {label}"
        if isinstance(condition, bool):
            if not self._builder.dynamic:
                raise BindingError(
                    f"{where}: got the plain value {condition!r}, decided when the workflow "
                    f"compiled, not when it runs (`x is None`, `not x`, `a and b` are Python "
                    f"tests). Compare the Promise instead: x.is_none(), x.is_false(), "
                    f"(a > 1) & (b < 2)")
            # a plain value in a @dynamic body: decided now
            return {"cmp": ["==", _literal(condition, where), _literal(True, where)]}
        if isinstance(condition, Promise):
            raise BindingError(f"{where}: a condition compares ({condition._label} == True, "
                               f"{condition._label}.is_true(), ...); a bare Promise is not one")
        if not isinstance(condition, Condition):
            raise CompileError(f"{where}: expected a condition such as `x > 1` or "
                               f"`(a > 1) & (b < 2)`, got {condition!r}")
        return self._expr(condition, where)

    def _expr(self, condition: Condition, where: str) -> dict[str, Any]:
        kind, body = next(iter(condition.expr.items()))
        if kind in ("and", "or"):
            return {kind: [self._expr(sub, where) for sub in body]}
        op, left, right = body
        return {"cmp": [op, self._operand(left, where), self._operand(right, where)]}

    def _operand(self, value: Any, where: str) -> Binding:
        if isinstance(value, Promise):
            if value._type.get("t") not in ("int", "float", "str", "bool", "none", "enum",
                                            "optional", "any"):
                raise CompileError(f"{where}: conditions compare numbers, strings, booleans, "
                                   f"None and Enums; {value._label} is {type_name(value._type)}")
            return self._import(value, None)
        return _literal(value, where)

    # ---- the end ----------------------------------------------------------------------------

    def _then(self, label: str, expr: dict[str, Any] | None, case: GraphBuilder,
              result: Any, fail: str | None) -> Any:
        self._open = None
        self._cases.append((label, expr, case, result, fail or ""))
        if expr is not None:
            return self
        return self._close()

    def _close(self) -> Any:
        self._builder.open_conditionals.remove(self)
        name = self._conditional_name
        outputs = self._outputs()
        cases = []
        for label, expr, case, result, fail in self._cases:
            if fail:
                cases.append(Case(label, expr, fail=fail))
                continue
            assert case is not None
            cases.append(Case(label, expr, graph=self._case_graph(case, result, outputs)))
        inputs_types = {n: p._type for n, p in self._imports.values()}
        bindings = {n: self._builder.to_binding(p, p._type, f"conditional {name!r}, {p._label}")
                    for n, p in self._imports.values()}
        node_id = self._builder.new_id(name.replace("/", "_"))
        self._builder.add_node(NodeSpec(
            node_id, "branch", TaskRef("sdk.authoring.conditional", "conditional", name),
            inputs_types, outputs, bindings, branch=BranchSpec(name, tuple(cases))))
        first = next((r for _, _, _, r, fail in self._cases if not fail), None)
        shape = type(first) if isinstance(first, tuple) and hasattr(first, "_fields") \
            and list(first._fields) == list(outputs) else None
        style = "none" if not outputs else "namedtuple" if shape else \
            "single" if len(outputs) == 1 else "tuple"
        return self._builder.promises(node_id, name, Interface({}, outputs, style,
                                                                namedtuple=shape))

    def _outputs(self) -> dict[str, TypeDesc]:
        """The outputs of the conditional, as flytekit computes them: those every case that
        does not fail produces (by name, in the first case's order), none when a case
        produces none. Each must be of one type in every case (CompileTypeError naming the
        cases otherwise)."""
        shapes = {label: _shape(result, f"conditional {self._conditional_name!r}, {label}")
                  for label, _, _, result, fail in self._cases if not fail}
        shapes_list = list(shapes.values())
        if not shapes_list or not all(shapes_list):
            return {}
        out = {}
        for name in [n for n in shapes_list[0] if all(n in shape for shape in shapes_list)]:
            types = {type_name(shape[name]) for shape in shapes_list}
            if len(types) > 1:
                raise CompileTypeError(f"conditional {self._conditional_name!r}: its cases "
                                       f"give output {name} different types "
                                       f"({', '.join(sorted(types))}); every case must "
                                       f"produce the same type")
            out[name] = shapes_list[0][name]
        return out

    def _case_graph(self, case: GraphBuilder, result: Any, outputs: dict[str, TypeDesc]
                    ) -> GraphSpec:
        values = _values(result)
        specs = [OutputSpec(name, desc, case.to_binding(values[name], desc,
                                                        f"{case.name} output {name}"))
                 for name, desc in outputs.items()]
        reads = {n: p._type for n, p in self._imports.values()}
        return GraphSpec(case.name, reads, list(case.nodes), specs, "single")


class _Then:
    """The open case of a conditional: `.then(call)` or, for `else_()`, `.fail(message)`."""

    def __init__(self, section: ConditionalSection, label: str, expr: dict[str, Any] | None,
                 case: GraphBuilder, token: Any):
        self._section = section
        self._label = label
        self._expr = expr
        self._case = case
        self._token = token

    def then(self, result: Any) -> Any:
        """End the case with what it produces: a call's result (or a tuple of Promises)."""
        _current.reset(self._token)
        if self._case.open_conditionals:
            raise CompileError(f"conditional {self._case.open_conditionals[0]._conditional_name!r}"
                               f" inside {self._section!r} is not finished")
        _shape(result, f"{self._section!r}, {self._label}")
        return self._section._then(self._label, self._expr, self._case, result, None)

    def fail(self, message: str) -> Any:
        """End the conditional with an else that fails the execution with `message`."""
        _current.reset(self._token)
        if self._expr is not None:
            raise CompileError(f"{self._section!r}: fail() ends else_(), not {self._label}")
        if self._case.nodes:
            raise CompileError(f"{self._section!r}: else_().fail() runs no task; call tasks in "
                               f"a .then()")
        return self._section._then(self._label, None, self._case, None, message or "failed")


def _literal(value: Any, where: str) -> Binding:
    if isinstance(value, enum.Enum):
        value = value.value
    if not isinstance(value, _LITERALS):
        raise CompileError(f"{where}: conditions compare with numbers, strings, booleans, None "
                           f"or Enums, not {type(value).__name__}")
    return {"val": {"v": value}}


def _values(result: Any) -> dict[str, Any]:
    if isinstance(result, Promise):
        return {"o0": result}
    if isinstance(result, tuple) and hasattr(result, "_fields"):
        return dict(zip(result._fields, result))
    if isinstance(result, tuple):
        return {f"o{i}": v for i, v in enumerate(result)}
    return {}


def _shape(result: Any, where: str) -> dict[str, TypeDesc]:
    """The outputs a case's result gives, by name and type; CompileError for anything that is
    not a call's result."""
    if result is None or isinstance(result, Void):
        return {}
    values = _values(result)
    if not values or not all(isinstance(v, Promise) for v in values.values()):
        raise CompileError(f"{where}: .then() takes the result of a task, workflow or "
                           f"conditional call, got {result!r}")
    return {name: v._type for name, v in values.items()}
