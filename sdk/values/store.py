"""The value store: bytes under keys, in a folder or any fsspec URL, or in memory.

Blobs are content-addressed (`blobs/<sha256>`), so the same value or file is stored once and
cache keys that hash references hash content. Storing one that is there already refreshes its
write time instead (`keep`): gc (`scheduler/retention`) keeps every object written within its
grace period, and an object a new execution is about to use again counts as written now.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from typing import Any

import fsspec

from sdk.model.config import Settings
from sdk.model.errors import StoreError, StoreIntegrityError, StoreObjectMissing
from sdk.model.store import Store
from sdk.values.store_access import check_access, describe_failure, share_with_urls

__all__ = ["FsspecStore", "MemoryStore", "Store", "check_store", "default_store", "get_verified",
           "keep", "modified_s", "open_store", "put_blob", "set_default_store", "sha256"]

_DIGEST = re.compile(r"[0-9a-f]{64}")
# A store that cannot change an object's write time (S3) writes an object again when it was
# written longer ago than this; gc's grace period must be longer (it is 1 h by default).
REWRITE_AFTER_S = 600.0


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_blob(store: Store, data: bytes, prefix: str = "blobs") -> str:
    """Store `data` under a key derived from its content and return the key."""
    key = f"{prefix}/{sha256(data)}"
    keep(store, key, data)
    return key


def keep(store: Store, key: str, data: bytes) -> None:
    """Store `data` under content-addressed `key`, or, when it is there already, make its
    write time now (as far as the store allows: see `FsspecStore.refresh`)."""
    refresh = getattr(store, "refresh", None)
    there = refresh(key) if refresh is not None else store.exists(key)
    if not there:
        store.put(key, data)


_MTIME_FIELDS = ("mtime", "LastModified", "last_modified", "updated", "created")


def modified_s(info: dict[str, Any]) -> float | None:
    """When an object was last written (unix seconds), from an fsspec `info`; None when the
    filesystem does not say."""
    for name in _MTIME_FIELDS:
        value = info.get(name)
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=datetime.timezone.utc)
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def get_verified(store: Store, key: str) -> bytes:
    """The bytes of a content-addressed object, checked against the hash in its key.

    Raises StoreIntegrityError when the key is not content-addressed or the bytes do not
    match it (tampered or corrupted), StoreObjectMissing when it is gone."""
    digest = key.rpartition("/")[2] if isinstance(key, str) else ""
    if not _DIGEST.fullmatch(digest):
        raise StoreIntegrityError(f"store key {str(key)[:200]!r} is not content-addressed "
                                  f"(expected <prefix>/<sha256>); refusing to read it")
    data = store.get(key)
    if sha256(data) != digest:
        raise StoreIntegrityError(f"store object {key!r} in {store.url} does not match the "
                                  f"hash in its key: it was changed after it was written "
                                  f"(tampered with, or corrupted)")
    return data


class FsspecStore:
    """A store in a local folder (`/data/graft`) or at an fsspec URL (`s3://bucket/graft`).

    `options`: fsspec storage options for its filesystem (`GRAFT_STORE_OPTIONS`: an S3
    server's `endpoint_url`, `key`, `secret`); without them, the filesystem finds its own
    (s3fs: the AWS environment variables and files)."""

    def __init__(self, url: str, options: dict[str, Any] | None = None):
        self.url = url
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url, **(options or {}))
        except (ImportError, ValueError, TypeError) as exc:
            raise StoreError(f"GRAFT_STORE={url!r}: cannot open it: {exc}") from exc
        protocols = (self.fs.protocol if isinstance(self.fs.protocol, tuple)
                     else (self.fs.protocol,))
        self.local = "file" in protocols
        # What a failing operation raises: OSError for a folder; an S3 client raises its
        # own errors too (botocore's NoCredentialsError is no OSError).
        self._errors: tuple[type[Exception], ...] = (OSError,) if self.local else (Exception,)
        if self.local:
            os.makedirs(self.root, exist_ok=True)
        elif options:
            share_with_urls(protocols, options)

    def check(self) -> None:
        """StoreError, in one line naming the bucket and the cause, unless this process can
        write to the store and read back what it wrote (a bucket that does not exist or
        refuses access; a server that does not answer). A no-op for a local folder."""
        if not self.local:
            check_access(self.fs, self.root, self.url)

    def _path(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise StoreObjectMissing(f"invalid store key {key!r}: no object can have it")
        return f"{self.root.rstrip('/')}/{key}"

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            if self.local:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            else:
                self.fs.pipe_file(path, data)
        except self._errors as exc:
            raise self._failed(exc, f"cannot write {key!r} to") from exc

    def put_file(self, key: str, local_path: str) -> None:
        """`put(key, <the bytes of file local_path>)` without reading them into memory (a
        dynamic's sub-graph of 1,000,000 nodes is ~97 MB)."""
        path = self._path(key)
        try:
            if self.local:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
                os.close(fd)
                shutil.copyfile(local_path, tmp)
                os.replace(tmp, path)
            else:
                self.fs.put_file(local_path, path)
        except self._errors as exc:
            raise self._failed(exc, f"cannot write {key!r} to") from exc

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            if self.local:
                with open(path, "rb") as fh:
                    return fh.read()
            return self.fs.cat_file(path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise StoreObjectMissing(
                f"store object {key!r} is gone from {self.url} (was the store wiped, or is "
                f"GRAFT_STORE pointing at another store than the one that wrote it?)"
            ) from exc
        except self._errors as exc:
            raise self._failed(exc, f"cannot read {key!r} from") from exc

    def exists(self, key: str) -> bool:
        path = self._path(key)
        if self.local:
            return os.path.exists(path)
        try:
            self._forget(path)
            return self.fs.exists(path)
        except self._errors as exc:
            raise self._failed(exc, f"cannot look for {key!r} in") from exc

    def refresh(self, key: str) -> bool:
        """Whether the object under `key` is there, its write time made now. A store that
        cannot change it (S3) says False for an object written over `REWRITE_AFTER_S` ago, so
        that the caller writes it again."""
        path = self._path(key)
        try:
            if self.local:
                os.utime(path)
                return True
            self._forget(path)  # not a listing made before another process rewrote it
            written = modified_s(self.fs.info(path))
        except FileNotFoundError:
            return False
        except PermissionError:  # another user's file: writing it again replaces it
            return False
        except self._errors as exc:
            raise self._failed(exc, f"cannot look at {key!r} in") from exc
        return written is not None and time.time() - written < REWRITE_AFTER_S

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            if self.local:
                os.unlink(path)
            else:
                self.fs.rm_file(path)
        except FileNotFoundError:
            return
        except self._errors as exc:
            raise self._failed(exc, f"cannot delete {key!r} from") from exc

    def keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix.strip("/"))
        try:
            if self.local:
                names = os.listdir(folder)
            else:
                self._forget(folder)
                names = [p.rstrip("/").rpartition("/")[2]
                         for p in self.fs.ls(folder, detail=False)]
        except FileNotFoundError:
            return []
        except self._errors as exc:
            raise self._failed(exc, f"cannot list {prefix!r} in") from exc
        return sorted(f"{prefix.strip('/')}/{n}" for n in names if not n.startswith(".tmp-"))

    def _forget(self, path: str) -> None:
        """Drop what the filesystem remembers of listings at `path` and its parents: s3fs
        answers `ls` and `exists` from listings it made before, blind to objects other
        processes wrote or deleted since (a submission, a cache entry, a worker's output)."""
        self.fs.invalidate_cache(path)

    def _failed(self, exc: Exception, doing: str) -> StoreError:
        """The StoreError for `exc`, raised while `doing` the store."""
        if self.local:
            return StoreError(f"{doing} store {self.url}: {exc}")
        return StoreError(f"{doing} {describe_failure(exc, self.url)}")


class MemoryStore:
    """An in-process store for unit tests."""

    def __init__(self) -> None:
        self.url = "memory://"
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._data[key] = bytes(data)

    def get(self, key: str) -> bytes:
        try:
            return self._data[key]
        except KeyError:
            raise StoreObjectMissing(f"store object {key!r} is gone from {self.url}") from None

    def exists(self, key: str) -> bool:
        return key in self._data

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def keys(self, prefix: str) -> list[str]:
        folder = prefix.strip("/") + "/"
        return sorted(k for k in list(self._data) if k.startswith(folder)
                      and "/" not in k[len(folder):])


_opened: dict[tuple[str, str], Store] = {}
_default: list[Store] = []


def open_store(url: str, options: dict[str, Any] | None = None) -> Store:
    """The store at `url`, with fsspec storage `options` (opened once per process for each
    URL and options)."""
    key = (url, json.dumps(options or {}, sort_keys=True, default=str))
    if key not in _opened:
        _opened[key] = MemoryStore() if url == "memory://" else FsspecStore(url, options)
    return _opened[key]


def set_default_store(store: Store | None) -> None:
    """Make `store` what `default_store()` returns in this process (None: the store the
    settings name again). For a process told its store other than by its environment: the
    worker's runner, whose request names the store and carries its credentials."""
    _default[:] = [store] if store is not None else []


def default_store() -> Store:
    """The store `GRAFT_STORE` and `GRAFT_STORE_OPTIONS` name (or `set_default_store`'s)."""
    if _default:
        return _default[0]
    settings = Settings.from_env()
    return open_store(settings.store_url, settings.store_options)


def check_store(settings: Settings) -> Store:
    """The store `settings` name, once this process has written to it and read back
    (`FsspecStore.check`): StoreError in one line, naming the bucket and the cause, when
    it cannot. What `graft scheduler`, `graft worker` and a client's first submit run."""
    store = open_store(settings.store_url, settings.store_options)
    if isinstance(store, FsspecStore):
        store.check()
    return store
