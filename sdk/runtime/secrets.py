"""Reading secrets where a task runs: `current_context().secrets`, as flytekit's
`SecretsManager`.

    secrets = current_context().secrets
    secrets.get("user-info", "user_secret")        # or get(group=..., key=...)
    secrets.get("certs", "ca", encode_mode="rb")   # bytes, from a file
    secrets.mygroup.mykey                          # get("mygroup", "mykey")
    secrets.get_secrets_env_var("user-info", "user_secret")  # _FSEC_USER-INFO_USER_SECRET
    secrets.get_secrets_file("user-info", "user_secret")  # /etc/secrets/user-info/user_secret

The lookup is flytekit's, in this order:

1. the environment variable `<prefix><GROUP>[_<GROUP_VERSION>][_<KEY>]`, upper-cased, the
   prefix `FLYTE_SECRETS_ENV_PREFIX` (default `_FSEC_`);
2. in a task run in-process (not on a worker, and not outside a task), the same name
   without the prefix;
3. the file `<dir>/<group>[/<group_version>]/<file prefix><key>`, lower-cased, the folder
   `FLYTE_SECRETS_DEFAULT_DIR` (default `/etc/secrets`), the file prefix
   `FLYTE_SECRETS_FILE_PREFIX` (default none).

The value has surrounding whitespace stripped. A secret found nowhere is `SecretNotFound` (a
ValueError, as flytekit's) naming its group and key, raised by `get`, when the task asks.

On a cluster the worker's environment and files are read, in the task's process: a secret
never travels in a message and is never written to the store or the database by graft (what
the task does with it, such as printing it, is the task's). Like flytekit run locally, graft
does not check that a task listed the secret in its `secret_requests`.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from sdk.model.errors import GraftError

ENV_PREFIX_VAR = "FLYTE_SECRETS_ENV_PREFIX"
DEFAULT_DIR_VAR = "FLYTE_SECRETS_DEFAULT_DIR"
FILE_PREFIX_VAR = "FLYTE_SECRETS_FILE_PREFIX"
DEFAULT_ENV_PREFIX = "_FSEC_"
DEFAULT_DIR = os.path.join(os.sep, "etc", "secrets")

# True while a task runs in-process (`wf()` here), where an unprefixed variable also counts.
_local_task: contextvars.ContextVar[bool] = contextvars.ContextVar("graft_local_task",
                                                                  default=False)


class SecretNotFound(GraftError, ValueError):
    """A secret is neither in the environment nor in the secrets folder where the task runs."""


def env_prefix(environ: Mapping[str, str]) -> str:
    """The prefix of secrets' environment variables in `environ` (never empty: an empty or
    blank setting means the default)."""
    return (environ.get(ENV_PREFIX_VAR) or "").strip() or DEFAULT_ENV_PREFIX


@dataclass(frozen=True)
class SecretsConfig:
    """Where secrets are looked for, as flytekit's `SecretsConfig`; `auto()` reads the
    `FLYTE_SECRETS_*` variables (an empty one keeps the default)."""

    env_prefix: str = DEFAULT_ENV_PREFIX
    default_dir: str = DEFAULT_DIR
    file_prefix: str = ""

    @classmethod
    def auto(cls) -> SecretsConfig:
        env = os.environ
        return cls(env_prefix=env_prefix(env),
                   default_dir=env.get(DEFAULT_DIR_VAR) or DEFAULT_DIR,
                   file_prefix=env.get(FILE_PREFIX_VAR) or "")


@contextmanager
def task_running(*, local: bool) -> Iterator[None]:
    """Mark the task that runs inside as run in-process (`local`) or on a worker."""
    token = _local_task.set(local)
    try:
        yield
    finally:
        _local_task.reset(token)


class SecretsManager:
    """Looks secrets up in this process's environment and secrets folder (order in the module
    docstring). The `FLYTE_SECRETS_*` settings are read when it is made; `secrets_cfg` gives
    them instead. `manager.group.key` is `manager.get("group", "key")`."""

    class _GroupSecrets:
        """`manager.<group>`, whose attributes are that group's keys."""

        def __init__(self, group: str, manager: SecretsManager):
            self._group = group
            self._manager = manager

        def __getattr__(self, key: str) -> str | bytes:
            if key.startswith("__"):
                raise AttributeError(key)
            return self._manager.get(self._group, key)

    def __init__(self, secrets_cfg: SecretsConfig | None = None):
        cfg = secrets_cfg if secrets_cfg is not None else SecretsConfig.auto()
        self._base_dir = cfg.default_dir.strip()
        self._file_prefix = cfg.file_prefix.strip()
        self._env_prefix = cfg.env_prefix.strip()

    def __getattr__(self, group: str) -> SecretsManager._GroupSecrets:
        if group.startswith("_"):  # copy, pickle and the like probe for these
            raise AttributeError(group)
        return self._GroupSecrets(group, self)

    def get(self, group: str | None = None, key: str | None = None,
            group_version: str | None = None, encode_mode: str = "r") -> str | bytes:
        """The secret's value, stripped: a str, or bytes with `encode_mode="rb"` (read from a
        file; a variable's value is a str). SecretNotFound names the group, the key, the
        variable(s) and the file looked for."""
        names = [self._env_name(self._env_prefix, group, group_version, key)]
        if _local_task.get():
            names.append(self._env_name("", group, group_version, key))
        for name in names:
            value = os.environ.get(name)
            if value is not None:
                return value.strip()
        path = self.get_secrets_file(group, key, group_version)
        if os.path.isfile(path):
            with open(path, encode_mode) as fh:
                return fh.read().strip()
        worker = os.environ.get("GRAFT_WORKER")
        where = f"on worker {worker}" if worker else "in this process"
        raise SecretNotFound(
            f"secret group={group!r} key={key!r} not found {where}: no environment variable "
            f"{' or '.join(names)} and no file {path} (set one where the task runs, and list "
            f"Secret(group={group!r}, key={key!r}) in the task's secret_requests)")

    def get_secrets_env_var(self, group: str | None = None, key: str | None = None,
                            group_version: str | None = None) -> str:
        """The environment variable that holds the secret."""
        return self._env_name(self._env_prefix, group, group_version, key)

    def get_secrets_file(self, group: str | None = None, key: str | None = None,
                         group_version: str | None = None) -> str:
        """The path of the file that holds the secret. ValueError without a group or key."""
        parts = [p.lower() for p in (group, group_version, key) if p]
        if not parts:
            raise ValueError("a secret is named by a group, a key or both; got neither")
        parts[-1] = f"{self._file_prefix}{parts[-1]}"
        return os.path.join(self._base_dir, *parts)

    @staticmethod
    def _env_name(prefix: str, group: str | None, group_version: str | None,
                  key: str | None) -> str:
        return prefix + "_".join(p.upper() for p in (group, group_version, key) if p)
