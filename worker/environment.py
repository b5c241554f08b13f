"""The environment a task's process (the runner) starts with: the worker's, less what grants
the cluster's authority.

A task needs neither the secret that signs messages nor the broker's or the database's
password: the runner gets the store's URL and the cache's Redis with each request (over its
pipe) and the key cache entries are signed with, not GRAFT_SECRET. The store's credentials
(GRAFT_STORE_OPTIONS, AWS_SECRET_ACCESS_KEY and its kin) come in each request too, as fsspec
storage options the runner opens the store with (and reads `s3://` inputs with): the task
uses them through graft, as it must to read and write values. Leaving all of these out of
the environment keeps them out of what a task prints, dumps or passes to the processes it
starts.

The secrets the operator gives tasks (`_FSEC_<GROUP>_<KEY>`, or the prefix
FLYTE_SECRETS_ENV_PREFIX names; `sdk.runtime.secrets`) are granted on purpose: they reach the
task whatever their values hold. The withheld names are withheld all the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from sdk.runtime.secrets import env_prefix
from sdk.values.store_access import secret_values

# Variables that carry the cluster's credentials, whatever their values.
WITHHELD = frozenset({
    "GRAFT_SECRET", "GRAFT_BROKER_URL", "GRAFT_DATABASE_URL",
    "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "FLOWER_BASIC_AUTH",
    "REDIS_PASSWORD", "POSTGRES_PASSWORD", "PGPASSWORD",
    # The store's: they reach the runner over its pipe (worker.tasks.STORE_OPTIONS).
    "GRAFT_STORE_OPTIONS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
})


def _password(url: str) -> str:
    """The password in `url` ("" when it has none or does not parse)."""
    try:
        return unquote(urlsplit(url).password or "")
    except ValueError:
        return ""


def _store_secrets(text: str) -> list[str]:
    """The secrets in GRAFT_STORE_OPTIONS's JSON (none when it does not parse)."""
    try:
        return secret_values(json.loads(text)) if text.strip() else []
    except ValueError:
        return []


def task_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the withheld variables, and without any other variable whose value
    holds GRAFT_SECRET, the password of GRAFT_BROKER_URL or GRAFT_DATABASE_URL, or the store's
    secret (AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, a secret of GRAFT_STORE_OPTIONS),
    unless it is a task secret (named with the secrets' prefix)."""
    credentials = [s for s in (environ.get("GRAFT_SECRET", ""),
                               _password(environ.get("GRAFT_BROKER_URL", "")),
                               _password(environ.get("GRAFT_DATABASE_URL", "")),
                               environ.get("AWS_SECRET_ACCESS_KEY", ""),
                               environ.get("AWS_SESSION_TOKEN", ""),
                               *_store_secrets(environ.get("GRAFT_STORE_OPTIONS", "")))
                   if s]
    prefix = env_prefix(environ)
    return {name: value for name, value in environ.items()
            if name not in WITHHELD and (
                name.startswith(prefix) or not any(c in value for c in credentials))}
