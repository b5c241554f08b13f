"""How a process reaches a store that is not a local folder: its credentials, its start-up
check, and what its failures mean.

A store at a URL (`s3://bucket/prefix`) is reached with fsspec storage options
(`GRAFT_STORE_OPTIONS`) or, without them, with what the filesystem finds itself (s3fs and
botocore: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL_S3 or
AWS_ENDPOINT_URL, ~/.aws). A worker's runner is started without the credentials in its
environment (`worker.environment`): `runner_options` turns the worker's into storage options,
which reach the runner over its request pipe as the store's URL does.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import fsspec

from sdk.model.errors import StoreError

__all__ = ["CHECK_KEY", "check_access", "describe_failure", "quiet_client_logs", "runner_options",
           "secret_values", "share_with_urls"]

# The object the start-up check writes and reads back, at the store's root (overwritten by
# every check; a few bytes).
CHECK_KEY = ".graft-check"

# The AWS environment variables s3fs (botocore) reads, as s3fs storage options.
_AWS_OPTIONS = (("AWS_ACCESS_KEY_ID", "key"), ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_SESSION_TOKEN", "token"))
_AWS_ENDPOINTS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
_SECRET_WORDS = ("secret", "token", "password", "credential")


def _protocol(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def bucket_of(url: str) -> str:
    """The bucket (or top folder) an fsspec URL names: `s3://bucket/prefix` -> "bucket"."""
    return url.split("://", 1)[-1].lstrip("/").split("/", 1)[0]


def runner_options(url: str, options: Mapping[str, Any],
                   environ: Mapping[str, str]) -> dict[str, Any]:
    """The storage options that reach the store at `url` from a process that lacks
    `environ`'s credentials: `options`, plus for an S3 store the AWS credentials and endpoint
    `environ` holds that `options` does not set."""
    resolved = dict(options)
    if _protocol(url) not in ("s3", "s3a"):
        return resolved
    for variable, option in _AWS_OPTIONS:
        if environ.get(variable) and option not in resolved:
            resolved[option] = environ[variable]
    endpoint = next((environ[v] for v in _AWS_ENDPOINTS if environ.get(v)), None)
    client_kwargs = resolved.get("client_kwargs") or {}
    if endpoint and "endpoint_url" not in resolved and "endpoint_url" not in client_kwargs:
        resolved["endpoint_url"] = endpoint
    return resolved


def secret_values(options: Any) -> list[str]:
    """The string values in storage `options` (nested included) under a name that says
    secret, token, password or credential."""
    found: list[str] = []
    if isinstance(options, Mapping):
        for name, value in options.items():
            if isinstance(value, str) and value and any(
                    w in str(name).lower() for w in _SECRET_WORDS):
                found.append(value)
            else:
                found.extend(secret_values(value))
    elif isinstance(options, list):
        for value in options:
            found.extend(secret_values(value))
    return found


def share_with_urls(protocols: Iterable[str], options: Mapping[str, Any]) -> None:
    """Make the store's storage options this process's defaults for URLs of the store's
    protocols (`fsspec.config.conf`), under options configured there already: a `File` or a
    table given as `s3://...` is read with the store's endpoint and credentials, as flytekit
    reads them with its data config's."""
    for protocol in protocols:
        defaults = fsspec.config.conf.setdefault(protocol, {})
        for name, value in options.items():
            defaults.setdefault(name, value)


def quiet_client_logs() -> None:
    """Keep the S3 client's INFO records ("Found credentials in environment variables", at
    every client it makes) out of a service's log: its warnings and errors still show."""
    for name in ("botocore", "aiobotocore", "s3fs"):
        logging.getLogger(name).setLevel(logging.WARNING)


def describe_failure(exc: BaseException, url: str) -> str:
    """What `exc`, raised by the filesystem of the store at `url`, means, in one line naming
    the bucket and what to check."""
    bucket = bucket_of(url)
    detail = " ".join(str(exc).split()) or type(exc).__name__
    name = type(exc).__name__
    if isinstance(exc, FileNotFoundError) or "NoSuchBucket" in detail:
        return (f"store {url}: bucket {bucket!r} does not exist ({detail}); create it, or "
                f"point GRAFT_STORE at one that does")
    if isinstance(exc, PermissionError) or name in ("NoCredentialsError",
                                                     "PartialCredentialsError"):
        return (f"store {url}: bucket {bucket!r} refuses access ({detail}); check the "
                f"credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or key and "
                f"secret in GRAFT_STORE_OPTIONS)")
    return (f"store {url}: cannot reach bucket {bucket!r} ({name}: {detail}); check the "
            f"endpoint (AWS_ENDPOINT_URL, or endpoint_url in GRAFT_STORE_OPTIONS)")


def check_access(fs: Any, root: str, url: str) -> None:
    """StoreError in one line (`describe_failure`) unless `fs` can write an object under
    `root` and read it back."""
    path = f"{root.rstrip('/')}/{CHECK_KEY}"
    probe = b"graft store check\n"
    try:
        with contextlib.suppress(AttributeError):
            fs.invalidate_cache()
        fs.pipe_file(path, probe)
        if fs.cat_file(path) != probe:
            raise StoreError(f"store {url}: an object written to bucket {bucket_of(url)!r} "
                             f"read back different; is the endpoint a real object store?")
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(describe_failure(exc, url)) from None
