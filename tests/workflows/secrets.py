"""Tasks that read secrets, in-process (tests/unit/test_secrets.py) and on a cluster
(tests/integration/test_secrets_cluster.py). They return digests of what they read, never the
values, so a value found in the store got there some other way."""

from __future__ import annotations

import hashlib

from sdk import Resources, Secret, current_context, task, workflow
from sdk.runtime.secrets import SecretNotFound

GROUP, KEY = "user-info", "user_secret"
FILE_GROUP, FILE_KEY = "certs", "ca"
PLAIN_GROUP, PLAIN_KEY = "plain", "token"  # looked up as PLAIN_TOKEN, unprefixed


def digest(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


@task(secret_requests=[Secret(group=GROUP, key=KEY)])
def secret_digest() -> str:
    return digest(current_context().secrets.get(GROUP, KEY))


@workflow
def secret_wf() -> str:
    return secret_digest()


@task(secret_requests=[
    Secret(group=GROUP, key=KEY),
    Secret(group=FILE_GROUP, key=FILE_KEY, mount_requirement=Secret.MountType.FILE)])
def lookups() -> dict[str, str]:
    """What each lookup found where the task ran: a digest, or the error's type and
    message."""
    secrets = current_context().secrets
    found = {}
    for group, key, mode in ((GROUP, KEY, "r"), (FILE_GROUP, FILE_KEY, "rb"),
                             (PLAIN_GROUP, PLAIN_KEY, "r")):
        try:
            found[f"{group}/{key}"] = digest(secrets.get(group, key, encode_mode=mode))
        except SecretNotFound as exc:
            found[f"{group}/{key}"] = f"{type(exc).__name__}: {exc}"
    return found


@workflow
def lookups_wf() -> dict[str, str]:
    # 2Gi: on the cluster this goes to the mem-4Gi queue, which only the worker given the
    # secrets consumes.
    return lookups().with_overrides(requests=Resources(mem="2Gi"))


# flytesnacks' productionizing/use_secrets.py, with `flytekit` renamed `sdk`.
SECRET_GROUP = "user-info"
SECRET_NAME = "user_secret"
USERNAME_SECRET = "username"
PASSWORD_SECRET = "password"


@task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME)])
def secret_task() -> str:
    context = current_context()
    secret_val = context.secrets.get(SECRET_GROUP, SECRET_NAME)
    return secret_val


@task(secret_requests=[Secret(key=USERNAME_SECRET, group=SECRET_GROUP),
                       Secret(key=PASSWORD_SECRET, group=SECRET_GROUP)])
def user_info_task() -> tuple[str, str]:
    context = current_context()
    secret_username = context.secrets.get(SECRET_GROUP, USERNAME_SECRET)
    secret_pwd = context.secrets.get(SECRET_GROUP, PASSWORD_SECRET)
    return secret_username, secret_pwd


@task(secret_requests=[Secret(group=SECRET_GROUP, key=SECRET_NAME,
                              mount_requirement=Secret.MountType.ENV_VAR)])
def secret_file_task() -> tuple[str, str]:
    secret_manager = current_context().secrets
    f = secret_manager.get_secrets_file(SECRET_GROUP, SECRET_NAME)
    secret_val = secret_manager.get(SECRET_GROUP, SECRET_NAME)
    return f, secret_val


@workflow
def my_secret_workflow() -> tuple[str, str, str, str, str]:
    x = secret_task()
    y, z = user_info_task()
    f, s = secret_file_task()
    return x, y, z, f, s
