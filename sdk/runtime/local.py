"""The in-process runner: `wf()` runs the workflow here, through the same engine as the
scheduler, and returns native values."""

from __future__ import annotations

from collections import deque
from typing import Any

from sdk.model import entity as registry
from sdk.model.engine import Engine, ExecutionState, NodeState
from sdk.model.entity import DYNAMIC, Runnable
from sdk.model.errors import ExecutionFailed, GraftError, NodeFailure
from sdk.model.store import Store
from sdk.runtime import cache as local_cache
from sdk.runtime.execute import execute
from sdk.values.shapes import encode_inputs, shape_outputs
from sdk.values.store import default_store


def run_local(entity: Runnable, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Run a workflow, dynamic or task in this process; ExecutionFailed on a failed node."""
    bound = entity.bind(args, kwargs)
    store = default_store()
    spec = entity.graph()
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
        entity = registry.lookup(spec.task.ref)
        if entity is None:
            released = engine.fail(node_id, run.attempt, {
                "type": "GraftError", "message": f"{spec.task.ref} is not defined in this "
                "process"}, retriable=False)
            ready.extend(released or [])
            continue
        key = local_cache.key_for(spec, inputs, store) if spec.cache else None
        hit = local_cache.lookup(key, spec, store) if key else None
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
        if key and run.state == NodeState.SUCCEEDED and run.spec.kind == DYNAMIC:
            assert run.outputs is not None
            local_cache.save(key, run.outputs)
            del cache_keys[node_id]


registry.set_local_runner(run_local)
