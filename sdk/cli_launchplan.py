"""`graft launchplan activate FILE LP | deactivate NAME | ls [--json]`: scheduled launch plans
on a cluster, as `flytectl update launchplan --activate` and `flytectl get launchplan`.

`activate` compiles the plan and uploads its code as `graft run --remote` does, sends it to
the scheduler, and waits until the scheduler confirms it; `ls` reads what the scheduler
wrote to the status board. Errors are one line and a non-zero exit (`sdk.cli.main`)."""

from __future__ import annotations

import click

from sdk.cli_client import cluster_client
from sdk.cli_format import echo_json, timestamp
from sdk.model.errors import GraftError


@click.group("launchplan")
def launchplan() -> None:
    """Scheduled launch plans: activate, deactivate, list."""


@launchplan.command("activate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("name")
@click.option("--wait", "wait_s", type=click.FloatRange(0), default=15.0, show_default=True,
              help="Seconds to wait for the scheduler to confirm.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan's record as JSON.")
def activate(file: str, name: str, wait_s: float, as_json: bool) -> None:
    """Register launch plan NAME of FILE with the scheduler and start its schedule."""
    from sdk.runtime.loading import load_entity_from_file

    plan = load_entity_from_file(file, name)
    if getattr(plan, "what", None) != "launch plan":
        raise GraftError(f"{file}: {name!r} is a {getattr(plan, 'kind', 'thing')}, not a launch "
                         f"plan; define one with LaunchPlan.get_or_create(wf, name=..., "
                         f"schedule=CronSchedule(...))")
    record = cluster_client().activate(plan, wait_s)
    if record is None:
        click.echo(f"launch plan {plan.name!r} sent, but no scheduler confirmed it within "
                   f"{wait_s:g} s; it is activated when a scheduler runs", err=True)
        return
    if as_json:
        echo_json(record)
        return
    click.echo(f"launch plan {plan.name!r} active: {record['describe']}; next run "
               f"{timestamp(record.get('next_run_s'))}")


@launchplan.command("deactivate")
@click.argument("name")
@click.option("--wait", "wait_s", type=click.FloatRange(0), default=15.0, show_default=True,
              help="Seconds to wait for the scheduler to confirm.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def deactivate(name: str, wait_s: float, as_json: bool) -> None:
    """Stop launch plan NAME's schedule (executions it started go on)."""
    record = cluster_client().deactivate(name, wait_s)
    if as_json:
        echo_json({"name": name, "confirmed": record is not None, "record": record})
    elif record is None:
        click.echo(f"deactivation of {name!r} sent, but no scheduler confirmed it within "
                   f"{wait_s:g} s", err=True)
    else:
        click.echo(f"launch plan {name!r} deactivated")


@launchplan.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ls(as_json: bool) -> None:
    """List registered launch plans: schedule, active, next and last run."""

    rows = cluster_client().launch_plans()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no launch plans registered")
        return
    click.echo(f"{'NAME':<24}{'SCHEDULE':<22}{'ACTIVE':<8}{'NEXT RUN':<27}{'LAST RUN':<27}"
               f"LAST EXECUTION")
    for r in rows:
        click.echo(f"{str(r['name'])[:22]:<24}{str(r['describe'])[:20]:<22}"
                   f"{'yes' if r['active'] else 'no':<8}{timestamp(r.get('next_run_s')):<27}"
                   f"{timestamp(r.get('last_tick_s')):<27}{r.get('last_execution') or '-'}")


COMMANDS = [launchplan]
