"""Turning a workflow or dynamic body into a graph spec."""

from __future__ import annotations

import contextvars
import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from sdk.authoring.options import overridden
from sdk.authoring.promise import Condition, Promise, Void, call_outputs, contains_promise
from sdk.authoring.records import NodeRecords, OutputRecords
from sdk.model import entity as registry
from sdk.model.bindings import Binding
from sdk.model.entity import Runnable
from sdk.model.errors import BindingError, CompileError, CompileTypeError, TypeConversionError
from sdk.model.interface import Interface
from sdk.model.spec import GraphSpec, NodeSpec, TaskRef, with_bundle
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc, is_assignable, type_name
from sdk.values.literals import encode, to_ref
from sdk.values.shapes import named_outputs

_PIECE_ITEMS = 8192  # strings joined into one piece of a large binding's JSON text

_current: contextvars.ContextVar[GraphBuilder | None] = contextvars.ContextVar(
    "graft_builder", default=None
)


def current_builder() -> GraphBuilder | None:
    return _current.get()


class Callee(Runnable, Protocol):
    """What a body may call: a runnable that becomes a node of the graph being built."""

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec: ...


class Called:
    """What a body may call: inside a body the call becomes a node of the graph being built;
    anywhere else it runs in-process. Subclasses have `interface`, `kind` and `name`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is not None:
            return builder.add_call(self, args, kwargs)
        return registry.run_locally(self, args, kwargs)

    def bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        return bind_arguments(self, args, kwargs)


def workflow_node(entity: Runnable, task: TaskRef, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None) -> NodeSpec:
    """The node of a sub-workflow (decorated, imperative or a launch plan): its graph inline,
    its tasks on `bundle` when given (inside a dynamic, on a worker)."""
    subgraph = entity.graph()
    return NodeSpec(id=node_id, kind="workflow", task=task,
                    inputs_types=dict(entity.interface.inputs),
                    outputs_types=dict(entity.interface.outputs), inputs=bindings,
                    subgraph=with_bundle(subgraph, bundle) if bundle else subgraph)


def bind_arguments(entity: Runnable, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Map a call's arguments to input names, filling defaults; CompileError names the fault."""
    iface = entity.interface
    names = list(iface.inputs)
    what = f"{entity.kind} {entity.name!r}"
    if len(args) > len(names):
        raise BindingError(f"{what} takes {len(names)} input(s) ({', '.join(names) or 'none'}) "
                           f"but was called with {len(args)} positional arguments")
    bound = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in iface.inputs:
            raise BindingError(f"{what} has no input {name!r}; its inputs are: "
                               f"{', '.join(names) or 'none'}")
        if name in bound:
            raise BindingError(f"{what}: input {name!r} is given twice")
        bound[name] = value
    for name in names:
        if name not in bound:
            if name not in iface.defaults:
                raise BindingError(f"call to {what} is missing input {name!r} "
                                   f"({type_name(iface.inputs[name])})")
            bound[name] = iface.defaults[name]
    return bound


