"""Imperative workflows: build a workflow node by node instead of writing a body.

    wb = Workflow(name="my_workflow")
    x = wb.add_workflow_input("x", list[int])
    node = wb.add_entity(slope, x=x, y=wb.inputs["y"])
    wb.add_workflow_output("slope", node.outputs["o0"])
    wb(x=[1, 2], y=[3, 4])            # runs like a decorated workflow; Client().submit(wb, ...)
"""

from __future__ import annotations

from typing import Any

from sdk.authoring.compiler import Called, GraphBuilder, workflow_node
from sdk.authoring.entities import WorkflowFailurePolicy, check_handler, failure_handler
from sdk.authoring.node import Node, node_of
from sdk.authoring.options import check_names
from sdk.authoring.promise import Promise, contains_promise
from sdk.model.bindings import Binding
from sdk.model.errors import CompileError, ConfigError, GraftError
from sdk.model.interface import Interface
from sdk.model.spec import FAIL_IMMEDIATELY, GraphSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc
from sdk.model.validate import validate
from sdk.values.handlers import describe
from sdk.values.staging import staged


class Workflow(Called):
    """A workflow built with `add_workflow_input`, `add_entity` and `add_workflow_output`;
    once built it runs, submits and nests like a `@workflow`."""

    kind = "workflow"

    def __init__(self, name: str, failure_policy: Any = None, **options: Any):
        if not isinstance(name, str) or not name or "/" in name:
            raise ConfigError(f"Workflow(name): a non-empty name without '/', got {name!r}")
        check_names(f"Workflow({name!r})", options, ())
        if failure_policy is not None and not isinstance(failure_policy, WorkflowFailurePolicy):
            raise ConfigError(f"Workflow({name!r}): failure_policy must be a "
                              f"WorkflowFailurePolicy, got {failure_policy!r}")
        self.name = name
        self.module, self.qualname = "imperative", name
        self.failure_policy = failure_policy.value if failure_policy else FAIL_IMMEDIATELY
        self._builder = GraphBuilder(name, staged)
        self._inputs: dict[str, TypeDesc] = {}
        self._promises: dict[str, Promise] = {}
        self._outputs: list[tuple[str, TypeDesc, Promise]] = []
        self._handler: Any = None

    @property
    def ref(self) -> str:
        return f"imperative:{self.name}"

    def __repr__(self) -> str:
        return f"<graft imperative workflow {self.name!r}>"

    # ---- building ---------------------------------------------------------------------------

    def add_workflow_input(self, name: str, python_type: Any) -> Promise:
        """Declare an input; return its Promise (also `wb.inputs[name]`)."""
        if name in self._inputs:
            raise CompileError(f"workflow {self.name!r} has an input {name!r} already")
        desc = describe(python_type)
        self._inputs[name] = desc
        self._promises[name] = Promise({"input": name}, desc,
                                       f"input {name!r} of workflow {self.name!r}",
                                       self._builder)
        return self._promises[name]

    @property
    def inputs(self) -> dict[str, Promise]:
        return dict(self._promises)

    def add_entity(self, entity: Any, **kwargs: Any) -> Node:
        """Add a call of a task, workflow, launch plan or map task; return its Node, whose
        `.outputs` bind on."""
        with self._builder.active():
            result = entity(**kwargs)
        return node_of(result, f"add_entity({getattr(entity, 'name', entity)})")

    def add_task(self, entity: Any, **kwargs: Any) -> Node:
        return self.add_entity(entity, **kwargs)

    def add_subwf(self, entity: Any, **kwargs: Any) -> Node:
        return self.add_entity(entity, **kwargs)

    def add_launch_plan(self, entity: Any, **kwargs: Any) -> Node:
        return self.add_entity(entity, **kwargs)

    def add_workflow_output(self, name: str, promise: Any, python_type: Any = None) -> None:
        """Declare an output bound to `promise`, or to a list or dict of Promises (then give
        `python_type`); checked against `python_type` when given."""
        where = f"workflow {self.name!r}, output {name!r}"
        if any(n == name for n, _, _ in self._outputs):
            raise CompileError(f"workflow {self.name!r} has an output {name!r} already")
        if not isinstance(promise, Promise):
            if not isinstance(promise, (list, dict)) or not contains_promise(promise):
                raise CompileError(f"{where}: bind it to a Promise (a node's `.outputs[...]` "
                                   f"or an input), or a list or dict of them, got {promise!r}")
            if python_type is None:
                raise CompileError(f"{where}: a list or dict of Promises needs python_type "
                                   f"(e.g. List[int])")
        desc = describe(python_type) if python_type is not None else promise._type
        self._builder.to_binding(promise, desc, where)  # CompileError when it does not fit
        self._outputs.append((name, desc, promise))

    def add_on_failure_handler(self, entity: Any) -> None:
        """Run `entity` (with this workflow's inputs, and `err`) once if the workflow fails."""
        check_handler(entity, f"workflow {self.name!r}")
        self._handler = entity

    # ---- as a workflow ----------------------------------------------------------------------

    @property
    def interface(self) -> Interface:
        outputs = {name: desc for name, desc, _ in self._outputs}
        style = "none" if not outputs else "single" if len(outputs) == 1 else "tuple"
        return Interface(dict(self._inputs), outputs, style)

    def graph(self) -> GraphSpec:
        iface = self.interface
        outputs = [OutputSpec(name, desc, self._builder.to_binding(promise, desc,
                                                                   f"output {name!r}"))
                   for name, desc, promise in self._outputs]
        spec = GraphSpec(self.name, dict(iface.inputs), list(self._builder.nodes), outputs,
                         iface.style, None, self.failure_policy, self._handler_node())
        validate(spec)
        return spec

    def _handler_node(self) -> NodeSpec | None:
        if self._handler is None:
            return None
        return failure_handler(self._handler, f"workflow {self.name!r}", self._inputs,
                               self._builder)

    def node_spec(self, node_id: str, bindings: dict[str, Binding],
                  bundle: str | None = None) -> NodeSpec:
        return workflow_node(self, TaskRef("imperative", self.name, self.name, bundle),
                             node_id, bindings, bundle)

    def run(self, values: dict[str, Any]) -> Any:
        raise GraftError(f"{self!r} runs as a workflow, not on a worker")

    def expand(self, values: dict[str, Any], store: Store, bundle: str | None) -> GraphSpec:
        raise GraftError(f"{self!r} is not a dynamic")
