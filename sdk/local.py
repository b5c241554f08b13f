"""The in-process runner: `wf()` runs the workflow here, through the same engine as the
scheduler, and returns native values."""

from __future__ import annotations

from collections import deque
from typing import Any

from sdk import cache as local_cache
from sdk.compiler import bind_arguments
from sdk.engine import Engine, ExecutionState, NodeState
from sdk.entities import DynamicDef, Entity, TaskDef, WorkflowDef, default_store, lookup
from sdk.errors import ExecutionFailed, GraftError, NodeFailure, TypeConversionError
from sdk.execute import execute, materialize
from sdk.literals import decode, encode, to_ref
from sdk.spec import Binding, GraphSpec, OutputSpec
from sdk.store import Store
from sdk.typesys import import_ref


def single_node_graph(entity: TaskDef) -> GraphSpec:
    """A graph of one node running `entity`, so a bare task call runs through the engine."""
    iface = entity.interface
    node = entity.node_spec(entity.name, {n: {"input": n} for n in iface.inputs})
    outputs = [OutputSpec(n, d, {"ref": [node.id, n]}) for n, d in iface.outputs.items()]
    return GraphSpec(entity.name, dict(iface.inputs), [node], outputs, iface.style,
                     iface.namedtuple_ref)


def graph_of(entity: Entity) -> GraphSpec:
    if isinstance(entity, WorkflowDef):
        return entity.compile()
    assert isinstance(entity, TaskDef)
    return single_node_graph(entity)


def encode_inputs(entity: Entity, values: dict[str, Any], store: Store) -> dict[str, Binding]:
    iface = entity.interface
    try:
        return {
            name: {"val": to_ref(encode(v, iface.inputs[name], store,
                                        f"input {name!r} of {entity.kind} {entity.name!r}"),
                                 store)}
            for name, v in values.items()
        }
    except TypeConversionError:
        raise
    except GraftError as exc:
        raise TypeConversionError(str(exc)) from exc


def shape_outputs(spec: GraphSpec, outputs: dict[str, Binding], store: Store) -> Any:
    """Native values of a finished graph's outputs: None, one value, a tuple or a NamedTuple."""
    values = [decode(materialize(outputs[o.name], store), o.type, store,
                     f"output {o.name!r} of {spec.name!r}") for o in spec.outputs]
    return shape_values(spec.output_style, spec.output_ref, values)


def shape_values(style: str, ref: str | None, values: list[Any]) -> Any:
    if style == "none":
        return None
    if style == "single":
        return values[0]
    if style == "namedtuple" and ref:
        try:
            return import_ref(ref)(*values)
        except GraftError:
            pass
    return tuple(values)


def run_local(entity: Entity, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Run a workflow, dynamic or task in this process; ExecutionFailed on a failed node."""
    bound = bind_arguments(entity, args, kwargs)
    store = default_store()
    spec = graph_of(entity)
    engine = Engine(spec, encode_inputs(entity, bound, store))
    exceptions = _drive(engine, store)
    if engine.state == ExecutionState.FAILED:
        failures = [_failure(engine, nid) for nid in engine.failed]
        err = ExecutionFailed("local", failures, f"{entity.kind} {entity.name!r} failed")
        raise err from exceptions.get(engine.failed[0])
    assert engine.outputs is not None
    return shape_outputs(spec, engine.outputs, store)


def _failure(engine: Engine, node_id: str) -> NodeFailure:
    run = engine.nodes[node_id]
    err = run.error or {}
    return NodeFailure(node_id, run.spec.task.name, err.get("type", "Error"),
                       err.get("message", ""), err.get("traceback", ""))


def _drive(engine: Engine, store: Store) -> dict[str, BaseException]:
    """Run released nodes until none are left; return the user exceptions by node id."""
    ready = deque(engine.start())
    cache_keys: dict[str, str] = {}
    exceptions: dict[str, BaseException] = {}
    while ready:
        node_id = ready.popleft()
        run = engine.nodes[node_id]
        spec = run.spec
        inputs = engine.resolved_inputs(node_id)
        entity = lookup(spec.task.ref)
        if entity is None:
            released = engine.fail(node_id, run.attempt, {
                "type": "GraftError", "message": f"{spec.task.ref} is not defined in this "
                "process"}, retriable=False)
            ready.extend(released or [])
            continue
        key = local_cache.key_for(spec, inputs, store) if spec.cache else None
        hit = local_cache.lookup(key, store) if key else None
        if hit is not None:
            released = engine.complete(node_id, run.attempt, hit)
        else:
            outcome = execute(spec, entity, inputs, store)
            if outcome.kind == "values":
                assert outcome.outputs is not None
                if key:
                    local_cache.save(key, outcome.outputs)
                released = engine.complete(node_id, run.attempt, outcome.outputs)
            elif outcome.kind == "subgraph":
                assert outcome.subgraph is not None
                if key:
                    cache_keys[node_id] = key
                try:
                    released = engine.graft(node_id, run.attempt, outcome.subgraph)
                except GraftError as exc:
                    released = engine.fail(node_id, run.attempt,
                                           {"type": type(exc).__name__, "message": str(exc)},
                                           retriable=False)
            else:
                if outcome.exception is not None:
                    exceptions[node_id] = outcome.exception
                released = engine.fail(node_id, run.attempt, outcome.error or {},
                                       outcome.retriable)
        ready.extend(released or [])
        _save_finished_dynamics(engine, cache_keys)
    return exceptions


def _save_finished_dynamics(engine: Engine, cache_keys: dict[str, str]) -> None:
    for node_id in engine.drain_changes():
        key = cache_keys.get(node_id)
        run = engine.nodes[node_id]
        if key and run.state == NodeState.SUCCEEDED and isinstance(lookup(run.spec.task.ref),
                                                                     DynamicDef):
            assert run.outputs is not None
            local_cache.save(key, run.outputs)
            del cache_keys[node_id]
