"""Expanding a released map or conditional: the part of them that needs values, which the pure
engine cannot read. The local runner and the scheduler both call `expand` and hand the report
to the engine: how many items a map has, or which case of a conditional holds."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from sdk.model import bindings
from sdk.model.bindings import Binding
from sdk.model.errors import FailureKind, GraftError
from sdk.model.failures import failure_kind, failure_of, is_transient
from sdk.model.report import Failure, Report, data_failure
from sdk.model.spec import NodeSpec
from sdk.model.store import Store
from sdk.values.literals import materialize

EXPANDED = ("map", "branch")  # node kinds expanded by their driver, not run on a worker
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge}


class ConditionError(GraftError):
    """A condition of a conditional cannot be evaluated (e.g. comparing None with a number)."""

    kind = FailureKind.USER


class MapInputError(GraftError):
    """A map's list inputs are not lists, or not of one length."""

    kind = FailureKind.USER


def expand(spec: NodeSpec, inputs: dict[str, Binding], store: Store, node_id: str,
           attempt: int, *, raise_transient: bool = False) -> Report:
    """The report of a released map (its item count) or conditional (the case that holds);
    a failed report when its inputs cannot be read or do not fit. With `raise_transient`, a
    store that failed (another try may not meet it) raises instead, so that the scheduler
    rolls its batch back and tries it again, rather than spend the node's system retries
    within one batch."""
    try:
        if spec.kind == "map":
            return Report.mapped(node_id, attempt, _map_items(spec, inputs, store, node_id))
        return Report.branched(node_id, attempt, _case(spec, inputs, store))
    except (ConditionError, MapInputError) as exc:  # what the user wrote does not fit
        return Report.failed(node_id, attempt, Failure(failure_kind(exc), type(exc).__name__,
                                                       str(exc)))
    except GraftError as exc:
        if raise_transient and is_transient(exc):
            raise
        return Report.failed(node_id, attempt, failure_of(exc))
    except (TypeError, ValueError, KeyError) as exc:
        return Report.failed(node_id, attempt, data_failure(type(exc).__name__, str(exc)))


def _map_items(spec: NodeSpec, inputs: dict[str, Binding], store: Store, node_id: str) -> int:
    """How many items a map has: the common length of its list inputs."""
    assert spec.map is not None
    lengths = {}
    for name in spec.map.mapped:
        value = materialize(inputs[name], store)
        if not isinstance(value, list):
            raise MapInputError(f"map {node_id!r}: input {name!r} is not a list")
        lengths[name] = len(value)
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise MapInputError(f"map {node_id!r}: its list inputs must have as many items each "
                             f"({shown})")
    return next(iter(lengths.values()), 0)


def _case(spec: NodeSpec, inputs: dict[str, Binding], store: Store) -> int:
    """The index of the first case whose condition holds (the last one is the else)."""
    assert spec.branch is not None
    cases = spec.branch.cases
    for i, case in enumerate(cases):
        if case.when is None or _holds(case.when, inputs, store, spec.branch.name):
            return i
    return len(cases) - 1


def _holds(expr: dict[str, Any], inputs: dict[str, Binding], store: Store, name: str) -> bool:
    kind, body = next(iter(expr.items()))
    if kind == "and":
        return all(_holds(sub, inputs, store, name) for sub in body)
    if kind == "or":
        return any(_holds(sub, inputs, store, name) for sub in body)
    op, left, right = body
    a, b = _operand(left, inputs, store), _operand(right, inputs, store)
    try:
        return bool(_COMPARE[op](a, b))
    except TypeError:
        raise ConditionError(f"conditional {name!r}: cannot evaluate {a!r} {op} {b!r} "
                             f"({type(a).__name__} and {type(b).__name__})") from None


def _operand(binding: Binding, inputs: dict[str, Binding], store: Store) -> Any:
    """The literal an operand names: an input of the conditional, or a literal."""

    def leaf(kind: str, body: Any) -> Binding:
        return inputs[body] if kind == "input" else {kind: body}

    return materialize(bindings.transform(binding, leaf), store)
