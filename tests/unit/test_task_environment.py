"""What a task's process inherits: the worker's environment without the cluster's secret or
the broker's and database's passwords."""

from __future__ import annotations

from worker.environment import task_environment

WORKER = {
    "PATH": "/usr/bin", "HOME": "/home/graft", "GRAFT_STORE": "/var/lib/graft/store",
    "GRAFT_TIERS": "256Mi,1Gi", "GRAFT_SECRET": "0123456789abcdef",
    "GRAFT_BROKER_URL": "redis://:redis%2Fpass@redis:6379/0",
    "GRAFT_DATABASE_URL": "postgresql+psycopg://graft:pg-pass@postgres:5432/graft",
    "REDIS_PASSWORD": "redis/pass", "MY_COPY": "x-0123456789abcdef-y",
    "DSN": "host=pg password=pg-pass", "USER_SETTING": "kept",
}


def test_the_secret_and_the_passwords_are_withheld_wherever_they_appear():
    env = task_environment(WORKER)
    assert env == {"PATH": "/usr/bin", "HOME": "/home/graft",
                   "GRAFT_STORE": "/var/lib/graft/store", "GRAFT_TIERS": "256Mi,1Gi",
                   "USER_SETTING": "kept"}


def test_urls_without_passwords_withhold_only_the_named_variables():
    env = task_environment({"GRAFT_BROKER_URL": "redis://127.0.0.1:6379/0",
                            "GRAFT_DATABASE_URL": "sqlite:////tmp/graft.db",
                            "GRAFT_KEY_PREFIX": "graft", "EMPTY": ""})
    assert env == {"GRAFT_KEY_PREFIX": "graft", "EMPTY": ""}


def test_task_secrets_reach_the_task_whatever_their_values_hold():
    # An operator grants a task the database's password on purpose, as a secret.
    env = task_environment({**WORKER, "_FSEC_DB_PASSWORD": "pg-pass",
                            "_FSEC_TOKENS_API": "tok-0123456789abcdef", "_FSEC_PLAIN": "p"})
    assert {k: v for k, v in env.items() if k.startswith("_FSEC_")} == {
        "_FSEC_DB_PASSWORD": "pg-pass", "_FSEC_TOKENS_API": "tok-0123456789abcdef",
        "_FSEC_PLAIN": "p"}
    assert "MY_COPY" not in env and "DSN" not in env and "GRAFT_SECRET" not in env


def test_the_secrets_prefix_is_the_one_flyte_secrets_env_prefix_names():
    env = task_environment({**WORKER, "FLYTE_SECRETS_ENV_PREFIX": "MYCO_",
                            "MYCO_DB_PASSWORD": "pg-pass", "_FSEC_DB_PASSWORD": "pg-pass"})
    assert env["MYCO_DB_PASSWORD"] == "pg-pass" and env["FLYTE_SECRETS_ENV_PREFIX"] == "MYCO_"
    assert "_FSEC_DB_PASSWORD" not in env  # not a secret under this prefix: it holds a password
    blank = task_environment({**WORKER, "FLYTE_SECRETS_ENV_PREFIX": " "})
    assert blank == task_environment(WORKER) | {"FLYTE_SECRETS_ENV_PREFIX": " "}


def test_the_stores_credentials_are_withheld_wherever_they_appear():
    options = '{"endpoint_url": "http://s3:9000", "key": "AKIA1", "secret": "store-secret"}'
    env = task_environment({
        "AWS_ACCESS_KEY_ID": "AKIA0", "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "AWS_SESSION_TOKEN": "aws-token", "AWS_ENDPOINT_URL": "http://s3:9000",
        "AWS_DEFAULT_REGION": "eu-west-1", "GRAFT_STORE_OPTIONS": options,
        "COPY": "x aws-secret", "OTHER": "store-secret", "TOKEN_COPY": "aws-token",
        "_FSEC_S3_SECRET": "store-secret"})
    assert env == {"AWS_ENDPOINT_URL": "http://s3:9000", "AWS_DEFAULT_REGION": "eu-west-1",
                   "_FSEC_S3_SECRET": "store-secret"}