class GraphBuilder:
    """Records the nodes a body creates. In dynamic mode the body's inputs are real values, and
    are bound as values (re-encoded, so in-place changes count) like any other.

    A builder may have a `parent` (the branch of a conditional inside a body): a Promise of an
    enclosing builder that it reads becomes one of its graph's inputs (`imports`), bound by
    the conditional node to that Promise.
    """

    def __init__(self, name: str, store_factory: Callable[[], Store],
                 bundle: str | None = None, parent: GraphBuilder | None = None,
                 dynamic: bool = False):
        self.name = name
        self.dynamic = dynamic or (parent is not None and parent.dynamic)
        self.nodes = NodeRecords()
        self._ids: dict[str, int] = {}
        self._ports: dict[tuple[str, str], tuple[str, str, TypeDesc, GraphBuilder]] = {}
        self._store_factory = store_factory
        self._bundle = bundle
        self.parent = parent
        self.imports: dict[str, tuple[str, Promise]] = {}  # key -> (input name, outer promise)
        self.open_conditionals: list[Any] = []

    @contextmanager
    def active(self) -> Iterator[GraphBuilder]:
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)

    def add_call(self, entity: Callee, args: tuple, kwargs: dict[str, Any]) -> Any:
        bound = bind_arguments(entity, args, kwargs)
        iface = entity.interface
        bindings = {
            name: self.to_binding(value, iface.inputs[name],
                                  f"call to {entity.kind} {entity.name!r}, input {name!r}")
            for name, value in bound.items()
        }
        node_id = self._new_id(entity.name)
        self.nodes.append(entity.node_spec(node_id, bindings, self._bundle))
        return self.promises(node_id, entity.name, iface)

    def add_node(self, node: NodeSpec) -> None:
        self.nodes.append(node)

    def override(self, node_id: str, given: dict[str, Any]) -> None:
        """Apply `.with_overrides(**given)` to node `node_id` of this body."""
        try:
            i = self.nodes.position(node_id)
        except ValueError:
            raise CompileError(f"node {node_id!r} is not in this body: with_overrides() "
                               f"applies to a call made in the same body") from None
        self.nodes[i] = overridden(self.nodes[i], given, f"node {node_id!r}: with_overrides")

    def new_id(self, base: str) -> str:
        """A node id not used yet in this body: `base`, then `base-1`, `base-2`..."""
        return self._new_id(base)

    def _new_id(self, base: str) -> str:
        n = self._ids.get(base, 0)
        self._ids[base] = n + 1
        return base if n == 0 else f"{base}-{n}"

    def add_after(self, node_id: str, before: str) -> None:
        """Make node `node_id` wait for node `before` (ordering without data)."""
        try:
            i = self.nodes.position(node_id)
        except ValueError:
            raise CompileError(f"node {node_id!r} is not in this body") from None
        node = self.nodes[i]
        if before not in node.after:
            self.nodes[i] = dataclasses.replace(node, after=(*node.after, before))

    def promises(self, node_id: str, task_name: str, iface: Interface) -> Any:
        """The Promises of a node's outputs, shaped as the call returns them."""
        promises = [Promise.output(node_id, self._port(task_name, name, desc))
                    for name, desc in iface.outputs.items()]
        if iface.style == "none":
            return Void(node_id, self, f"{task_name} (node {node_id!r})")
        if iface.style == "single":
            return promises[0]
        if iface.style == "namedtuple":
            assert iface.namedtuple is not None
            return call_outputs(iface.namedtuple)(*promises)
        return call_outputs(named_outputs("DefaultNamedTupleOutput", tuple(iface.outputs)))(
            *promises)

    def _port(self, task_name: str, output: str,
              desc: TypeDesc) -> tuple[str, str, TypeDesc, GraphBuilder]:
        """What the Promises of output `output` of calls of `task_name` share."""
        port = self._ports.get((task_name, output))
        if port is None or port[2] != desc:
            port = self._ports[(task_name, output)] = (task_name, output, desc, self)
        return port

    def to_binding(self, value: Any, want: TypeDesc, where: str) -> Binding:
        if isinstance(value, Promise):
            if not is_assignable(value._type, want):
                raise CompileTypeError(f"{where}: {value._label} is {type_name(value._type)}, "
                                       f"which does not fit {type_name(want)}")
            return self.own(value)
        if isinstance(value, Condition):
            raise CompileError(f"{where}: got the condition {value.label}; conditions go into "
                               f"conditional(...).if_(), not into task inputs")
        if hasattr(value, "_conditional_name"):
            raise BindingError(f"{where}: conditional {value._conditional_name!r} is not "
                               f"finished: end it with .else_().then(...) or .else_().fail(...)")
        if isinstance(value, tuple) and value and all(isinstance(v, Promise) for v in value) \
                and want["t"] not in ("list", "tuple", "any"):
            raise BindingError(f"{where}: got the {len(value)} outputs of one call; pick one "
                               f"(unpack them, or use the named field)")
        if contains_promise(value):
            return self._container_binding(value, want, where)
        try:
            literal = encode(value, want, self._store_factory(), where)
        except TypeConversionError as exc:
            raise CompileTypeError(str(exc)) from None
        return {"val": to_ref(literal, self._store_factory())}

    def _binding_text(self, value: Any, want: TypeDesc, where: str,
                      out: list[str] | None = None) -> list[str]:
        """The JSON text of `to_binding(value, want, where)` in pieces (added to `out`), a
        list holding Promises written an item at a time: a fan-out's output binding is never
        held as dicts, nor copied whole."""
        pieces: list[str] = [] if out is None else out
        if isinstance(value, (list, tuple)) and want["t"] in ("list", "any") \
                and contains_promise(value):
            item = want.get("of", {"t": "any"})
            pieces.append('{"list":[')
            batch: list[str] = []
            for i, v in enumerate(value):
                if i:
                    batch.append(",")
                self._binding_text(v, item, f"{where}[{i}]", batch)
                if len(batch) >= _PIECE_ITEMS:
                    pieces.append("".join(batch))
                    batch.clear()
            pieces.append("".join(batch) + "]}")
            return pieces
        pieces.append(json.dumps(self.to_binding(value, want, where), separators=(",", ":")))
        return pieces

    def own(self, promise: Promise) -> Binding:
        """The binding of `promise` within this builder's graph: its own binding, or an input
        imported from an enclosing builder."""
        if promise._owner is None or promise._owner is self:
            return promise._binding
        if self.parent is None:
            raise CompileError(f"{promise._label} belongs to another workflow body; pass it as "
                               f"an input instead")
        key = f"{id(promise._owner)}:{json.dumps(promise._binding, sort_keys=True)}"
        if key not in self.imports:
            self.imports[key] = (f"in{len(self.imports)}", promise)
        return {"input": self.imports[key][0]}

    def _container_binding(self, value: Any, want: TypeDesc, where: str) -> Binding:
        t = want["t"]
        inner = want["of"] if t == "optional" else want
        if isinstance(value, (list, tuple)) and inner["t"] in ("list", "any"):
            item = inner.get("of", {"t": "any"})
            return {"list": [self.to_binding(v, item, f"{where}[{i}]")
                             for i, v in enumerate(value)]}
        if isinstance(value, dict) and inner["t"] in ("dict", "any") and \
                inner.get("key", {"t": "str"})["t"] == "str":
            item = inner.get("of", {"t": "any"})
            return {"dict": {str(k): self.to_binding(v, item, f"{where}[{k!r}]")
                             for k, v in value.items()}}
        raise CompileTypeError(f"{where}: a {type(value).__name__} holding Promises cannot be "
                               f"passed as {type_name(want)}")

    def finish(self, result: Any, iface: Interface, what: str) -> GraphSpec:
        """The spec, with `result` (what the body returned) bound to the declared outputs."""
        if self.open_conditionals:
            name = self.open_conditionals[0]._conditional_name
            raise BindingError(f"{what}: conditional {name!r} is not finished: end it with "
                               f".else_().then(...) or .else_().fail(...)")
        try:
            values = iface.output_values(None if isinstance(result, Void) else result, what)
        except TypeConversionError as exc:  # outputs of the wrong count
            raise BindingError(str(exc)) from None
        outputs = OutputRecords()
        for name, value in zip(iface.outputs, values):
            outputs.add(name, iface.outputs[name], self._binding_text(
                value, iface.outputs[name], f"{what}, output {name!r}"))
        return GraphSpec(self.name, dict(iface.inputs), self.nodes, outputs,
                         iface.style, iface.namedtuple_ref)
