"""`graft ui`: serve the live graph page (`sdk.ui`)."""

from __future__ import annotations

import click


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, envvar="GRAFT_UI_HOST",
              show_envvar=True, help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              envvar="GRAFT_UI_PORT", show_envvar=True, help="Port to listen on.")
def ui(host: str, port: int) -> None:
    """Serve a web page of executions: each one's graph, coloured by node state and updated
    live, with every node's inputs, outputs, error and logs. It reads the status board and the
    store, as `graft status` does."""
    from sdk.model.errors import BrokerUnavailable
    from sdk.remote.client import Client
    from sdk.ui.server import serve
    from sdk.wire.connections import check_redis, redact

    client = Client()
    try:
        check_redis(client.settings.broker_url)
    except BrokerUnavailable as exc:  # served anyway: the page says so until Redis is back
        click.echo(f"warning: {exc}", err=True)
    click.echo(f"graft ui: executions on {redact(client.settings.broker_url)}", err=True)
    serve(host, port, client, print_=lambda line: click.echo(line, err=True))

