"""The value store: bytes under keys, in a folder or any fsspec URL, or in memory.

Blobs are content-addressed (`blobs/<sha256>`), so the same value or file is stored once and
cache keys that hash references hash content. Storing one that is there already refreshes its
write time instead (`keep`): gc (`scheduler/retention`) keeps every object written within its
grace period, and an object a new execution is about to use again counts as written now.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import tempfile
import threading
import time
from typing import Any

import fsspec

from sdk.model.config import Settings
from sdk.model.errors import StoreError, StoreIntegrityError, StoreObjectMissing
from sdk.model.store import Store

__all__ = ["FsspecStore", "MemoryStore", "Store", "default_store", "get_verified", "keep",
           "modified_s", "open_store", "put_blob", "sha256"]

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
    """A store in a local folder (`/data/graft`) or at an fsspec URL (`s3://bucket/graft`)."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:
            raise StoreError(f"GRAFT_STORE={url!r}: cannot open it: {exc}") from exc
        self.local = "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple)
                                else (self.fs.protocol,))
        if self.local:
            os.makedirs(self.root, exist_ok=True)

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
        except OSError as exc:
            raise StoreError(f"cannot write {key!r} to store {self.url}: {exc}") from exc

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
        except OSError as exc:
            raise StoreError(f"cannot read {key!r} from store {self.url}: {exc}") from exc

    def exists(self, key: str) -> bool:
        path = self._path(key)
        return os.path.exists(path) if self.local else self.fs.exists(path)

    def refresh(self, key: str) -> bool:
        """Whether the object under `key` is there, its write time made now. A store that
        cannot change it (S3) says False for an object written over `REWRITE_AFTER_S` ago, so
        that the caller writes it again."""
        path = self._path(key)
        try:
            if self.local:
                os.utime(path)
                return True
            written = modified_s(self.fs.info(path))
        except FileNotFoundError:
            return False
        except PermissionError:  # another user's file: writing it again replaces it
            return False
        except OSError as exc:
            raise StoreError(f"cannot look at {key!r} in store {self.url}: {exc}") from exc
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
        except OSError as exc:
            raise StoreError(f"cannot delete {key!r} from store {self.url}: {exc}") from exc

    def keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix.strip("/"))
        try:
            names = (os.listdir(folder) if self.local
                     else [p.rstrip("/").rpartition("/")[2] for p in self.fs.ls(folder,
                                                                                detail=False)])
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot list {prefix!r} in store {self.url}: {exc}") from exc
        return sorted(f"{prefix.strip('/')}/{n}" for n in names if not n.startswith(".tmp-"))


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


_opened: dict[str, Store] = {}


def open_store(url: str) -> Store:
    """The store at `url` (opened once per process)."""
    if url not in _opened:
        _opened[url] = MemoryStore() if url == "memory://" else FsspecStore(url)
    return _opened[url]


def default_store() -> Store:
    """The store `GRAFT_STORE` names."""
    return open_store(Settings.from_env().store_url)
