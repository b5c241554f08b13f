"""Tasks and workflows replaced by mocks in unit tests, as flytekit's `task_mock` and `patch`
(`sdk.testing`):

    with task_mock(sql) as mock:              # a MagicMock
        mock.return_value = pd.DataFrame(...)
        my_wf()                               # sql's node returns the DataFrame, sql never runs

    @patch(sql)
    def test_wf(mock_sql): ...

While a mock is installed, the in-process runner runs it in place of the task, dynamic or
workflow, wherever that is called: directly, as a node of a workflow or sub-workflow, an item
of a map, a node a dynamic builds. The mock is called with the node's input values by name,
as flytekit calls it (inputs left at their default are not passed); what it returns is
converted by the entity's declared outputs, so a wrong type fails as a real task's would. A
mocked node is never looked up in the cache nor saved to it. Mocks replace nothing on a
cluster: workers run the submitted code.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from unittest.mock import MagicMock

from sdk.model.entity import DYNAMIC, TASK, WORKFLOW, Runnable
from sdk.model.errors import GraftError
from sdk.model.reference import not_runnable, reference_of
from sdk.model.spec import GraphSpec, NodeSpec, OutputSpec, TaskRef
from sdk.model.store import Store

_log = logging.getLogger("graft.testing")

# The mocks installed now, by the reference of what they replace (the last one wins).
_active: dict[str, list[Mocked]] = {}


def _check(target: Any, refusal: str) -> None:
    """ValueError, as flytekit's, unless `target` is a task, dynamic or workflow."""
    if not isinstance(target, Runnable) or target.kind not in (TASK, DYNAMIC, WORKFLOW):
        raise ValueError(f"{refusal}, but got {type(target)}")


@contextmanager
def installed(target: Runnable, call: Callable[..., Any]) -> Iterator[None]:
    """Run `call` in place of `target` in in-process runs, until the block ends (also when it
    raises: flytekit leaves the mock installed then)."""
    mocked = Mocked(target, call)
    stack = _active.setdefault(target.ref, [])
    stack.append(mocked)
    try:
        yield
    finally:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is mocked:
                del stack[i]
                break
        if not stack:
            _active.pop(target.ref, None)


@contextmanager
def task_mock(t: Any) -> Iterator[MagicMock]:
    """Replace task (or dynamic, or workflow) `t` with a MagicMock while the block runs."""
    _check(t, "Can only be used for tasks")
    mock = MagicMock()

    def call(**inputs: Any) -> Any:
        _log.info("Invoking mock method for task: %r", t.name)
        return mock(**inputs)

    with installed(t, call):
        yield mock


def patch(target: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator for a test: the test runs with `target` replaced by a MagicMock, given to it
    as its first argument. The decorated test takes the test's other parameters (so pytest
    still hands it fixtures) and returns what the test returns."""
    _check(target, "Can only use mocks on tasks/workflows declared in Python")

    def wrapper(test_fn: Callable[..., Any]) -> Callable[..., Any]:
        def new_test(*args: Any, **kwargs: Any) -> Any:
            _log.info("Invoking mock method for target: %r", target.name)
            mock = MagicMock()
            with installed(target, mock):
                return test_fn(mock, *args, **kwargs)

        for name in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(new_test, name, getattr(test_fn, name, getattr(new_test, name)))
        try:
            signature = inspect.signature(test_fn)
        except (TypeError, ValueError):
            return new_test
        new_test.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=list(signature.parameters.values())[1:])
        return new_test

    return wrapper


def _given(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """`values` less the inputs at their default: flytekit calls a mock with the inputs a
    call gave (graft cannot tell an input given its default value from one left out)."""

    def same(value: Any, default: Any) -> bool:
        if value is default:
            return True
        if type(value) is not type(default):
            return False
        try:
            return bool(value == default)
        except Exception:  # a DataFrame's ==, say
            return False

    return {name: value for name, value in values.items()
            if not (name in defaults and same(value, defaults[name]))}


class Mocked:
    """A mocked entity as the runner sees it: a task whose function is the mock."""

    kind = TASK

    def __init__(self, entity: Runnable, call: Callable[..., Any]):
        self.entity = entity
        self.call = call
        self.name = entity.name
        self.interface = entity.interface
        self.output_hashers = getattr(entity, "output_hashers", {})

    @property
    def ref(self) -> str:
        return self.entity.ref

    def bind(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        return self.entity.bind(args, kwargs)

    def graph(self) -> GraphSpec:
        """One node running the mock, whatever kind of entity it replaces."""
        iface = self.interface
        module, qualname = self.ref.split(":", 1)
        node = NodeSpec(id=self.name, kind=TASK, task=TaskRef(module, qualname, self.name),
                        inputs_types=dict(iface.inputs), outputs_types=dict(iface.outputs),
                        inputs={n: {"input": n} for n in iface.inputs})
        outputs = [OutputSpec(n, d, {"ref": [node.id, n]}) for n, d in iface.outputs.items()]
        return GraphSpec(self.name, dict(iface.inputs), [node], outputs, iface.style,
                         iface.namedtuple_ref)

    def run(self, values: dict[str, Any]) -> Any:
        result = self.call(**_given(values, self.interface.defaults))
        # flytekit ignores what a task without outputs returns: a bare MagicMock's value.
        return None if self.interface.style == "none" else result

    def expand(self, values: dict[str, Any], store: Store, bundle: str | None) -> GraphSpec:
        raise GraftError(f"{self.ref} is mocked: it runs as a task")


def replacement(ref: str) -> Mocked | None:
    """The mock installed in place of the entity `ref` names (one an imperative workflow,
    which no registry holds, included), or None."""
    stack = _active.get(ref) if _active else None
    return stack[-1] if stack else None


def stand_in(entity: Runnable) -> Runnable:
    """`entity`, or the mock installed in its place."""
    return replacement(entity.ref) or entity


def check_references(graph: GraphSpec) -> None:
    """ReferenceNotRunnable, before anything runs, naming the first reference entity in
    `graph` (at any depth) that no mock replaces: it names code registered on a cluster,
    which an in-process run does not have (flytekit raises when the node is reached)."""
    for _, node in graph.walk():
        reference = reference_of(node.task) if node.kind == TASK else None
        if reference is not None and replacement(node.task.ref) is None:
            raise not_runnable(reference, node.task.name)


def substituted(graph: GraphSpec) -> GraphSpec:
    """`graph` with every node of a mocked entity made an uncached task node (a sub-workflow's
    graph dropped), at any depth: sub-workflows, maps' templates, conditionals' cases."""
    return _graph(graph) if _active else graph


def _graph(graph: GraphSpec) -> GraphSpec:
    on_failure = graph.on_failure
    return replace(graph, nodes=[_node(n) for n in graph.nodes],
                   on_failure=_node(on_failure) if on_failure is not None else None)


def _node(node: NodeSpec) -> NodeSpec:
    if node.kind in (TASK, DYNAMIC, WORKFLOW) and node.task.ref in _active:
        return replace(node, kind=TASK, subgraph=None, cache=False, cache_serialize=False)
    changes: dict[str, Any] = {}
    if node.subgraph is not None:
        changes["subgraph"] = _graph(node.subgraph)
    if node.map is not None:
        changes["map"] = replace(node.map, template=_node(node.map.template))
    if node.branch is not None:
        changes["branch"] = replace(node.branch, cases=tuple(
            replace(c, graph=_graph(c.graph)) if c.graph is not None else c
            for c in node.branch.cases))
    return replace(node, **changes) if changes else node
