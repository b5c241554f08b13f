"""Where a blob or a structured dataset is, as graft keeps it: the file or folder a literal's
`uri` names, put into the store by content.

    {"uri": "s3://bucket/x"}                                  a URL stays a URL
    {"file": {"key": "blobs/...", "name": "f.bin"}}           a local file, as a File's literal
    {"dir": {"name": "x", "files": {"a": "blobs/..."}}}       a local folder, as a Directory's

`stow` makes these from a uri, `fetch` gives back a local path (made once per machine under
graft's cache folder, read-only by convention) or the URL.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

from sdk.model.errors import TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import TypeDesc
from sdk.values import handlers
from sdk.values.file_access import FileAccessProvider, is_under

_DIR: TypeDesc = {"t": "dir"}
_FILE: TypeDesc = {"t": "file", "format": ""}
LOCATED = ("uri", "file", "dir")  # the keys that say where
_RANDOM_NAME = re.compile(r"^[0-9a-f]{32}$")  # FileAccessProvider.get_random_string()


def stow(uri: str, store: Store, where: str, fa: FileAccessProvider | None) -> dict[str, Any]:
    """Where `uri` is, as a literal keeps it: a URL as itself (`{"uri": url}`), a local file
    or folder put into `store` (`{"file": ...}`, `{"dir": ...}`). A local one under `fa`'s raw
    output prefix is removed once stored (and named "blob" when its name is a random one).
    TypeConversionError when there is nothing there."""
    if not isinstance(uri, str) or not uri:
        raise TypeConversionError(f"{where}: the literal names no uri ({uri!r})")
    if FileAccessProvider.is_remote(uri):
        return {"uri": uri}
    path = FileAccessProvider.strip_file_header(uri)
    if os.path.isdir(path):
        stored = {"dir": handlers.encode_checked(path, _DIR, store, where)}
    elif os.path.isfile(path):
        stored = {"file": handlers.encode_checked(path, _FILE, store, where)}
    else:
        raise TypeConversionError(f"{where}: the literal points at {uri!r}, where there is no "
                                  f"file or folder (write it before returning the literal)")
    if fa is not None and is_under(path, FileAccessProvider.strip_file_header(
            fa.raw_output_prefix)):
        for part in stored.values():  # a random name would make equal contents differ
            if _RANDOM_NAME.match(part["name"]):
                part["name"] = "blob"
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.remove(path)
    return stored


def fetch(located: dict[str, Any], store: Store, where: str) -> str:
    """The local path (or the URL) of what `stow` kept."""
    if "dir" in located:
        return handlers.decode(located["dir"], _DIR, store, where).path
    if "file" in located:
        return handlers.decode(located["file"], _FILE, store, where).path
    return str(located["uri"])


def located_keys(located: dict[str, Any]) -> Iterator[str]:
    if "dir" in located:
        yield from handlers.store_keys(located["dir"], _DIR)
    elif "file" in located:
        yield from handlers.store_keys(located["file"], _FILE)
