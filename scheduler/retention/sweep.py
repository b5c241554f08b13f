"""The store side of garbage collection: listing every object with its size and age, and
deleting one only if it is still old when it goes.

The listing is taken *before* the mark phase reads the roots, and an object is deleted only
when it was last written (or refreshed, `sdk.values.store.put_blob`) before the cutoff `now -
grace`, checked again just before it is deleted. So an object written after the listing is
never a candidate; one a worker or client wrote (or found already there and refreshed) within
the grace period is kept although nothing in the database names it yet; one refreshed between
the listing and its deletion is kept by the second check (`delete_if_old`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sdk.model.errors import StoreError
from sdk.model.store import Store
from sdk.values.store import FsspecStore, modified_s

__all__ = ["StoredObject", "delete_if_old", "listing", "prune_empty_folders"]

log = logging.getLogger("graft.gc")

TRASH = ".gc-"  # an object being deleted, renamed aside (a gc that died leaves it)


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One object of the store: its key, its size in bytes, and when it was last written
    (unix seconds)."""

    key: str
    size: int
    mtime: float


def _fsspec(store: Store) -> FsspecStore:
    if not isinstance(store, FsspecStore):
        raise StoreError(f"gc sweeps a folder or fsspec store, not {store.url}")
    return store


def listing(store: Store) -> Iterator[StoredObject]:
    """Every object in `store` (writes cut short included), in no particular order.
    StoreError when the store cannot be listed."""
    fs = _fsspec(store)
    root = fs.root.rstrip("/")
    try:
        if fs.local:
            yield from _local(root, root)
            return
        fs.fs.invalidate_cache(root)  # s3fs: not listings made before others wrote
        for path, info in fs.fs.find(root, detail=True).items():
            key = path.rstrip("/")[len(root) + 1:] if path.startswith(root) else path
            yield StoredObject(key, int(info.get("size") or 0), _mtime(info))
    except Exception as exc:  # botocore's errors are no OSError
        raise StoreError(f"cannot list store {store.url}: {exc}") from exc


def _local(root: str, folder: str) -> Iterator[StoredObject]:
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _local(root, entry.path)
        elif entry.is_file(follow_symlinks=False):
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            yield StoredObject(entry.path[len(root) + 1:].replace(os.sep, "/"), st.st_size,
                               st.st_mtime)


_warned = [False]


def _mtime(info: dict[str, Any]) -> float:
    """When an object was last written; infinity (never old enough to delete) when the
    filesystem does not say."""
    written = modified_s(info)
    if written is not None:
        return written
    if not _warned[0]:
        _warned[0] = True
        log.warning("the store does not say when its objects were written (fields %s): gc "
                    "deletes none of them", sorted(info))
    return float("inf")


def delete_if_old(store: Store, key: str, cutoff: float) -> int | None:
    """Delete the object under `key` if it was last written before `cutoff` (unix seconds),
    looked at again now; its size in bytes, or None when it was kept (or is gone already).
    StoreError when the store refuses.

    On a folder store the object is first renamed aside (`.gc-<name>`), then its write time
    read: one refreshed (`put_blob`) before the rename is put back, and one refreshed after
    it is not there to refresh, so its writer stores it anew. No reuse can be lost. Other
    stores are looked at, then deleted."""
    fs = _fsspec(store)
    path = f"{fs.root.rstrip('/')}/{key}"
    try:
        if fs.local:
            folder, _, name = path.rpartition("/")
            aside = f"{folder}/{TRASH}{name}"
            os.rename(path, aside)
            st = os.stat(aside)
            if st.st_mtime >= cutoff:
                os.replace(aside, path)  # a copy its writer stored meanwhile has these bytes
                return None
            os.unlink(aside)
            return st.st_size
        fs.fs.invalidate_cache(path)  # its write time now, not a listing's
        info = fs.fs.info(path)
        if _mtime(info) >= cutoff:
            return None
        fs.fs.rm_file(path)
        return int(info.get("size") or 0)
    except FileNotFoundError:
        return None
    except Exception as exc:  # OSError, and botocore's errors on S3
        raise StoreError(f"cannot delete {key!r} from store {store.url}: {exc}") from exc


def prune_empty_folders(store: Store, folders: list[str]) -> None:
    """Remove those of `folders` (of a local store) that deletes left empty, and their
    parents up to the top-level folder (an execution's `logs/<id>/<node>/`, up to `logs/`);
    nothing for other stores, which have no folders."""
    fs = _fsspec(store)
    if not fs.local:
        return
    root = fs.root.rstrip("/")
    for folder in sorted(folders, key=lambda f: -f.count("/")):
        parts = folder.split("/")
        while len(parts) > 1:  # never the top-level folder (`logs/`, `blobs/`)
            try:
                os.rmdir(os.path.join(root, *parts))
            except OSError:  # not empty, or gone already
                break
            parts.pop()
