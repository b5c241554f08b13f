"""Gate nodes: what a gate's signal, its time or its timeout makes of it, as both of its
drivers (the scheduler and the in-process runner) decide it.

A gate (`GateSpec`) runs on no worker. The engine releases it WAITING and its driver holds
it: a sleep until its duration has passed since it was released, a signal or approval gate
until a signal names it, or its node's timeout passes. The driver then hands the engine the
report made here, as for any other node (so a scheduler rebuilding an execution replays it):

- a sleep that is over, or a signal, succeeds the gate (a signal gate's output `o0` is the
  signal's value; an approved gate passes its input on);
- a rejected approval fails it, USER, with flytekit's `FlyteDisapprovalException`;
- no signal within the timeout fails it, USER, with a `GateTimeout`.

Gates are never retried. A signal names gates by their name (several gates of one name,
in sub-workflows say, are answered together, as one signal of that name answers them on
Flyte) or by node id (that one only).
"""

from __future__ import annotations

from typing import Any

from sdk.model.bindings import Binding
from sdk.model.errors import FailureKind, GraftError
from sdk.model.report import Report, user_failure
from sdk.model.runs import NodeRun
from sdk.model.spec import GateSpec, NodeSpec
from sdk.model.typesys import TypeDesc, type_name

# flytekit's default when a gate is given no timeout (`flytekit.core.gate.DEFAULT_TIMEOUT`).
DEFAULT_TIMEOUT_S = 3600.0
BOOL: TypeDesc = {"t": "bool"}


class GateTimeout(GraftError):
    """A gate received no signal within its timeout (its node fails; it is not retried)."""

    kind = FailureKind.USER


class FlyteDisapprovalException(GraftError, AssertionError):
    """An approval gate was rejected (flytekit's name and bases: an `AssertionError`)."""

    kind = FailureKind.USER


class SignalRefused(GraftError):
    """A signal no gate can take: none of that name waits (not reached yet, answered or
    ended already), or its value does not fit the gate's type. Nothing changed."""


def gate_of(spec: NodeSpec) -> GateSpec:
    """The gate of a gate node's spec."""
    if spec.gate is None:
        raise GraftError(f"node {spec.id!r} is a {spec.kind}, not a gate")
    return spec.gate


def signal_type(gate: GateSpec) -> TypeDesc | None:
    """The type of the signal a gate takes (None: a sleep takes none)."""
    if gate.kind == "approve":
        return BOOL
    return gate.type if gate.kind == "signal" else None


def describe(spec: NodeSpec) -> dict[str, Any]:
    """What the status board shows of a gate: its kind, its name, the type of its signal
    (and its readable name), its timeout or duration in seconds."""
    gate = gate_of(spec)
    out: dict[str, Any] = {"kind": gate.kind, "name": gate.name}
    if gate.kind == "sleep":
        out["duration_s"] = gate.duration_s
        return out
    desc = signal_type(gate)
    out["type"] = desc
    out["type_name"] = type_name(desc) if desc is not None else ""
    out["timeout_s"] = spec.timeout_s
    return out


def deadline(spec: NodeSpec, started_at: float) -> float | None:
    """When a gate released at `started_at` is due: a sleep's end, or a signal gate's
    timeout (None: it waits for its signal without end)."""
    gate = gate_of(spec)
    if gate.kind == "sleep":
        return started_at + (gate.duration_s or 0.0)
    return None if spec.timeout_s is None else started_at + spec.timeout_s


def due(run: NodeRun, waited_s: float) -> Report:
    """The report of a gate whose deadline came after it waited `waited_s` seconds: a sleep
    is over; a signal gate timed out."""
    gate = gate_of(run.spec)
    if gate.kind == "sleep":
        return Report.values(run.id, run.attempt, {}, duration_s=waited_s)
    what = "approval" if gate.kind == "approve" else "signal"
    timeout_s = run.spec.timeout_s if run.spec.timeout_s is not None else waited_s
    return Report.failed(run.id, run.attempt, user_failure(
        GateTimeout.__name__, f"gate {gate.name!r} (node {run.id!r}) received no {what} "
        f"within its timeout of {timeout_s:g} s"), duration_s=waited_s)


