"""Path-like file types that travel through the store: `File`, `Directory`, `JoblibSerializedFile`.

A task returns a path (a `str`, an `os.PathLike` or one of these objects); graft uploads the
content to the store, content-addressed, and the consuming task receives an object of the
declared class pointing at a local copy. `open(f)`, `joblib.load(f)`, `str(f)` and
`os.path.basename(str(f))` all work on it, and the original base name is kept.

A URL (`https://…`, `s3://…`, `gs://…`, `file://…`: anything fsspec reads) is not read when
it is given: it travels as the URL, and the task reads it when it first uses the object
(`f.open()` streams it; `os.fspath(f)`, `open(f)` and `str(f)` download it first).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, ClassVar

__all__ = ["Directory", "File", "JoblibSerializedFile"]


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str) -> bool:
    """Whether `path` is a URL (`scheme://…`) rather than a local path."""
    return bool(_URL.match(path))


class _Lazy:
    """What File and Directory share: a path, and for a URL given as an input, the download
    that makes it local on first use."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        # Set when the object was materialized from the store: reused instead of re-uploading.
        self._literal: dict[str, Any] | None = None
        self._download: Callable[[], str] | None = None  # set for a URL not read yet

    @property
    def remote_source(self) -> str | None:
        """The URL this object was given as, or None for a local one."""
        return self.path if is_url(self.path) else (self._literal or {}).get("url")

    def download(self) -> str:
        """The local path, downloading a URL first (once)."""
        if self._download is not None:
            self.path, self._download = self._download(), None
        return self.path

    def __fspath__(self) -> str:
        return self.download()

    def __str__(self) -> str:
        return self.download()


class File(_Lazy, os.PathLike):
    """A file that graft moves between tasks by content. `format` narrows what it holds."""

    format: ClassVar[str] = ""

    # Set for a URL input: opens it as a stream, without downloading it.
    _stream: Callable[[str], Any] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, File):
            return self.path == other.path
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.path)

    def open(self, mode: str = "rb"):
        """Open it (binary read by default): a URL not downloaded yet is streamed."""
        if self._download is not None and self._stream is not None:
            return self._stream(mode)
        return open(self.download(), mode)


class JoblibSerializedFile(File):
    """A file written by `joblib.dump`, as flytekit's type of the same name."""

    format: ClassVar[str] = "joblib"


class Directory(_Lazy, os.PathLike):
    """A folder that graft moves between tasks by content (each file content-addressed)."""

    def __repr__(self) -> str:
        return f"Directory({self.path!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Directory):
            return self.path == other.path
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.path)
