"""The cluster client every CLI command that reads or acts on executions uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdk.remote.client import Client


def cluster_client() -> Client:
    """A client of the configured cluster, once Redis answers (BrokerUnavailable, one line,
    when it does not). Imported here, not at the top of the CLI: `graft run` in-process needs
    no Redis client."""
    from sdk.remote.client import Client
    from sdk.wire.connections import check_redis

    client = Client()
    check_redis(client.settings.broker_url)
    return client
