"""`graft signal`, `approve` and `signals`: answering the gates of an execution on a cluster
(`wait_for_input`, `approve`) and listing them, through `Execution.set_signal` and friends
(`sdk.remote.signals`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from sdk.cli_client import cluster_client
from sdk.cli_format import echo_json, timestamp
from sdk.model.errors import ConfigError, GraftError

if TYPE_CHECKING:
    from sdk.remote.signals import GateRecord

WAIT_S = 10.0  # how long a command waits for the scheduler to say it applied the signal


def gate_line(execution_id: str, gate: GateRecord) -> str:
    """One line saying what a gate waits for and how to answer it."""
    if gate.kind == "sleep":
        return f"gate {gate.node}: sleeps until {timestamp(gate.due_at)}"
    answer = (f"graft approve {execution_id} {gate.name} [--reject]" if gate.kind == "approve"
              else f"graft signal {execution_id} {gate.name} VALUE")
    return (f"gate {gate.node}: waits for signal {gate.name!r} ({gate.type_name}) until "
            f"{timestamp(gate.due_at)}: {answer}")


def _sent(ok: bool, execution_id: str, name: str, what: str, as_json: bool) -> None:
    if as_json:
        echo_json({"id": execution_id, "gate": name, "action": what.lower(), "applied": ok})
    elif ok:
        click.echo(f"{what}: gate {name!r} of execution {execution_id}")
    else:
        click.echo(f"sent {what.lower()} for gate {name!r} of execution {execution_id}; no "
                   f"scheduler applied it within {WAIT_S:g} s (it will when one reads it)")


@click.command("signal")
@click.argument("execution_id")
@click.argument("name")
@click.argument("value")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def signal(execution_id: str, name: str, value: str, as_json: bool) -> None:
    """Give the gates waiting for signal NAME (a wait_for_input or approve gate's name, or a
    node id) the value VALUE, read as the gate's type: a number, true/false, a string, JSON
    for lists, dicts and dataclasses."""
    from sdk.remote.signals import parse_value

    execution = cluster_client().get(execution_id)
    execution_id = execution.id  # a prefix given: the whole id
    try:
        parsed = parse_value(execution, name, value)
    except ValueError as exc:
        raise ConfigError(f"signal {name!r}: {value!r} does not fit the gate's type: "
                          f"{exc}") from None
    _sent(execution.set_signal(name, parsed, WAIT_S), execution_id, name, "Signalled", as_json)


@click.command("approve")
@click.argument("execution_id")
@click.argument("name")
@click.option("--reject", is_flag=True, help="Reject instead: the gate fails with "
              "FlyteDisapprovalException.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def approve(execution_id: str, name: str, reject: bool, as_json: bool) -> None:
    """Approve the approval gate NAME (approve(value, NAME, timeout) in the workflow), which
    then passes its value on; with --reject, reject it."""
    execution = cluster_client().get(execution_id)
    execution_id = execution.id  # a prefix given: the whole id
    gates = {g.node: g for g in execution.signals()}
    kinds = {g.kind for g in gates.values() if name in (g.name, g.node) and g.waiting}
    if kinds and kinds != {"approve"}:
        raise GraftError(f"gate {name!r} of execution {execution_id} is not an approval; "
                         f"give it a value with `graft signal {execution_id} {name} VALUE`")
    ok = execution.reject(name, WAIT_S) if reject else execution.approve(name, WAIT_S)
    _sent(ok, execution_id, name, "Rejected" if reject else "Approved", as_json)


@click.command("signals")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def signals(execution_id: str, as_json: bool) -> None:
    """List an execution's gates, those waiting first: what each waits for, until when, and
    how to answer it."""
    execution = cluster_client().get(execution_id)
    execution_id = execution.id  # a prefix given: the whole id
    gates = execution.signals()
    if as_json:
        echo_json([_json(g) for g in gates])
        return
    if not gates:
        click.echo(f"execution {execution_id} has no gates")
        return
    width = min(40, max(len(g.node) for g in gates) + 2)
    click.echo(f"{'NODE':<{width}}{'SIGNAL':<24}{'KIND':<9}{'TYPE':<14}{'STATE':<11}UNTIL")
    for g in gates:
        name = "-" if g.kind == "sleep" else g.name
        click.echo(f"{g.node[:width - 2]:<{width}}{name[:22]:<24}{g.kind:<9}"
                   f"{(g.type_name or '-')[:12]:<14}{g.state:<11}"
                   f"{timestamp(g.due_at) if g.waiting else '-'}")


def _json(gate: GateRecord) -> dict[str, Any]:
    return {**gate.__dict__, "due_at": gate.due_at}


COMMANDS = (signal, approve, signals)
