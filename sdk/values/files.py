"""Path-like file types that travel through the store: `File`, `Directory`, `JoblibSerializedFile`.

A task returns a path (a `str`, an `os.PathLike` or one of these objects); graft uploads the
content to the store, content-addressed, and the consuming task receives an object of the
declared class pointing at a local copy. `open(f)`, `joblib.load(f)`, `str(f)` and
`os.path.basename(str(f))` all work on it, and the original base name is kept.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

__all__ = ["Directory", "File", "JoblibSerializedFile"]


class File(os.PathLike):
    """A file that graft moves between tasks by content. `format` narrows what it holds."""

    format: ClassVar[str] = ""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        # Set when the object was materialized from the store: reused instead of re-uploading.
        self._literal: dict[str, Any] | None = None

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, File):
            return self.path == other.path
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.path)

    def open(self, mode: str = "rb"):
        """Open the local copy (binary read by default)."""
        return open(self.path, mode)


class JoblibSerializedFile(File):
    """A file written by `joblib.dump`, as flytekit's type of the same name."""

    format: ClassVar[str] = "joblib"


class Directory(os.PathLike):
    """A folder that graft moves between tasks by content (each file content-addressed)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = os.fspath(path)
        self._literal: dict[str, Any] | None = None

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"Directory({self.path!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Directory):
            return self.path == other.path
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.path)
