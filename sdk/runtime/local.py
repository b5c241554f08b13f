"""The in-process runner: `wf()` runs the workflow here, through the same engine as the
scheduler, and returns native values.

As in flytekit's local runs, a failed task is not retried (`RetryPolicy(user_retries=False)`),
and the call raises the failing task's own exception, with a note naming the node and the
task (`exc.add_note`); see `_exception_of`.
"""

from __future__ import annotations

import heapq
import random
import time
import uuid
from collections import deque
from typing import Any

from sdk.model import entity as registry
from sdk.model.engine import Engine
from sdk.model.entity import DYNAMIC, Runnable
from sdk.model.errors import ConditionalFailed, ExecutionFailed, NodeFailure
from sdk.model.report import Outcome, Report, data_failure
from sdk.model.retry import RetryPolicy
from sdk.model.states import RELEASED_STATES, ExecutionState, NodeState
from sdk.model.store import Store
from sdk.runtime import gates, mocks
from sdk.runtime.cache import CacheIndex, key_for, local_index
from sdk.runtime.execute import execute
from sdk.runtime.expand import EXPANDED, expand
from sdk.values.gathered import gather_outputs
from sdk.values.shapes import encode_inputs, shape_outputs
from sdk.values.staging import publish
from sdk.values.store import default_store


def run_local(entity: Runnable, args: tuple, kwargs: dict[str, Any]) -> Any:
    """Run a workflow, dynamic or task in this process and return its outputs.

    A failed execution raises what flytekit's local run raises: the exception of the node
    that failed it (the task's own, a TypeConversionError for an output of the wrong type,
    ConditionalFailed for a conditional's `.fail()`; for a map that too many items failed,
    the exception of the item that made them too many), with a note naming the node and the
    task. A failure no exception stands for (a workflow timeout, map lists of unequal
    lengths) raises ExecutionFailed, as `Execution.wait()` does on a cluster."""
    bound = entity.bind(args, kwargs)
    store = default_store()
    spec = mocks.substituted(mocks.stand_in(entity).graph())  # sdk.testing's mocks
    mocks.check_references(spec)
    publish(spec, store)  # what compiling staged: large literals, files
    engine = Engine(spec, encode_inputs(entity, bound, store), RetryPolicy(user_retries=False))
    exceptions = _drive(engine, store, f"local-{uuid.uuid4().hex[:12]}")
    if engine.state == ExecutionState.FAILED:
        found = _exception_of(engine, exceptions, entity) if engine.error is None else None
        if found is not None:
            raise found
        failures = [_failure(engine, nid) for nid in engine.failed]
        if engine.error is not None:
            failures.insert(0, execution_failure(engine))
        raise ExecutionFailed("local", failures, f"{entity.kind} {entity.name!r} failed")
    assert engine.outputs is not None
    return shape_outputs(spec, engine.outputs, store)


def _exception_of(engine: Engine, exceptions: dict[str, BaseException],
                  entity: Runnable) -> BaseException | None:
    """The exception that stands for a failed execution, noted with where it was raised; None
    when no node's failure has one."""
    first = engine.failed[0] if engine.failed else None
    if first is None:
        return None
    run = engine.nodes[first]
    node_id, why = first, ""
    if run.map is not None and run.map.failed:  # the item that made the failures too many
        node_id = run.map.failed[-1]
        why = f"; it failed the {(run.error or {}).get('message', 'map')}"
    if node_id not in exceptions:  # a sub-workflow's or dynamic's: its latest failed node
        node_id = next((nid for nid in reversed(exceptions) if nid.startswith(node_id + "/")),
                       node_id)
    exc = exceptions.get(node_id)
    if exc is None and (run.error or {}).get("type") == ConditionalFailed.__name__:
        exc = ConditionalFailed((run.error or {}).get("message", ""))
    if exc is None:
        return None
    spec = engine.nodes.get(node_id, run).spec
    what = f"{ {'branch': 'conditional'}.get(spec.kind, spec.kind)} {spec.task.name!r}"
    others = engine.failed[1:]
    note = (f"graft: raised by {what} in node {node_id!r} of {entity.kind} "
            f"{entity.name!r}{why}"
            + (f"; nodes {', '.join(map(repr, others))} failed too" if others else ""))
    _add_note(exc, note)
    return exc


