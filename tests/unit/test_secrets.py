"""Secrets as flytekit has them: `Secret`, `@task(secret_requests=...)` and
`current_context().secrets` (flytekit's SecretsManager), run in-process. Expected values were
read off flytekit 1.16 (its tests/flytekit/unit/core/test_context_manager.py and runs of the
same programs)."""

from __future__ import annotations

import os

import pytest
from workflows import secrets as wf

from sdk import ConfigError, ExecutionFailed, Secret, current_context, task
from sdk.runtime.secrets import SecretNotFound
from sdk.testing import SecretsManager


@pytest.fixture(autouse=True)
def no_secrets(monkeypatch, tmp_path):
    """No secret of the machine's counts: an empty secrets folder, no `_FSEC_` variables,
    default settings."""
    for name in list(os.environ):
        if name.startswith("_FSEC_") or name.startswith("FLYTE_SECRETS_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "etc-secrets"
    folder.mkdir()
    monkeypatch.setenv("FLYTE_SECRETS_DEFAULT_DIR", str(folder))
    return folder


def user_error(call) -> BaseException:
    """What a call raised, seen through ExecutionFailed to the task's own exception."""
    with pytest.raises(Exception) as info:
        call()
    exc = info.value
    while isinstance(exc, ExecutionFailed) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


# ---- Secret and secret_requests ---------------------------------------------------------------

def test_a_secret_is_flytekits_record_importable_where_flytekit_has_it():
    from sdk.core.task import Secret as from_core
    from sdk.models.security import Secret as from_models

    assert from_core is Secret and from_models is Secret
    s = Secret(group="g", key="k")
    assert (s.group, s.key, s.group_version, s.mount_requirement, s.env_var) == (
        "g", "k", None, Secret.MountType.ANY, None)
    assert s == Secret("g", "k") and s != Secret("g", "k", "v1")
    assert [m.value for m in Secret.MountType] == [0, 1, 2]  # ANY, ENV_VAR, FILE
    assert Secret("g", mount_requirement=Secret.MountType.FILE).key is None


def test_a_secret_without_a_group_or_with_a_bad_variable_name_is_a_value_error():
    with pytest.raises(ValueError, match="Group is a required parameter"):
        Secret(key="k")
    with pytest.raises(ValueError, match="Invalid environment variable name: bad-name"):
        Secret(group="g", env_var="bad-name")
    assert Secret(group="g", env_var="MY_TOKEN").env_var == "MY_TOKEN"


def test_a_task_takes_secret_requests_and_refuses_what_is_not_a_list_of_secrets():
    assert wf.user_info_task.secret_requests == (Secret("user-info", "username"),
                                                 Secret("user-info", "password"))
    with pytest.raises(ConfigError, match="must hold Secret"):
        @task(secret_requests=["user-info"])
        def named() -> None: ...
    with pytest.raises(ConfigError, match="must be a list of Secret"):
        @task(secret_requests=Secret("g", "k"))
        def single() -> None: ...


# ---- where a secret is looked for -------------------------------------------------------------

def test_variable_names_are_upper_cased_and_file_paths_lower_cased(no_secrets):
    sec = SecretsManager()
    assert sec.get_secrets_env_var("group", "test") == "_FSEC_GROUP_TEST"
    assert sec.get_secrets_env_var("group", "test", "v1") == "_FSEC_GROUP_V1_TEST"
    assert sec.get_secrets_env_var("group", group_version="v1") == "_FSEC_GROUP_V1"
    assert sec.get_secrets_env_var("my-group", "my.key") == "_FSEC_MY-GROUP_MY.KEY"
    assert sec.get_secrets_env_var(key="ABC") == "_FSEC_ABC"
    assert sec.get_secrets_file("Group", "Test") == str(no_secrets / "group" / "test")
    assert sec.get_secrets_file("group", "test", "v1") == str(no_secrets / "group" / "v1" / "test")
    assert sec.get_secrets_file(key="ABC") == str(no_secrets / "abc")
    with pytest.raises(ValueError):
        sec.get_secrets_file()


def test_a_variable_comes_first_then_the_file_stripped_either_way(no_secrets, monkeypatch):
    sec = SecretsManager()
    (no_secrets / "group").mkdir()
    (no_secrets / "group" / "test").write_text("from-file\n")
    assert sec.get("group", "test") == "from-file"
    assert sec.group.test == "from-file"  # attribute style, as flytekit's
    assert sec.get("group", "test", encode_mode="rb") == b"from-file"
    monkeypatch.setenv("_FSEC_GROUP_TEST", "  from-env ")
    assert sec.get("group", "test") == "from-env"
    assert sec.get(group="group", key="test") == "from-env"
    monkeypatch.setenv("_FSEC_MY-GROUP_V1_ABC", "versioned")
    assert sec.get(key="ABC", group="my-group", group_version="v1") == "versioned"


def test_the_prefix_the_folder_and_the_file_prefix_are_settings(no_secrets, monkeypatch):
    monkeypatch.setenv("FLYTE_SECRETS_ENV_PREFIX", "MYCO_")
    monkeypatch.setenv("FLYTE_SECRETS_FILE_PREFIX", "s-")
    monkeypatch.setenv("_FSEC_G_K", "ignored: not the prefix now")
    monkeypatch.setenv("MYCO_G_K", "prefixed")
    sec = SecretsManager()
    assert sec.get_secrets_env_var("g", "k") == "MYCO_G_K"
    assert sec.get("g", "k") == "prefixed"
    (no_secrets / "g").mkdir()
    (no_secrets / "g" / "s-other").write_text("file")
    assert sec.get_secrets_file("g", "other") == str(no_secrets / "g" / "s-other")
    assert sec.get("g", "other") == "file"
    monkeypatch.setenv("FLYTE_SECRETS_ENV_PREFIX", "")  # empty: the default
    assert SecretsManager().get_secrets_env_var("g", "k") == "_FSEC_G_K"


def test_a_missing_secret_is_a_value_error_naming_group_and_key_at_get():
    sec = SecretsManager()
    with pytest.raises(ValueError) as info:
        sec.get("nog", "nok")
    assert isinstance(info.value, SecretNotFound)
    message = str(info.value)
    assert "group='nog'" in message and "key='nok'" in message
    assert "_FSEC_NOG_NOK" in message and os.path.join("nog", "nok") in message


# ---- in tasks -------------------------------------------------------------------------------

def test_a_task_reads_its_secret_through_current_context(monkeypatch):
    monkeypatch.setenv("_FSEC_USER-INFO_USER_SECRET", "s3cr3t")
    assert wf.secret_wf() == wf.digest("s3cr3t")
    assert isinstance(current_context().secrets, SecretsManager)  # outside a task too
    assert current_context().secrets.get("user-info", "user_secret") == "s3cr3t"


def test_a_task_fails_only_when_it_asks_for_a_missing_secret():
    @task(secret_requests=[Secret("absent", "key")])
    def never_asks() -> int:
        return 1

    assert never_asks() == 1  # the request alone is no error
    exc = user_error(wf.secret_wf)
    assert isinstance(exc, SecretNotFound) and isinstance(exc, ValueError)
    assert "group='user-info' key='user_secret'" in str(exc)


def test_a_secret_not_in_secret_requests_is_read_as_flytekit_does_locally(monkeypatch):
    monkeypatch.setenv("_FSEC_OTHER_KEY", "unrequested")

    @task
    def no_requests() -> str:
        return current_context().secrets.get("other", "key")

    assert no_requests() == "unrequested"


def test_an_unprefixed_variable_counts_in_a_task_run_in_process_only(monkeypatch):
    monkeypatch.setenv("PLAIN_TOKEN", "unprefixed")

    @task
    def plain() -> str:
        return current_context().secrets.get("plain", "token")

    assert plain() == "unprefixed"
    with pytest.raises(SecretNotFound):  # outside a task, as flytekit's
        SecretsManager().get("plain", "token")


def test_a_file_secret_is_read_in_a_task_as_bytes(no_secrets, monkeypatch):
    (no_secrets / "certs").mkdir()
    (no_secrets / "certs" / "ca").write_bytes(b"-----BEGIN-----\n")
    monkeypatch.setenv("_FSEC_USER-INFO_USER_SECRET", "env")
    found = wf.lookups()
    assert found["user-info/user_secret"] == wf.digest("env")
    assert found["certs/ca"] == wf.digest(b"-----BEGIN-----")
    assert found["plain/token"].startswith("SecretNotFound: secret group='plain' key='token'")


def test_flytesnacks_use_secrets_gives_what_flytekit_gives(monkeypatch):
    # The example's __main__ block, and flytekit's recorded result.
    monkeypatch.delenv("FLYTE_SECRETS_DEFAULT_DIR")
    sec = SecretsManager()
    monkeypatch.setenv(sec.get_secrets_env_var(wf.SECRET_GROUP, wf.SECRET_NAME), "value")
    monkeypatch.setenv(sec.get_secrets_env_var(wf.SECRET_GROUP, wf.USERNAME_SECRET),
                       "username_value")
    monkeypatch.setenv(sec.get_secrets_env_var(wf.SECRET_GROUP, wf.PASSWORD_SECRET),
                       "password_value")
    x, y, z, f, s = wf.my_secret_workflow()
    assert (x, y, z, f, s) == ("value", "username_value", "password_value",
                               "/etc/secrets/user-info/user_secret", "value")
    assert f == sec.get_secrets_file(wf.SECRET_GROUP, wf.SECRET_NAME)
