"""Path-like file types that travel through the store: `File`, `Directory`, `JoblibSerializedFile`.

A task returns a path (a `str`, an `os.PathLike` or one of these objects); graft uploads the
content to the store, content-addressed, and the consuming task receives an object of the
declared class pointing at a local copy. `open(f)`, `joblib.load(f)`, `str(f)` and
`os.path.basename(str(f))` all work on it, and the original base name is kept.

A URL (`https://…`, `s3://…`, `gs://…`, `file://…`: anything fsspec reads) is not read when
it is given: it travels as the URL, and the task reads it when it first uses the object
(`f.open()` streams it; `os.fspath(f)`, `open(f)` and `str(f)` download it first).

As flytekit's `FlyteFile` and `FlyteDirectory`: `File(path, remote_path=url)` (and
`Directory(path, remote_directory=url)`) returned by a task is also put at that path or URL,
and travels as that URL; `downloader=fn` runs once, when the path is first used, and
`.downloaded` says whether it was; `File.new_remote_file()` and `Directory.new_remote()` name
a new place under the task's raw output prefix. `File["csv"]` (a string, a `TypeVar` or an
`Annotated[str, FileExt("tar.gz")]`) is a file of that format, `File["csv"].extension()`.
"""

from __future__ import annotations

import os
import re
import typing
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["Directory", "File", "FileExt", "JoblibSerializedFile"]


_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str) -> bool:
    """Whether `path` is a URL (`scheme://…`) rather than a local path."""
    return bool(_URL.match(path))


class FileExt:
    """A format with dots in it, for `File[Annotated[str, FileExt("tar.gz")]]` (flytekit's)."""

    def __init__(self, ext: str):
        self._ext = ext

    def __str__(self) -> str:
        return self._ext

    def __repr__(self) -> str:
        return self._ext

    @staticmethod
    def check_and_convert_to_str(item: Any) -> str:
        """The format `File[item]` names: `str(item)` (a TypeVar's name has a leading `~`),
        or the `FileExt` of an `Annotated[str, ...]`; ValueError for another Annotated."""
        if typing.get_origin(item) is not typing.Annotated:
            return str(item)
        if typing.get_args(item)[0] is str:
            return str(typing.get_args(item)[1])
        raise ValueError("Underlying type of File Extension must be of type <str>")


_FORMATTED: dict[tuple[type, str], type] = {}


def formatted(cls: type, item: Any) -> type:
    """`cls[item]`: the subclass of `cls` whose `format` is what `item` names (`cls` itself
    for None or ""). It keeps `cls`'s name, so descriptors refer to `cls` with the format."""
    if item is None:
        return cls
    fmt = FileExt.check_and_convert_to_str(item).strip().lstrip("~").lstrip(".")
    if not fmt:
        return cls
    key = (cls, fmt)
    if key not in _FORMATTED:
        _FORMATTED[key] = type(cls.__name__, (cls,), {
            "format": fmt, "__module__": cls.__module__, "__qualname__": cls.__qualname__,
            "__doc__": f"{cls.__name__} of format {fmt!r}."})
    return _FORMATTED[key]


def _new_name() -> str:
    return uuid.uuid4().hex


class _Lazy:
    """What File and Directory share: a path, and for a URL given as an input, the download
    that makes it local on first use; flytekit's `downloader` and `.downloaded`."""

    format: ClassVar[str] = ""

    def __init__(self, path: str | os.PathLike[str], downloader: Callable[[], Any] | None = None):
        self.path = os.fspath(path)
        # Set when the object was materialized from the store: reused instead of re-uploading.
        self._literal: dict[str, Any] | None = None
        self._download: Callable[[], str] | None = None  # set for a URL not read yet
        self._downloader = downloader
        self._downloaded = False

    @classmethod
    def extension(cls) -> str:
        """The format (`File["csv"].extension() == "csv"`), "" for any."""
        return cls.format

    def __class_getitem__(cls, item: Any) -> type:
        return formatted(cls, item)

    @property
    def remote_source(self) -> str | None:
        """The URL this object was given as, or None for a local one."""
        return self.path if is_url(self.path) else (self._literal or {}).get("url")

    @property
    def downloaded(self) -> bool:
        """Whether its path was used (and so a URL or the `downloader` fetched it)."""
        return self._downloaded

    def download(self) -> str:
        """The local path, downloading a URL first (once), or running the `downloader`."""
        if self._download is not None:
            self.path, self._download = self._download(), None
        if not self._downloaded and self._downloader is not None:
            self._downloader()
        self._downloaded = True
        return self.path

    @staticmethod
    def _new_remote_path(stem: str | None, alt: str | None = None) -> str:
        from sdk.values.flyte_context import FlyteContextManager

        fa = FlyteContextManager.current_context().file_access
        return fa.generate_new_custom_path(alt=alt, stem=stem)

    def __fspath__(self) -> str:
        return self.download()

    def __str__(self) -> str:
        return self.download()


