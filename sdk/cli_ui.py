"""`graft ui`: serve the live graph page (`sdk.ui`)."""

from __future__ import annotations

import os

import click


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="GRAFT_UI_HOST",
              show_envvar=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              envvar="GRAFT_UI_PORT", show_envvar=True, help="Port to listen on.")
@click.option("--insecure", is_flag=True, envvar="GRAFT_UI_INSECURE", show_envvar=True,
              help="Listen on an address other machines reach without GRAFT_UI_AUTH: anyone "
                   "who reaches the port sees every value and log and may cancel, relaunch "
                   "and answer gates.")
def ui(host: str, port: int, insecure: bool) -> None:
    """Serve a web page of executions: each one's graph, coloured by node state and updated
    live, with every node's inputs, outputs, error and logs, a timeline, and buttons to
    cancel, relaunch and answer gates. It reads the status board and the store, as
    `graft status` does. GRAFT_UI_AUTH sets its login (docs/ui.md)."""
    from sdk.model.config import refuse_placeholder
    from sdk.model.errors import BrokerUnavailable, ConfigError
    from sdk.remote.client import Client
    from sdk.ui.auth import is_loopback, parse
    from sdk.ui.server import serve
    from sdk.wire.connections import check_redis, redact

    setting = os.environ.get("GRAFT_UI_AUTH")
    refuse_placeholder("GRAFT_UI_AUTH", setting)
    credentials = parse(setting)
    if not credentials and not is_loopback(host):
        if not insecure:
            raise ConfigError(
                f"graft ui would listen on {host} without a login: set GRAFT_UI_AUTH (e.g. "
                f"basic:USER:PASSWORD:operator, docs/ui.md), listen on 127.0.0.1, or pass "
                f"--insecure to open it to anyone who reaches the port")
        click.echo(f"warning: graft ui listens on {host} without a login (--insecure): "
                   f"anyone who reaches it may read everything and act", err=True)
    client = Client()
    try:
        check_redis(client.settings.broker_url)
    except BrokerUnavailable as exc:  # served anyway: the page says so until Redis is back
        click.echo(f"warning: {exc}", err=True)
    login = (f"login: {len(credentials)} credential(s)" if credentials else "no login")
    click.echo(f"graft ui: executions on {redact(client.settings.broker_url)}; {login}",
               err=True)
    serve(host, port, client, print_=lambda line: click.echo(line, err=True),
          credentials=credentials)
