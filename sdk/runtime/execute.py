"""Running one node attempt in this process: shared by the local runner and the workers.

`execute` never raises for anything a task, its inputs or the store do: every outcome comes
back as a `Report`, failures classified by `sdk.model.failures`. A task or dynamic body with a
`timeout` is stopped by `TaskTimeout` when it runs past it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sdk.model.bindings import Binding
from sdk.model.entity import DYNAMIC, TASK, Runnable
from sdk.model.errors import (
    GraftError,
    TaskTimeout,
    TypeConversionError,
)
from sdk.model.failures import failure_kind, failure_of
from sdk.model.report import Report
from sdk.model.spec import NodeSpec
from sdk.model.store import Store
from sdk.runtime import mocks
from sdk.runtime.context import attempt_context
from sdk.runtime.deck import AttemptDeck, NoDeck, attempt_deck, deck_enabled
from sdk.runtime.flyte_context import attempt_files
from sdk.values.iterators import drain_outputs
from sdk.values.literals import load, value_binding
from sdk.values.staging import publish


@dataclass(frozen=True)
class Ran:
    """A report, and the exception that failed the attempt (the in-process runner raises
    it)."""

    report: Report
    exception: BaseException | None = None


def load_inputs(spec: NodeSpec, inputs: dict[str, Binding], store: Store) -> dict[str, Any]:
    return {
        name: load(b, spec.inputs_types[name], store,
                   f"input {name!r} of task {spec.task.name!r} (node {spec.id!r})")
        for name, b in inputs.items()
    }


def execute(spec: NodeSpec, entity: Runnable, inputs: dict[str, Binding], store: Store, *,
            node_id: str, attempt: int, bundle: str | None = None,
            execution_id: str = "local", budget_s: float | None = None,
            local: bool = False) -> Ran:
    """Run attempt `attempt` of node `node_id` (`entity` for `spec`) with resolved `inputs`;
    `current_context()` describes the attempt while it runs. `budget_s` (what is left of a
    workflow's timeout) stops the code earlier than its own timeout would. `local`: run by the
    in-process runner rather than on a worker. A task with `enable_deck=True` leaves its
    deck in the store (`sdk.runtime.deck`)."""
    with attempt_context(store, execution_id, node_id, attempt, local=local,
                         enable_deck=deck_enabled(entity)) as params, \
            attempt_files(params, in_process=local), \
            attempt_deck(params, store, entity, local) as deck:
        return _execute(spec, entity, inputs, store, node_id, attempt, bundle, budget_s, deck)


def _execute(spec: NodeSpec, entity: Runnable, inputs: dict[str, Binding], store: Store,
             node_id: str, attempt: int, bundle: str | None, budget_s: float | None,
             deck: AttemptDeck | NoDeck) -> Ran:
    limit = spec.timeout_s
    if budget_s is not None:
        limit = max(0.001, budget_s if limit is None else min(limit, budget_s))

    def failed(exc: BaseException, *, user_code: bool = False, skip: int = 0) -> Ran:
        kind = failure_kind(exc, user_code=user_code)
        return Ran(Report.failed(node_id, attempt, failure_of(exc, kind, skip)), exc)

    try:
        with deck.timed("Translate literal to python value"):
            values = load_inputs(spec, inputs, store)
    except Exception as exc:  # a store failure, or a value that cannot be rebuilt
        return failed(exc)
    if entity.kind == DYNAMIC:
        try:
            with deadline(limit, f"dynamic {spec.task.name!r} (node {node_id!r})"), \
                    deck.timed("Execute user level code"):
                sub = mocks.substituted(entity.expand(values, store, bundle))
        except Exception as exc:
            return failed(exc, user_code=True, skip=2)
        try:
            publish(sub, store)  # what sub-workflows and map tasks in the body staged
        except Exception as exc:  # a store failure
            return failed(exc)
        return Ran(Report.grafted(node_id, attempt, sub))
    if entity.kind != TASK:
        return failed(GraftError(f"{entity.ref} is a {entity.kind}, which does not run on a "
                                 f"worker"))
    try:
        with deadline(limit, f"task {spec.task.name!r} (node {node_id!r})"), \
                deck.timed("Execute user level code"):
            result = drain_outputs(entity.interface.outputs, entity.run(values))
    except Exception as exc:
        return failed(exc, user_code=True, skip=2)
    try:
        with deck.timed("Translate the output to literals"):
            outputs = _encode_outputs(spec, entity, result, store)
    except Exception as exc:  # TypeConversionError, a value JSON cannot hold, a store blip
        return failed(exc)
    deck.succeeded(values, result)
    return Ran(Report.values(node_id, attempt, outputs))


@contextlib.contextmanager
def deadline(seconds: float | None, what: str) -> Iterator[None]:
    """Raise TaskTimeout in the code running inside after `seconds` (SIGALRM: on the main
    thread only, where tasks run in-process and in a worker's runner; a worker's pool process
    also kills a runner that does not stop, see `worker.supervisor`)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TaskTimeout(f"{what} ran past its timeout of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _encode_outputs(spec: NodeSpec, entity: Runnable, result: Any,
                    store: Store) -> dict[str, Binding]:
    iface = entity.interface
    where = f"task {spec.task.name!r} (node {spec.id!r})"
    values = iface.output_values(result, where)
    hashers = getattr(entity, "output_hashers", {})
    outputs = {}
    for name, value in zip(iface.outputs, values):
        binding = value_binding(value, iface.outputs[name], store, f"output {name!r} of {where}")
        if name in hashers:
            binding["val"]["h"] = _hash_of(hashers[name], value, f"output {name!r} of {where}")
        outputs[name] = binding
    return outputs


def _hash_of(hasher: Any, value: Any, where: str) -> str:
    """What a HashMethod gives `value`; TypeConversionError naming the output when it
    raises."""
    try:
        return hasher(value)
    except Exception as exc:
        raise TypeConversionError(f"{where}: its HashMethod raised {type(exc).__name__}: "
                                  f"{exc}") from exc