def _add_note(exc: BaseException, note: str) -> None:
    """`exc.add_note(note)` (Python 3.11); on 3.10 the note is kept in `__notes__` all the
    same, where 3.11's tracebacks would show it."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]


def execution_failure(engine: Engine) -> NodeFailure:
    """The failure of the whole execution (its workflow timeout) as a NodeFailure of node
    id "" (no node failed)."""
    err = engine.error or {}
    return NodeFailure("", engine.spec.name, err.get("type", "Error"), err.get("message", ""),
                       "", err.get("kind", ""))


def _failure(engine: Engine, node_id: str) -> NodeFailure:
    run = engine.nodes[node_id]
    err = run.error or {}
    return NodeFailure(node_id, run.spec.task.name, err.get("type", "Error"),
                       err.get("message", ""), err.get("traceback", ""), err.get("kind", ""))


def _drive(engine: Engine, store: Store, execution_id: str) -> dict[str, BaseException]:
    """Run released nodes until none are left; return the user exceptions by node id. A node
    released again after a SYSTEM failure waits out its backoff (with jitter) first. Past the
    workflow's timeout, the execution ends (a task running then is stopped at it)."""
    ready: deque[str] = deque()
    later: list[tuple[float, str]] = []
    cache = local_index(store)
    cache_keys: dict[str, str] = {}
    exceptions: dict[str, BaseException] = {}

    def release(ids: list[str] | None) -> None:
        for nid in ids or []:
            delay = engine.nodes[nid].retry_delay_s
            if delay > 0:
                heapq.heappush(later, (time.monotonic() + jittered(delay), nid))
            else:
                ready.append(nid)

    timeout_s = engine.spec.timeout_s
    ends_at = time.monotonic() + timeout_s if timeout_s is not None else None

    def left() -> float | None:
        return None if ends_at is None else ends_at - time.monotonic()

    release(engine.start())
    while ready or later or engine.grafting or engine.gathers:
        if engine.grafting:  # an engine that inserts large graphs in slices
            release(engine.graft_more())
        for gather in engine.gathers:  # an engine that leaves large outputs to gather
            release(engine.apply(Report.gathered(gather.node, gather.attempt, gather_outputs(
                gather, engine.resolve_items, store))))
        if not ready:
            if engine.can_graft or not later:
                continue
            due, nid = heapq.heappop(later)
            remaining = left()
            wait = due - time.monotonic()
            time.sleep(max(0.0, wait if remaining is None else min(wait, remaining)))
            ready.append(nid)
        remaining = left()
        if remaining is not None and remaining <= 0:
            engine.time_out()
            break
        node_id = ready.popleft()
        run = engine.nodes[node_id]
        if run.state not in RELEASED_STATES:  # given up since it was released
            continue
        spec = run.spec
        inputs = engine.resolved_inputs(node_id)
        if spec.kind in EXPANDED:
            release(engine.apply(expand(spec, inputs, store, node_id, run.attempt)))
            continue
        if spec.kind == "gate":  # answered on the terminal, as flytekit does
            report, raised = gates.answer(run, inputs, store)
            if raised is not None:
                exceptions[node_id] = raised
            release(engine.apply(report))
            continue
        entity = mocks.replacement(spec.task.ref) or registry.lookup(spec.task.ref)
        if entity is None:
            release(engine.apply(Report.failed(node_id, run.attempt, data_failure(
                "GraftError", f"{spec.task.ref} is not defined in this process"))))
            continue
        key = key_for(spec, inputs, store) if spec.cache and cache is not None else None
        hit = cache.lookup(key, spec) if cache is not None and key else None
        if hit is not None:
            release(engine.apply(Report.cached(node_id, run.attempt, hit)))
        else:
            ran = execute(spec, entity, inputs, store, node_id=node_id, attempt=run.attempt,
                          execution_id=execution_id, budget_s=left(), local=True)
            remaining = left()
            if remaining is not None and remaining <= 0:
                engine.time_out()
                break
            report = ran.report
            if cache is not None and key and report.outcome == Outcome.VALUES:
                assert report.outputs is not None
                cache.save(key, spec, report.outputs, execution=execution_id, node=node_id)
            elif key and report.outcome == Outcome.SUBGRAPH:
                cache_keys[node_id] = key
            if ran.exception is not None:
                exceptions[node_id] = ran.exception
            release(engine.apply(report))
        if cache is not None:
            _save_finished_dynamics(engine, cache, cache_keys, execution_id)
    return exceptions


def jittered(delay_s: float) -> float:
    """A backoff delay with jitter: uniformly between half and all of it, so that nodes
    failed by one blip do not all come back at the same instant."""
    return delay_s * random.uniform(0.5, 1.0)


def _save_finished_dynamics(engine: Engine, cache: CacheIndex, cache_keys: dict[str, str],
                            execution_id: str) -> None:
    """A cached dynamic's entry is made when its whole sub-graph has succeeded."""
    for node_id in engine.drain_changes():
        key = cache_keys.get(node_id)
        run = engine.nodes[node_id]
        if key and run.state == NodeState.SUCCEEDED and run.spec.kind == DYNAMIC:
            assert run.outputs is not None
            cache.save(key, run.spec, run.outputs, execution=execution_id, node=node_id)
            del cache_keys[node_id]


registry.set_local_runner(run_local)
