"""Gates in-process, as flytekit runs them locally (`flytekit.core.gate.Gate.local_execute`):

- a sleep does not sleep: it says `[Sleep Gate] Simulating Sleep for 0:00:10` and goes on;
- `wait_for_input` asks for its value on the terminal (`click.prompt`), read as the
  command line reads a value of its type (a wrong one is asked again);
- `approve` shows the value and asks `Approve ...? [Y/n]` (`click.confirm`, yes by
  default); a no fails the gate with `FlyteDisapprovalException`, the exception a caller
  gets.

A gate's timeout is not enforced in-process (flytekit's is not either): the terminal waits
for its answer. Standard input that ends before the answer fails the gate.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import click

from sdk.model.bindings import Binding
from sdk.model.gates import FlyteDisapprovalException, gate_of, rejection, signalled
from sdk.model.report import Report, user_failure
from sdk.model.runs import NodeRun
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc, type_name
from sdk.values.handlers import parse_text
from sdk.values.literals import materialize, value_binding


class _Typed(click.ParamType):
    """A value of a graft type, read from the terminal as the command line reads it."""

    def __init__(self, desc: TypeDesc):
        self.desc = desc
        self.name = type_name(desc)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return parse_text(value, self.desc)
        except (ValueError, TypeError) as exc:
            self.fail(f"{value!r} does not read as {self.name}: {exc}", param, ctx)


def answer(run: NodeRun, inputs: dict[str, Binding], store: Store
           ) -> tuple[Report, BaseException | None]:
    """The report of a released gate answered here, and the exception a rejection raises
    (for the caller, as flytekit raises it)."""
    gate = gate_of(run.spec)
    tag = click.style
    try:
        if gate.kind == "sleep":
            shown = datetime.timedelta(seconds=gate.duration_s or 0.0)
            click.echo(f"{tag('[Sleep Gate]', fg='yellow')} "
                       f"{tag(f'Simulating Sleep for {shown}', fg='cyan')}")
            return Report.values(run.id, run.attempt, {}), None
        if gate.kind == "signal":
            assert gate.type is not None
            message = tag("[Input Gate] ", fg="yellow") + tag(
                f"Waiting for input @{gate.name} of type {type_name(gate.type)}", fg="cyan")
            value = click.prompt(message, type=_Typed(gate.type))
            binding = value_binding(value, gate.type, store, f"the value of gate {gate.name!r}")
            return signalled(run, binding, materialize(binding, store), inputs), None
        shown_value = _shown(inputs, store)
        message = tag("[Approval Gate] ", fg="yellow") + tag(
            f"@{gate.name} Approve {tag(shown_value, fg='green')}?", fg="cyan")
        approved = click.confirm(message, default=True)
    except click.exceptions.Abort:
        return Report.failed(run.id, run.attempt, user_failure(
            "GateNotAnswered", f"gate {gate.name!r} (node {run.id!r}): standard input ended "
            f"before it was answered")), None
    report = signalled(run, {"val": {"v": approved}}, approved, inputs)
    return report, None if approved else FlyteDisapprovalException(rejection(gate))


def _shown(inputs: dict[str, Binding], store: Store) -> str:
    """The value an approval passes on, as flytekit shows it: its literal's JSON (a string
    as it is)."""
    literal = materialize(next(iter(inputs.values())), store)
    return literal if isinstance(literal, str) else json.dumps(literal)
