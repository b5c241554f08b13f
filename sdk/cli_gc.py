"""`graft gc`: retention. Executions that ended before a cutoff leave the database, and store
objects nothing kept names are deleted (scheduler/retention, docs/operations.md)."""

from __future__ import annotations

import contextlib
import socket
import time

import click

from sdk.cli_format import echo_json
from sdk.model.config import Settings, parse_duration
from sdk.model.errors import ConfigError


def _duration(what: str) -> click.ParamType:
    class Duration(click.ParamType):
        name = "duration"

        def convert(self, value: object, param: object, ctx: object) -> float:
            if isinstance(value, float):
                return value
            try:
                return parse_duration(str(value), what)
            except ConfigError as exc:
                self.fail(str(exc))

    return Duration()


@click.command()
@click.option("--older-than", "older_than_s", type=_duration("--older-than"), default="30d",
              show_default=True, help="Prune executions that ended longer ago than this "
              "(30d, 12h, 90m, 3600).")
@click.option("--grace", "grace_s", type=_duration("--grace"), default="1h", show_default=True,
              help="Keep store objects written (or used again) more recently than this, even "
              "when nothing names them yet: what running executions and clients just wrote.")
@click.option("--dry-run", is_flag=True, help="List what would go; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def gc(older_than_s: float, grace_s: float, dry_run: bool, as_json: bool) -> None:
    """Delete executions that ended before --older-than, with all their rows, and the store
    objects that no kept execution, cache entry, launch plan or registered entity names.

    Running executions and live cache entries keep everything they name. Prints the rows
    pruned and the objects and bytes freed (with --dry-run, what would be; and the keys)."""
    import redis

    from scheduler.db import open_database
    from scheduler.retention.collect import collect
    from scheduler.retention.daily import GcLock, describe
    from sdk.values.store import open_store
    from sdk.wire.board import Board

    settings = Settings.from_env()
    if settings.database_url == "memory://":
        raise click.ClickException("gc needs the scheduler's SQL database "
                                   "(GRAFT_DATABASE_URL); memory:// keeps nothing to prune")
    engine = open_database(settings.database_url)
    store = open_store(settings.store_url)
    board: Board | None = Board(settings)
    lock = GcLock(board.redis, settings.key_prefix)
    with contextlib.ExitStack() as stack:
        stack.callback(engine.dispose)
        try:
            took = stack.enter_context(lock.held(f"graft gc on {socket.gethostname()}"))
        except (redis.RedisError, OSError) as exc:
            click.echo(f"warning: Redis does not answer ({exc}): gc runs without its lock, "
                       f"and leaves the board records of what it prunes to expire", err=True)
            board, took = None, True
        if not took:
            raise click.ClickException(f"a gc is running already ({lock.holder()}); try "
                                       f"again once it ended")
        report = collect(engine, store, older_than_s=older_than_s, grace_s=grace_s,
                         dry_run=dry_run, board=board)
        if board is not None and not dry_run:
            lock.ended(time.time())
    if as_json:
        echo_json(report.as_json(keys=dry_run))
        return
    if dry_run:
        for key in report.freed:
            click.echo(f"would delete {key}")
    click.echo(describe(report))


COMMANDS = [gc]
