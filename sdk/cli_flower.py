"""`graft flower`: Flower, Celery's monitor, on graft's Celery app (docs/flower.md).

Flower runs in this process on the app the scheduler and the workers use
(`sdk.wire.celery_app.make_app`), so it reads the same broker with the same settings. Every
other Flower option passes through (`graft flower --max_tasks=50000`), and Flower's own
`FLOWER_*` environment variables apply (`FLOWER_BASIC_AUTH`, `FLOWER_UNAUTHENTICATED_API`).
"""

from __future__ import annotations

import os
from typing import Any

import click

from sdk.model.config import Settings, refuse_placeholder
from sdk.model.errors import ConfigError
from sdk.wire.keys import tier_queue


def list_every_queue(names: list[str]) -> None:
    """Make Flower's Broker page and `/api/queues/length` list `names` as well as the queues
    online workers consume. Flower 2 lists the app's declared queues only while no worker is
    online, so a tier that no worker serves yet would be missing while another tier's worker
    runs."""
    from flower.views import BaseHandler

    active = BaseHandler.get_active_queue_names

    def get_active_queue_names(self: Any) -> list[str]:
        return sorted(set(active(self)) | set(names))

    BaseHandler.get_active_queue_names = get_active_queue_names


def flower_argv(port: int, address: str, basic_auth: str | None,
                extra: tuple[str, ...]) -> list[str]:
    """The `celery flower` arguments for these options (`basic_auth` None: Flower reads
    `FLOWER_BASIC_AUTH` itself)."""
    argv = ["flower", f"--port={port}", f"--address={address}"]
    if basic_auth is not None:
        if ":" not in basic_auth:
            raise ConfigError(f"--basic-auth {basic_auth!r}: expected user:password (several "
                              f"separated by commas)")
        argv.append(f"--basic_auth={basic_auth}")
    return argv + list(extra)


# FLOWER_PORT and FLOWER_ADDRESS are read here, not left to Flower: the options are always
# passed on to it, and its command line wins over its environment.
@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--port", type=int, default=5555, show_default=True, envvar="FLOWER_PORT",
              help="Port to listen on (or FLOWER_PORT).")
@click.option("--address", default="127.0.0.1", show_default=True, envvar="FLOWER_ADDRESS",
              help="Address to listen on, 0.0.0.0 for every interface (or FLOWER_ADDRESS).")
@click.option("--basic-auth", default=None, metavar="USER:PASSWORD",
              help="HTTP basic auth for the pages and the API (several: a,b). Default: "
                   "$FLOWER_BASIC_AUTH. Without auth Flower's API answers 401 unless "
                   "FLOWER_UNAUTHENTICATED_API=1.")
@click.argument("flower_args", nargs=-1, type=click.UNPROCESSED)
def flower(port: int, address: str, basic_auth: str | None,
           flower_args: tuple[str, ...]) -> None:
    """Run Flower on graft's Celery app: nodes under their task names, failures, queues."""
    from sdk.wire.celery_app import make_app
    from sdk.wire.connections import check_redis

    settings = Settings.from_env()
    refuse_placeholder("FLOWER_BASIC_AUTH", basic_auth or os.environ.get("FLOWER_BASIC_AUTH"))
    check_redis(settings.broker_url)
    argv = flower_argv(port, address, basic_auth, flower_args)
    if basic_auth is None and not os.environ.get("FLOWER_BASIC_AUTH") and \
            not any(a.lstrip("-").startswith(("basic_auth", "basic-auth", "auth")) for a in
                    flower_args):
        api = ("open too (FLOWER_UNAUTHENTICATED_API)" if os.environ.get(
            "FLOWER_UNAUTHENTICATED_API") else "answers 401 unless FLOWER_UNAUTHENTICATED_API=1")
        click.echo(f"graft flower: no authentication (--basic-auth or FLOWER_BASIC_AUTH): the "
                   f"pages are open to anyone who reaches the port; the HTTP API {api}",
                   err=True)
    list_every_queue([tier_queue(t) for t in settings.tiers])
    code = make_app(settings).start(argv)
    if code:
        raise SystemExit(code)


COMMANDS = (flower,)
