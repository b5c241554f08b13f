"""flytekit's `FileAccessProvider` (`ctx.file_access`), as user code and type transformers
reach for it: random local paths, a "remote" place to write results, copies between them.

    fa = FlyteContextManager.current_context().file_access
    local = fa.get_random_local_directory()             # a new empty folder
    remote = fa.get_random_remote_directory()           # a path under raw_output_prefix
    fa.upload_directory(local, remote); fa.download_directory(remote, other_local)

In graft, `raw_output_prefix` is a local folder, not a bucket: whatever a transformer or an
encoder writes there and names in the literal it returns is moved into graft's store by content
when the value is converted (`sdk.values.transformer_handler`), so the cluster's workers read it
from the store. Paths with a protocol (`s3://...`, `https://...`) are read and written through
fsspec, as flytekit does.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import pathlib
import shutil
import tempfile
import uuid
from typing import Any

_REMOTE_PROTOCOLS_LOCAL = ("file", "local")


def _protocol(path: str) -> str:
    text = str(path)
    if "://" in text:
        return text.split("://", 1)[0]
    return "file"


class FileAccessProvider:
    """Local scratch space under `local_sandbox_dir`, "remote" space under
    `raw_output_prefix`, and fsspec for everything with a protocol."""

    def __init__(self, local_sandbox_dir: str | os.PathLike, raw_output_prefix: str,
                 data_config: Any = None, execution_metadata: dict | None = None,
                 lazy: bool = False):
        """`lazy`: make the folders when first used, not now (each attempt gets a provider
        that most never use)."""
        if not local_sandbox_dir:
            raise ValueError("FileAccessProvider needs to be created with a valid "
                             "local_sandbox_dir")
        self._sandbox = pathlib.Path(local_sandbox_dir, "local_flytekit")
        sep = "/" if _protocol(raw_output_prefix) not in _REMOTE_PROTOCOLS_LOCAL else os.sep
        self._prefix = raw_output_prefix if raw_output_prefix.endswith(sep) \
            else raw_output_prefix + sep
        self._made = False
        self._data_config = data_config
        self._execution_metadata = execution_metadata
        if not lazy:
            self._make()

    def _make(self) -> None:
        if not self._made:
            self._sandbox.mkdir(parents=True, exist_ok=True)
            if not self.is_remote(self._prefix):
                os.makedirs(self.strip_file_header(self._prefix), exist_ok=True)
            self._made = True

    @property
    def made(self) -> bool:
        """Whether its folders exist (were used, or it is not lazy)."""
        return self._made

    # --- where things go ---------------------------------------------------------------

    @property
    def raw_output_prefix(self) -> str:
        self._make()
        return self._prefix

    @property
    def local_sandbox_dir(self) -> os.PathLike:
        self._make()
        return self._sandbox

    @property
    def data_config(self) -> Any:
        return self._data_config

    @property
    def local_access(self) -> Any:
        return self.get_filesystem("file")

    @property
    def raw_output_fs(self) -> Any:
        return self.get_filesystem(_protocol(self.raw_output_prefix))

    @staticmethod
    def get_random_string() -> str:
        return uuid.uuid4().hex

    @staticmethod
    def get_file_tail(file_path_or_file_name: str) -> str:
        return os.path.split(file_path_or_file_name)[1]

    @staticmethod
    def is_remote(path: str | os.PathLike) -> bool:
        """Whether `path` has a protocol other than file://."""
        return _protocol(str(path)) not in _REMOTE_PROTOCOLS_LOCAL

    @staticmethod
    def strip_file_header(path: str, trim_trailing_sep: bool = False) -> str:
        """`path` without a leading file://."""
        path = str(path)
        if path.startswith("file://"):
            path = path[len("file://"):]
        return path.rstrip(os.sep) if trim_trailing_sep else path

    def sep(self, file_system: Any = None) -> str:
        if file_system is None or "file" in _as_tuple(getattr(file_system, "protocol", "file")):
            return os.sep
        return str(file_system.sep)

    def join(self, *args: str, unstrip: bool = False, fs: Any = None) -> str:
        if not args:
            raise ValueError("Must provide at least one argument")
        base, *tails = (str(a) for a in args)
        sep = "/" if self.is_remote(base) else os.sep
        return sep.join([base.rstrip(sep), *tails])

    def get_random_local_path(self, file_path_or_file_name: str | None = None) -> str:
        """A new path in the local sandbox, ending in the tail of `file_path_or_file_name`
        when given (nothing is created)."""
        key = self.get_random_string()
        tail = os.path.split(file_path_or_file_name)[1] if file_path_or_file_name else ""
        return os.path.join(self.local_sandbox_dir, key, tail) if tail else \
            os.path.join(self.local_sandbox_dir, key)

    def get_random_local_directory(self) -> str:
        """A new, empty folder in the local sandbox."""
        path = self.get_random_local_path(None)
        pathlib.Path(path).mkdir(parents=True, exist_ok=True)
        return path

    def get_random_remote_path(self, file_path_or_file_name: str | None = None) -> str:
        parts = [self.raw_output_prefix, self.get_random_string()]
        if file_path_or_file_name:
            parts.append(self.get_file_tail(file_path_or_file_name))
        return self.join(*parts)

    def get_random_remote_directory(self) -> str:
        return self.join(self.raw_output_prefix, self.get_random_string())

    def generate_new_custom_path(self, fs: Any = None, alt: str | None = None,
                                 stem: str | None = None) -> str:
        """A new path named `stem` (random when None) under the raw output prefix, or under
        `alt`, another prefix head (a folder or a URL: flytekit's other bucket)."""
        return self.join(alt or self.raw_output_prefix, stem or self.get_random_string())

    # --- file systems ------------------------------------------------------------------

    def get_filesystem(self, protocol: str | None = None, anonymous: bool = False,
                       path: str | None = None, **kwargs: Any) -> Any:
        import fsspec

        return fsspec.filesystem(protocol or "file", **kwargs)

    def get_filesystem_for_path(self, path: str = "", anonymous: bool = False,
                                **kwargs: Any) -> Any:
        return self.get_filesystem(_protocol(path), anonymous, path, **kwargs)

    def exists(self, path: str) -> bool:
        if not self.is_remote(path):
            return os.path.exists(self.strip_file_header(path))
        return bool(self.get_filesystem_for_path(path).exists(path))

    # --- copies ------------------------------------------------------------------------

    def get_data(self, remote_path: str, local_path: str, is_multipart: bool = False,
                 **kwargs: Any) -> str:
        """Copy `remote_path` (a file, or with `is_multipart` a folder's contents) to
        `local_path`."""
        _copy(str(remote_path), str(local_path), is_multipart, self)
        return str(local_path)

    def put_data(self, local_path: str | os.PathLike, remote_path: str,
                 is_multipart: bool = False, **kwargs: Any) -> str:
        """Copy `local_path` (a file, or with `is_multipart` a folder's contents) to
        `remote_path`."""
        _copy(str(local_path), str(remote_path), is_multipart, self)
        return str(remote_path)

    def download(self, remote_path: str, local_path: str, **kwargs: Any) -> str:
        return self.get_data(remote_path, local_path, **kwargs)

    def download_directory(self, remote_path: str, local_path: str, **kwargs: Any) -> str:
        return self.get_data(remote_path, local_path, is_multipart=True)

    def upload(self, file_path: str, to_path: str, **kwargs: Any) -> str:
        return self.put_data(file_path, to_path, **kwargs)

    def upload_directory(self, local_path: str, remote_path: str, **kwargs: Any) -> str:
        return self.put_data(local_path, remote_path, is_multipart=True, **kwargs)

    def put_raw_data(self, lpath: Any, upload_prefix: str | None = None,
                     file_name: str | None = None, read_chunk_size_bytes: int = 1024,
                     encoding: str = "utf-8", skip_raw_data_prefix: bool = False,
                     **kwargs: Any) -> str:
        """Put a local file or folder, or bytes, a string or a file object, under the raw
        output prefix (or `upload_prefix`); the path it went to."""
        prefix = upload_prefix if upload_prefix is not None else \
            self.join(self.raw_output_prefix, self.get_random_string())
        if isinstance(lpath, (str, os.PathLike)):
            source = self.strip_file_header(str(lpath))
            name = file_name or os.path.basename(source.rstrip(os.sep))
            target = self.join(prefix, name)
            if os.path.isdir(source):
                self.put_data(source, target, is_multipart=True)
            else:
                self.put_data(source, target)
            return target
        data = lpath if isinstance(lpath, (bytes, bytearray)) else lpath.read()
        if isinstance(data, str):
            data = data.encode(encoding)
        target = self.join(prefix, file_name or self.get_random_string())
        with self.get_filesystem_for_path(target).open(target, "wb") as fh:
            fh.write(bytes(data))
        return target

    async def async_get_data(self, remote_path: str, local_path: str,
                             is_multipart: bool = False, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.get_data, remote_path, local_path, is_multipart)

    async def async_put_data(self, local_path: str | os.PathLike, remote_path: str,
                             is_multipart: bool = False, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.put_data, local_path, remote_path, is_multipart)

    async def async_put_raw_data(self, lpath: Any, upload_prefix: str | None = None,
                                 file_name: str | None = None, **kwargs: Any) -> str:
        return await asyncio.to_thread(self.put_raw_data, lpath, upload_prefix, file_name)


