"""`Secret`: a secret a task asks for, by name, as flytekit's `flytekit.models.security.Secret`.

    @task(secret_requests=[Secret(group="user-info", key="user_secret")])
    def t() -> str:
        return current_context().secrets.get("user-info", "user_secret")

A request names a secret and never holds its value: the value is read where the task runs
(`sdk.runtime.secrets`), from that process's environment or a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass
class Secret:
    """A secret in group `group` (required), under `key` (optional: a group may be one
    secret), at `group_version` (optional). `mount_requirement` and `env_var` are Flyte's hints
    for how its backend injects the secret; graft's workers read what their environment and
    secrets folder hold, so both are recorded only. ValueError, as flytekit's, on a missing
    group or an `env_var` that is not an upper-case variable name."""

    class MountType(Enum):
        """How Flyte's backend should inject a secret (values as flyteidl's)."""

        ANY = 0
        """An environment variable or a file, as the platform decides."""
        ENV_VAR = 1
        """An environment variable (passwords, tokens)."""
        FILE = 2
        """A file (certificates, keys a library reads from a path)."""

    group: str | None = None
    key: str | None = None
    group_version: str | None = None
    mount_requirement: MountType = MountType.ANY
    env_var: str | None = None

    def __post_init__(self) -> None:
        if self.group is None:
            raise ValueError("Group is a required parameter")
        if self.env_var is not None and not _ENV_NAME.match(self.env_var):
            raise ValueError(f"Invalid environment variable name: {self.env_var}")
