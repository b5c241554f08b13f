"""Signals from the client: what `Execution.signals()`, `set_signal()`, `approve()` and
`reject()` do (FlyteRemote's `list_signals`, `set_signal`, `approve`, `reject`).

The client reads an execution's gates from the status board (each gate node's record says
what it waits for), checks a signal against the gates it names, encodes its value by their
type (a value of the wrong type is a TypeConversionError here, before anything is sent), and
puts a `signal` message on the control stream, signed like every message. The scheduler
checks it again and applies it in its own transaction; it writes what it did to the board
(`signal:<request>`), which the client waits for a little.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sdk.model.gates import SignalRefused
from sdk.model.states import NodeState
from sdk.model.typesys import TypeDesc
from sdk.values.handlers import parse_text
from sdk.values.literals import value_binding
from sdk.wire.results import FINAL

WAITING = NodeState.WAITING.value


@dataclass(frozen=True)
class GateRecord:
    """One gate of an execution, as `Execution.signals()` lists it. `kind` is "signal"
    (`wait_for_input`), "approve" or "sleep"; `type` the type of the signal it takes (bool
    for an approval; None for a sleep); `due_at` when it times out or, a sleep, ends (unix
    seconds, once it waits)."""

    node: str
    name: str
    kind: str
    state: str
    type: TypeDesc | None
    type_name: str
    timeout_s: float | None
    duration_s: float | None
    started_at: float | None

    @property
    def due_at(self) -> float | None:
        span = self.duration_s if self.kind == "sleep" else self.timeout_s
        return None if self.started_at is None or span is None else self.started_at + span

    @property
    def waiting(self) -> bool:
        return self.state == WAITING


def gates(execution: Any) -> list[GateRecord]:
    """The gates of `execution` on the board, waiting ones first, then by node id."""
    found = []
    for nid, record in execution.client.board.nodes(execution.id).items():
        if record.get("kind") != "gate":
            continue
        gate = record.get("gate") or {}
        found.append(GateRecord(
            node=nid, name=str(gate.get("name") or record.get("task") or nid),
            kind=str(gate.get("kind") or ""), state=str(record.get("state") or ""),
            type=gate.get("type"), type_name=str(gate.get("type_name") or ""),
            timeout_s=gate.get("timeout_s"), duration_s=gate.get("duration_s"),
            started_at=record.get("started_at")))
    return sorted(found, key=lambda g: (not g.waiting, g.node))


def waiting_for(execution: Any, name: str) -> list[GateRecord]:
    """The gates of `execution` a signal named `name` (a gate's name or node id) would
    answer now; SignalRefused saying why when there is none."""
    status = execution.status()
    if status in FINAL:
        raise SignalRefused(f"execution {execution.id} has ended ({status}): no gate of it "
                            f"waits for a signal any more")
    known = gates(execution)
    named = [g for g in known if g.kind != "sleep" and name in (g.name, g.node)]
    waiting = [g for g in named if g.waiting]
    if waiting:
        if any(g.type is None for g in waiting):
            raise SignalRefused(f"the status board does not say what gate {name!r} of "
                                f"execution {execution.id} takes; try again in a moment")
        return waiting
    if named:
        shown = ", ".join(f"{g.node} ({g.state})" for g in named[:10])
        raise SignalRefused(f"no gate named {name!r} waits for a signal in execution "
                            f"{execution.id}: {shown}; a gate takes its signal only while it "
                            f"is WAITING")
    others = ", ".join(sorted({g.name for g in known if g.kind != "sleep"})) or "none"
    raise SignalRefused(f"execution {execution.id} has no gate named {name!r} (its gates: "
                        f"{others})")


def signal_type(execution: Any, name: str) -> TypeDesc:
    """The type of the value a signal named `name` takes now (SignalRefused when no gate of
    that name waits)."""
    first = waiting_for(execution, name)[0]
    assert first.type is not None
    return first.type


def parse_value(execution: Any, name: str, text: str) -> Any:
    """Command-line text as the value of a signal named `name`, read as its gate's type;
    ValueError saying what was expected."""
    desc = signal_type(execution, name)
    return parse_text(text, desc)


def send(execution: Any, name: str, value: Any, wait_s: float) -> bool:
    """Signal the gates named `name` with `value`: True once the scheduler applied it,
    False when no scheduler did within `wait_s` seconds (the message waits on the stream and
    applies when one reads it). SignalRefused when none can take it; TypeConversionError
    when the value does not fit their type."""
    found = waiting_for(execution, name)
    desc = found[0].type
    assert desc is not None
    what = "an approval's answer" if found[0].kind == "approve" else f"signal {name!r}"
    binding = value_binding(value, desc, execution.client.store,
                            f"{what} for gate {found[0].node!r} of execution {execution.id}")
    request = uuid.uuid4().hex[:16]
    execution.client.control.publish({"type": "signal", "execution": execution.id,
                                      "name": name, "value": binding, "request": request})
    deadline = time.monotonic() + wait_s
    while True:
        answer = execution.client.board.field(execution.id, f"signal:{request}")
        if isinstance(answer, dict):
            if answer.get("ok"):
                return True
            raise SignalRefused(str(answer.get("message") or "the scheduler refused it"))
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