def _as_tuple(protocol: Any) -> tuple[str, ...]:
    return tuple(protocol) if isinstance(protocol, (list, tuple)) else (str(protocol),)


def _copy(source: str, target: str, folder: bool, fa: FileAccessProvider) -> None:
    """Copy a file, or a folder's contents (`folder`), between two paths or URLs."""
    if not fa.is_remote(source) and not fa.is_remote(target):
        src, dst = fa.strip_file_header(source), fa.strip_file_header(target)
        if folder or os.path.isdir(src):
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
            if os.path.isdir(dst):
                dst = os.path.join(dst, os.path.basename(src))
            shutil.copyfile(src, dst)
        return
    if fa.is_remote(source):
        fs = fa.get_filesystem_for_path(source)
        if folder:
            base = source.rstrip("/")
            for found in sorted(fs.find(base)):
                rel = found[len(fs._strip_protocol(base)):].lstrip("/") if hasattr(
                    fs, "_strip_protocol") else os.path.basename(found)
                local = os.path.join(fa.strip_file_header(target), *rel.split("/"))
                os.makedirs(os.path.dirname(local), exist_ok=True)
                fs.get_file(found, local)
        else:
            local = fa.strip_file_header(target)
            os.makedirs(os.path.dirname(os.path.abspath(local)), exist_ok=True)
            fs.get_file(source, local)
        return
    fs = fa.get_filesystem_for_path(target)
    src = fa.strip_file_header(source)
    if folder or os.path.isdir(src):
        for root, _dirs, names in os.walk(src):
            for name in sorted(names):
                full = os.path.join(root, name)
                rel = os.path.relpath(full, src).replace(os.sep, "/")
                fs.put_file(full, target.rstrip("/") + "/" + rel)
    else:
        fs.put_file(src, target)


_SANDBOX: list[tuple[int, str]] = []


def process_sandbox() -> str:
    """This process's scratch folder (a temporary folder removed when the process that made
    it exits; a forked child makes its own)."""
    pid = os.getpid()
    if not _SANDBOX or _SANDBOX[0][0] != pid:
        path = tempfile.mkdtemp(prefix="graft-flyte-")
        _SANDBOX[:] = [(pid, path)]
        atexit.register(_remove, pid, path)
    return _SANDBOX[0][1]


def _remove(pid: int, path: str) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def new_provider(root: str, lazy: bool = False) -> FileAccessProvider:
    """A provider whose sandbox and raw output prefix are folders under `root`."""
    return FileAccessProvider(root, os.path.join(root, "raw"), lazy=lazy)


def is_under(path: str, folder: str) -> bool:
    """Whether local `path` lies inside `folder`."""
    try:
        return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == \
            os.path.abspath(folder)
    except ValueError:
        return False


__all__ = ["FileAccessProvider", "is_under", "new_provider", "process_sandbox"]
