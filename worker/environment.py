"""The environment a task's process (the runner) starts with: the worker's, less what grants
the cluster's authority.

A task needs neither the secret that signs messages nor the broker's or the database's
password: the runner gets the store's URL and the cache's Redis with each request (over its
pipe) and the key cache entries are signed with, not GRAFT_SECRET. Leaving them out of the
environment keeps them out of what a task prints, dumps or passes to the processes it starts.

The secrets the operator gives tasks (`_FSEC_<GROUP>_<KEY>`, or the prefix
FLYTE_SECRETS_ENV_PREFIX names; `sdk.runtime.secrets`) are granted on purpose: they reach the
task whatever their values hold. The withheld names are withheld all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from sdk.runtime.secrets import env_prefix

# Variables that carry the cluster's credentials, whatever their values.
WITHHELD = frozenset({
    "GRAFT_SECRET", "GRAFT_BROKER_URL", "GRAFT_DATABASE_URL",
    "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "FLOWER_BASIC_AUTH",
    "REDIS_PASSWORD", "POSTGRES_PASSWORD", "PGPASSWORD",
})


def _password(url: str) -> str:
    """The password in `url` ("" when it has none or does not parse)."""
    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:
        return ""


def task_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the withheld variables, and without any other variable whose value
    holds GRAFT_SECRET or the password of GRAFT_BROKER_URL or GRAFT_DATABASE_URL, unless it
    is a task secret (named with the secrets' prefix)."""
    credentials = [s for s in (environ.get("GRAFT_SECRET", ""),
                               _password(environ.get("GRAFT_BROKER_URL", "")),
                               _password(environ.get("GRAFT_DATABASE_URL", ""))) if s]
    prefix = env_prefix(environ)
    return {name: value for name, value in environ.items()
            if name not in WITHHELD and (
                name.startswith(prefix) or not any(c in value for c in credentials))}