def answers(run: NodeRun, name: str) -> bool:
    """Whether a signal named `name` is for this waiting gate: its gate's name, or its node
    id (a sleep takes no signal)."""
    gate = run.spec.gate
    return gate is not None and gate.kind != "sleep" and name in (gate.name, run.id)


def rejection(gate: GateSpec) -> str:
    """The message of a rejected approval (flytekit's)."""
    return f"User did not approve the transaction for gate node {gate.name}"


def signalled(run: NodeRun, value: Binding, literal: Any, inputs: dict[str, Binding],
              waited_s: float | None = None) -> Report:
    """The report of a gate given a checked signal: `value` its binding, `literal` its
    literal, `inputs` the gate's resolved inputs (an approval passes them on)."""
    gate = gate_of(run.spec)
    info: dict[str, Any] = {"extra": {"signal": gate.name}}
    if waited_s is not None:
        info["duration_s"] = waited_s
    if gate.kind == "signal":
        return Report.values(run.id, run.attempt, {"o0": value}, **info)
    if literal is True:
        return Report.values(run.id, run.attempt, dict(inputs), **info)
    return Report.failed(run.id, run.attempt, user_failure(
        FlyteDisapprovalException.__name__, rejection(gate)), **info)


def literal_error(lit: Any, desc: TypeDesc | None) -> str | None:
    """None when literal `lit` has the shape of type `desc`, else why not: what a scheduler,
    which may lack the user's classes, can check of a signal's value (a client checks the
    value itself before it sends it). Kinds this does not know are taken as they are."""
    if desc is None:
        return "this gate takes no signal"
    t = desc.get("t")
    if t == "optional":
        return None if lit is None else literal_error(lit, desc.get("of"))
    if t in _SCALARS:
        ok = _SCALARS[t](lit)
        return None if ok else f"expected {type_name(desc)}, got {_shown(lit)}"
    if t in ("list", "tuple"):
        if not isinstance(lit, list):
            return f"expected {type_name(desc)}, got {_shown(lit)}"
        items = desc["items"] if t == "tuple" else [desc.get("of", {"t": "any"})] * len(lit)
        if len(items) != len(lit):
            return f"expected {len(items)} items for {type_name(desc)}, got {len(lit)}"
        return _first((f"item {i}", v, d) for i, (v, d) in enumerate(zip(lit, items)))
    if t == "dict":
        if not isinstance(lit, dict):
            return f"expected {type_name(desc)}, got {_shown(lit)}"
        of = desc.get("of", {"t": "any"})
        return _first((f"key {k!r}", v, of) for k, v in lit.items())
    if t == "dataclass":
        if not isinstance(lit, dict) or set(lit) != set(desc.get("fields", {})):
            return f"expected {type_name(desc)} (an object of its fields), got {_shown(lit)}"
        return _first((f"field {k!r}", lit[k], d) for k, d in desc["fields"].items())
    if t == "enum":
        values = desc.get("values", [])
        return None if lit in values else f"expected one of {values}, got {_shown(lit)}"
    return None


_SCALARS = {
    "none": lambda v: v is None,
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bytes": lambda v: isinstance(v, str),
}


def _first(parts: Any) -> str | None:
    """Why the first of `parts` ((where, literal, type) each) that does not fit does not."""
    for where, lit, desc in parts:
        reason = literal_error(lit, desc)
        if reason:
            return f"{where}: {reason}"
    return None


def _shown(lit: Any) -> str:
    text = repr(lit)
    return f"{type(lit).__name__} {text if len(text) <= 60 else text[:60] + '...'}"