class File(_Lazy, os.PathLike):
    """A file that graft moves between tasks by content. `format` narrows what it holds.
    `remote_path`: where a task that returns it also puts it (a path or a URL)."""

    format: ClassVar[str] = ""

    # Set for a URL input: opens it as a stream, without downloading it.
    _stream: Callable[[str], Any] | None = None

    def __init__(self, path: str | os.PathLike[str], downloader: Callable[[], Any] | None = None,
                 remote_path: str | os.PathLike[str] | bool | None = None):
        super().__init__(path, downloader)
        self._remote_path = remote_path

    @property
    def remote_path(self) -> str | os.PathLike[str] | bool | None:
        return self._remote_path

    @classmethod
    def new_remote_file(cls, name: str | None = None, alt: str | None = None) -> File:
        """A new file under the running task's raw output prefix, or under `alt` (another
        prefix head: a folder or a URL, as flytekit's other bucket), named `name` (random
        when None). Write it with `f.open("wb")` and return it."""
        return cls(cls._new_remote_path(name, alt))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, File):
            return self.path == other.path
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.path)

    def open(self, mode: str = "rb", cache_type: str | None = None,
             cache_options: dict[str, Any] | None = None):
        """Open it (binary read by default): a URL not downloaded yet is streamed, a local
        file opened for writing gets its folder made first."""
        if self._download is not None and self._stream is not None:
            return self._stream(mode)
        if is_url(self.path):
            import fsspec

            extra = {"cache_type": cache_type} if cache_type else {}
            extra.update({"cache_options": cache_options} if cache_options else {})
            return fsspec.open(self.path, mode, **extra).open()
        if any(c in mode for c in "wax"):
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        return open(self.download(), mode)


class JoblibSerializedFile(File):
    """A file written by `joblib.dump`, as flytekit's type of the same name."""

    format: ClassVar[str] = "joblib"


class Directory(_Lazy, os.PathLike):
    """A folder that graft moves between tasks by content (each file content-addressed).
    `remote_directory`: where a task that returns it also puts it (a path or a URL)."""

    def __init__(self, path: str | os.PathLike[str], downloader: Callable[[], Any] | None = None,
                 remote_directory: str | os.PathLike[str] | bool | None = None):
        super().__init__(path, downloader)
        self._remote_directory = remote_directory

    @property
    def remote_directory(self) -> str | os.PathLike[str] | bool | None:
        return self._remote_directory

    @classmethod
    def new_remote(cls, stem: str | None = None, alt: str | None = None) -> Directory:
        """A new folder under the running task's raw output prefix, or under `alt` (another
        prefix head, as for `File.new_remote_file`), named `stem` (random when None); fill it
        with `new_file` and `new_dir` and return it. ValueError for a stem with a file
        extension, as flytekit's."""
        if stem and Path(stem).suffix:
            raise ValueError("Stem should not have a file extension.")
        return cls(cls._new_remote_path(stem, alt))

    def new_file(self, name: str | None = None) -> File:
        """A file in this folder, named `name` (random when None)."""
        return File(os.path.join(self.path, name or _new_name()))

    def new_dir(self, name: str | None = None) -> Directory:
        """A folder in this folder, named `name` (random when None)."""
        return Directory(os.path.join(self.path, name or _new_name()))

    def __repr__(self) -> str:
        return f"Directory({self.path!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Directory):
            return self.path == other.path
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.path)
