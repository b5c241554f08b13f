"""`graft register FILE [--version V] | --list [--json]`: record a file's tasks, workflows and
launch plans by name and version in the cluster's store, for reference entities to use
(`sdk.remote.register`), as `pyflyte register`; `--list` shows what is registered.

It needs only the store (GRAFT_STORE) and, on a cluster that has one, GRAFT_SECRET: entries
are signed with a key derived from it. Errors are one line and a non-zero exit
(`sdk.cli.main`)."""

from __future__ import annotations

from typing import Any

import click

from sdk.cli_format import echo_json, timestamp
from sdk.model.errors import ConfigError


def _registry() -> Any:
    from sdk.remote.registry import Registry

    return Registry.open()


def _interface(registry: Any, entry: Any) -> str:
    """`(x: int, y: int = ...) -> int` of a registered entry ("?" when its spec is gone)."""
    from sdk.model.spec import GraphSpec
    from sdk.model.typesys import type_name
    from sdk.values.store import get_verified

    try:
        graph = GraphSpec.loads(get_verified(registry.store, entry.spec))
    except Exception:
        return "?"
    args = ", ".join(f"{k}: {type_name(d)}" + (" = ..." if k in entry.defaults else "")
                     for k, d in graph.inputs.items())
    outs = graph.output_types()
    ret = (type_name(next(iter(outs.values()))) if len(outs) == 1 else
           f"({', '.join(f'{k}: {type_name(d)}' for k, d in outs.items())})" if outs
           else "None")
    return f"({args}) -> {ret}"


def _record(registry: Any, entry: Any, status: str | None = None) -> dict[str, Any]:
    row = {"kind": entry.kind, "name": entry.name, "version": entry.version,
           "interface": _interface(registry, entry), "spec": entry.spec,
           "registered_at": entry.registered_at, "source": entry.source}
    if entry.fixed:
        row["fixed"] = list(entry.fixed)
    if status is not None:
        row["status"] = status
    if entry.refused:
        row["refused"] = entry.refused
    return row


def _table(rows: list[dict[str, Any]], last: str) -> None:
    click.echo(f"{'KIND':<13}{'NAME':<34}{'VERSION':<18}{'INTERFACE':<34}{last.upper()}")
    for r in rows:
        tail = (r.get(last) if last != "registered" else timestamp(r["registered_at"])) or ""
        if r.get("refused"):
            tail = f"{tail}  refused: {r['refused']}"
        click.echo(f"{r['kind']:<13}{str(r['name'])[:32]:<34}{str(r['version'])[:16]:<18}"
                   f"{r['interface'][:32]:<34}{tail}")


@click.command("register")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--version", "version", default=None,
              help="The version to register under (default: computed from the code).")
@click.option("--list", "list_", is_flag=True, help="List what is registered instead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def register(file: str | None, version: str | None, list_: bool, as_json: bool) -> None:
    """Register FILE's tasks, workflows and launch plans by name and version (for
    reference_task, reference_launch_plan and reference_workflow), or --list them."""
    registry = _registry()
    if list_:
        if file is not None or version is not None:
            raise ConfigError("graft register --list takes no FILE or --version")
        rows = [_record(registry, e) for e in registry.entries()]
        if as_json:
            echo_json(rows)
        elif not rows:
            click.echo(f"nothing is registered in the store at {registry.store.url}")
        else:
            _table(rows, "registered")
        return
    if file is None:
        raise ConfigError("graft register needs FILE (or --list to list what is registered)")
    from sdk.remote.register import register_module
    from sdk.runtime.loading import load_module_from_file

    done = register_module(load_module_from_file(file), registry, version)
    rows = [_record(registry, entry, status) for entry, status in done]
    if as_json:
        echo_json(rows)
        return
    used = done[0][0].version
    how = "" if version is not None else " (computed from the code; --version V chooses one)"
    click.echo(f"{file}: {len(rows)} entit{'y' if len(rows) == 1 else 'ies'} under version "
               f"{used}{how}", err=True)
    _table(rows, "status")


COMMANDS = [register]
