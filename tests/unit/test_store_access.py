"""Reaching a store at a URL: GRAFT_STORE_OPTIONS, the options the worker sends its runner, the
secrets in them, and the one line a failure becomes."""

from __future__ import annotations

import pytest

from sdk.model.config import Settings, parse_store_options
from sdk.model.errors import ConfigError, StoreError
from sdk.values.store import FsspecStore, MemoryStore, open_store
from sdk.values.store_access import describe_failure, runner_options, secret_values

AWS = {"AWS_ACCESS_KEY_ID": "AKIA0", "AWS_SECRET_ACCESS_KEY": "s0", "AWS_SESSION_TOKEN": "t0",
       "AWS_ENDPOINT_URL": "http://global:9000"}


def test_store_options_are_a_json_object(monkeypatch):
    monkeypatch.setenv("GRAFT_STORE_OPTIONS", '{"endpoint_url": "http://minio:9000"}')
    assert Settings.from_env().store_options == {"endpoint_url": "http://minio:9000"}
    assert parse_store_options("") == {}
    with pytest.raises(ConfigError, match="GRAFT_STORE_OPTIONS is not JSON"):
        parse_store_options("{endpoint_url: x}")
    with pytest.raises(ConfigError, match="must be a JSON object"):
        parse_store_options('["x"]')


def test_the_runner_gets_the_aws_variables_as_options_under_the_given_ones():
    assert runner_options("s3://b/p", {}, AWS) == {
        "key": "AKIA0", "secret": "s0", "token": "t0", "endpoint_url": "http://global:9000"}
    given = {"key": "AKIA1", "secret": "s1", "client_kwargs": {"endpoint_url": "http://x"}}
    assert runner_options("s3://b/p", given, AWS) == {**given, "token": "t0"}
    s3_endpoint = {**AWS, "AWS_ENDPOINT_URL_S3": "http://s3-only:9000"}
    assert runner_options("s3://b", {}, s3_endpoint)["endpoint_url"] == "http://s3-only:9000"
    # Not an S3 store: the options as given, nothing of the AWS variables.
    assert runner_options("/var/graft", {}, AWS) == {}
    assert runner_options("gs://b", {"token": "g"}, AWS) == {"token": "g"}


def test_secret_values_are_found_at_any_depth():
    options = {"key": "AKIA", "secret": "s", "client_kwargs": {"aws_session_token": "t",
                                                                "region_name": "eu"},
               "config_kwargs": [{"password": "p"}], "endpoint_url": "http://x"}
    assert sorted(secret_values(options)) == ["p", "s", "t"]


def test_a_failure_is_one_line_naming_the_bucket_and_the_cause():
    url = "s3://data-bucket/graft"
    missing = describe_failure(FileNotFoundError("The specified bucket does not exist"), url)
    assert missing.startswith("store s3://data-bucket/graft: bucket 'data-bucket' does not "
                              "exist (The specified bucket does not exist)")
    refused = describe_failure(PermissionError("Access Denied"), url)
    assert "bucket 'data-bucket' refuses access (Access Denied); check the credentials" in refused

    class NoCredentialsError(Exception):
        pass

    assert "refuses access" in describe_failure(NoCredentialsError("Unable to locate"), url)
    down = describe_failure(ConnectionError("Could not connect\nto the endpoint"), url)
    assert "cannot reach bucket 'data-bucket' (ConnectionError: Could not connect to the " \
           "endpoint); check the endpoint" in down
    assert "\n" not in missing + refused + down


def test_local_and_memory_stores_pass_the_check_and_options_open_once(tmp_path):
    store = open_store(str(tmp_path / "s"))
    assert isinstance(store, FsspecStore)
    store.check()  # a folder: nothing to check
    assert open_store(str(tmp_path / "s"), {}) is store
    assert isinstance(open_store("memory://"), MemoryStore)


def test_a_remote_store_that_fails_raises_store_errors_naming_the_bucket():
    store = FsspecStore("memory://graft-check-bucket/x")

    class Refusing:
        protocol = "s3"

        def __getattr__(self, name):
            def refuse(*args, **kwargs):
                raise PermissionError("Access Denied")
            return refuse

    store.fs = Refusing()
    for call in (lambda: store.put("k", b""), lambda: store.get("k"),
                 lambda: store.exists("k"), lambda: store.keys("p"), store.check):
        with pytest.raises(StoreError, match="bucket 'graft-check-bucket' refuses access"):
            call()
