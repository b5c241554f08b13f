"""A throwaway S3 server for the tests and benchmarks: moto's standalone server (`moto[server]`),
a real HTTP server process speaking the S3 API, on a free 127.0.0.1 port.

It runs with moto's request authentication on (`INITIAL_NO_AUTH_ACTION_COUNT`): the first
three requests make an IAM user with an access key allowed everything, and every request
after them must be signed with that key, so that wrong credentials are refused as AWS refuses
them. `S3Server().start()` then `make_bucket(name)`; `.endpoint`, `.key`, `.secret`; `.env()`
gives the AWS environment variables that reach it, `.options()` the same as fsspec storage
options (GRAFT_STORE_OPTIONS). Like the servers of tests/servers.py it runs as a child process
in its own session, tracked by pid, stopped by `close()` (and at exit), and SIGKILLed by the
kernel when the thread that started it dies.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sys
import time
from typing import Any

from servers import START_TIMEOUT_S, STOP_TIMEOUT_S, ServerError, _Child, free_port, port_open

REGION = "us-east-1"
_SETUP_REQUESTS = 3  # create_user, put_user_policy, create_access_key: unauthenticated
_ALLOW_ALL = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def why_s3_unavailable() -> str | None:
    """One line saying why an S3 server cannot be started here, or None."""
    missing = [m for m in ("moto", "flask", "boto3", "s3fs") if importlib.util.find_spec(m) is None]
    if missing:
        return (f"{', '.join(missing)} not installed (pip install -e '.[dev]': moto[server] "
                f"and the s3 extra)")
    return None


class S3Server(_Child):
    """moto's S3 server on 127.0.0.1:`port`, authenticating requests with one access key."""

    name = "moto-server"

    def __init__(self) -> None:
        super().__init__("graft-s3-")
        self.key = ""
        self.secret = ""

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise ServerError("the S3 server has not been started: no endpoint yet")
        return f"http://127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        return f"<S3Server {self.endpoint if self.port else '-'} pid={self.pid}>"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> S3Server:
        """Start on a free port, make the access key; return once it answers."""
        reason = why_s3_unavailable()
        if reason:
            raise ServerError(reason)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(_SETUP_REQUESTS)
        self._spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                    cwd=self.dir, env=env)
        self.port = port
        deadline = time.monotonic() + timeout_s
        while not port_open(port):
            if not self.running() or time.monotonic() > deadline:
                raise self._start_failure(port, timeout_s, in_use=False)
            time.sleep(0.05)
        self._make_key()
        return self

    def _client(self, service: str, key: str = "x", secret: str = "x") -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=key, aws_secret_access_key=secret)

    def _make_key(self) -> None:
        iam = self._client("iam")
        iam.create_user(UserName="graft")
        iam.put_user_policy(UserName="graft", PolicyName="all",
                            PolicyDocument=json.dumps(_ALLOW_ALL))
        made = iam.create_access_key(UserName="graft")["AccessKey"]
        self.key, self.secret = made["AccessKeyId"], made["SecretAccessKey"]

    def s3(self) -> Any:
        """A boto3 S3 client with the server's key."""
        return self._client("s3", self.key, self.secret)

    def make_bucket(self, name: str) -> str:
        """Create bucket `name` (no error when it exists); return it."""
        client = self.s3()
        if name not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=name)
        return name

    def env(self) -> dict[str, str]:
        """The AWS environment variables that reach this server with its key."""
        return {"AWS_ACCESS_KEY_ID": self.key, "AWS_SECRET_ACCESS_KEY": self.secret,
                "AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION}

    def options(self) -> dict[str, str]:
        """The fsspec (s3fs) storage options that reach this server with its key."""
        return {"endpoint_url": self.endpoint, "key": self.key, "secret": self.secret}

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`; returns once the port is closed."""
        self._stop(signal.SIGTERM, timeout_s)
