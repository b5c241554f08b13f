"""Handlers for `File` and `Directory`: contents travel through the store by hash, and a task
receives a local copy under graft's cache folder. A URL travels as itself (`{"url", "name"}`)
and is read through fsspec by the task that uses it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sdk.model.config import cache_dir
from sdk.model.errors import TypeConversionError
from sdk.model.store import Store
from sdk.model.typesys import FileRule, ScalarRule, TypeDesc, qualified_name
from sdk.values import handlers
from sdk.values.files import Directory, File, is_url
from sdk.values.handlers import TypeHandler, register
from sdk.values.store import get_verified, put_blob, sha256


def _read(path: str, where: str, what: str, note: str = "") -> bytes:
    """The bytes of `path`; TypeConversionError naming `what` and the cause when unreadable."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        details = [exc.strerror or type(exc).__name__]
        details += [note] if note else []
        details += ["a broken symlink?"] if os.path.islink(path) else []
        raise TypeConversionError(f"{where}: {what} cannot be read ({'; '.join(details)})"
                                  ) from exc


def _write_atomic(target: Path, data: bytes) -> None:
    """Write aside and rename, so a reader never sees a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _url_name(url: str, default: str) -> str:
    return os.path.basename(url.split("?", 1)[0].rstrip("/")) or default


def _unreadable(url: str, where: str, exc: BaseException) -> TypeConversionError:
    return TypeConversionError(f"{where}: cannot read {url!r} ({type(exc).__name__}: "
                               f"{str(exc).strip()[:300] or 'no details'})")


def _fetch(url: str, name: str, where: str, *, folder: bool) -> str:
    """Download `url` (a file, or with `folder` everything under it) into a new temporary
    folder; its local path. TypeConversionError naming the URL when it cannot be read."""
    import fsspec

    target = os.path.join(tempfile.mkdtemp(prefix="graft-url-"), name)
    try:
        fs, path = fsspec.core.url_to_fs(url)
        if folder:
            base = path.rstrip("/")
            found = [f for f in fs.find(base) if f.startswith(base + "/")]
            locals_ = [os.path.join(target, *f[len(base) + 1:].split("/")) for f in found]
            if any(".." in f[len(base) + 1:].split("/") for f in found):
                raise ValueError("a listed file lies outside the folder")
            for local in locals_:
                os.makedirs(os.path.dirname(local), exist_ok=True)
            if found:
                fs.get(found, locals_)
            os.makedirs(target, exist_ok=True)
        else:
            fs.get_file(path, target)
    except Exception as exc:
        raise _unreadable(url, where, exc) from exc
    return target


def _stream(url: str, mode: str, where: str) -> Any:
    import fsspec

    try:
        return fsspec.open(url, mode).open()
    except Exception as exc:
        raise _unreadable(url, where, exc) from exc


def _build_dir(folder: Path, name: str, files: dict[str, str], store: Store,
               where: str) -> None:
    """Materialize a directory literal as `folder/name`, built aside and renamed into place,
    so that a task never sees it half written (tasks on one machine share the folder)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
    try:
        root = (staging / name).resolve()
        root.mkdir()
        for rel, key in files.items():
            target = (root / rel).resolve()
            if root not in target.parents:
                raise TypeConversionError(f"{where}: directory entry {rel!r} points outside "
                                          f"its directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(get_verified(store, key))
        complete = all((folder / name / rel).is_file() for rel in files)
        if folder.exists() and not complete:  # files deleted since it was made: replace it
            shutil.rmtree(folder, ignore_errors=True)
        if not complete:
            with contextlib.suppress(OSError):  # another process put it in place first
                os.rename(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _is_file_class(cls: type) -> bool:
    return issubclass(cls, File)


def _with_format(cls: Any, desc: TypeDesc) -> Any:
    """`cls`, or `cls[format]` when the descriptor names a format `cls` lacks."""
    fmt = desc.get("format") or ""
    return cls[fmt] if fmt and cls.format != fmt else cls


def _remote(value: Any, attribute: str) -> str | None:
    """Where a File or Directory returned by a task is also put (`remote_path`,
    `remote_directory`): None when not given or False, as flytekit's."""
    where = getattr(value, attribute, None)
    if where is None or isinstance(where, bool):
        return None
    return os.fspath(where)


def _put(local: str, target: str, where: str, *, folder: bool) -> None:
    """Copy the local file (or folder) `local` to `target`, a path or a URL; TypeConversionError
    naming the target when it cannot be written."""
    try:
        if not is_url(target):
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            if folder:
                shutil.copytree(local, target, dirs_exist_ok=True)
            else:
                shutil.copyfile(local, target)
            return
        import fsspec

        fs, path = fsspec.core.url_to_fs(target)
        if not folder:
            fs.put_file(local, path)
            return
        for root, _dirs, names in os.walk(local):
            for name in names:
                full = os.path.join(root, name)
                rel = os.path.relpath(full, local).replace(os.sep, "/")
                fs.put_file(full, f"{path.rstrip('/')}/{rel}")
    except Exception as exc:
        raise TypeConversionError(f"{where}: cannot put {local!r} at {target!r} "
                                  f"({type(exc).__name__}: {str(exc).strip()[:300]})") from exc


class FileHandler(FileRule, TypeHandler):
    """`File` and its subclasses (`JoblibSerializedFile`): `{"key": blob, "name": base}`."""

    kind = "file"

    def describe(self, tp: Any) -> TypeDesc | None:
        if isinstance(tp, type) and issubclass(tp, File):
            return {"t": "file", "format": tp.format, "ref": qualified_name(tp)}
        return None

    def name(self, desc: TypeDesc) -> str:
        """`File`, `JoblibSerializedFile`, ...; `File[csv]` for a format its class lacks."""
        base = str(desc.get("ref") or "File").rpartition(":")[2]
        fmt = desc.get("format") or ""
        found = handlers.try_class(desc.get("ref"))
        return f"{base}[{fmt}]" if fmt and getattr(found, "format", None) != fmt else base

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        ok = isinstance(value, (str, File)) or (isinstance(value, os.PathLike)
                                                and not isinstance(value, Directory))
        return None if ok else f"expected {desc.get('ref', 'File').rpartition(':')[2]}, got " \
                               f"{type(value).__name__}"

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        lit = value._literal if isinstance(value, File) else None
        if lit and ("url" in lit or store.exists(lit["key"])):
            return lit
        path = value.path if isinstance(value, File) else os.fspath(value)
        if is_url(path):  # read by the task that uses it, not here
            return {"url": path, "name": _url_name(path, "file")}
        target = _remote(value, "remote_path")
        if target is not None:  # put there too; a URL then travels as itself
            _put(path, target, where, folder=False)
            if is_url(target):
                return {"url": target, "name": _url_name(target, "file")}
        data = _read(path, where, f"file {path!r}", f"working directory {os.getcwd()}")
        return {"key": put_blob(store, data),
                "name": os.path.basename((target or path).rstrip("/")) or "file"}

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        cls: type[File] = File
        if desc.get("ref"):
            found = handlers.try_class(desc["ref"])
            cls = found if found is not None and _is_file_class(found) else File
        cls = _with_format(cls, desc)
        name = os.path.basename(str(lit["name"])) or "file"
        if "url" in lit:
            url = str(lit["url"])
            lazy = cls(url)
            lazy._literal = lit
            lazy._download = lambda: _fetch(url, name, where, folder=False)
            lazy._stream = lambda mode: _stream(url, mode, where)
            return lazy
        folder = cache_dir() / "files" / str(lit["key"]).rpartition("/")[2]
        path = folder / name
        if not path.exists():
            _write_atomic(path, get_verified(store, lit["key"]))
        obj = cls(str(path))
        obj._literal = lit
        return obj

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        if "key" in lit:
            yield lit["key"]

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        return File(raw)


class DirectoryHandler(ScalarRule, TypeHandler):
    """`Directory`: `{"name": base, "files": {relative path: blob}}`. A `Directory[fmt]`'s
    descriptor names its format; formats fit as files' do (either is any, or both agree)."""

    kind = "dir"
    display = "Directory"

    def describe(self, tp: Any) -> TypeDesc | None:
        if not (isinstance(tp, type) and issubclass(tp, Directory)):
            return None
        return {"t": "dir", "format": tp.format} if tp.format else {"t": "dir"}

    def name(self, desc: TypeDesc) -> str:
        return f"Directory[{desc['format']}]" if desc.get("format") else "Directory"

    def assignable(self, src: TypeDesc, dst: TypeDesc) -> bool:
        want, have = dst.get("format"), src.get("format")
        return not want or not have or want == have

    def check(self, value: Any, desc: TypeDesc) -> str | None:
        if isinstance(value, (str, Directory, os.PathLike)):
            return None
        return f"expected Directory, got {type(value).__name__}"

    def encode(self, value: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        if isinstance(value, Directory) and value._literal:
            return value._literal
        path = value.path if isinstance(value, Directory) else os.fspath(value)
        if is_url(path):  # read by the task that uses it, not here
            return {"url": path, "name": _url_name(path, "dir")}
        if not os.path.isdir(path):
            raise TypeConversionError(f"{where}: {path!r} is not a directory")
        target = _remote(value, "remote_directory")
        if target is not None:  # put there too; a URL then travels as itself
            _put(path, target, where, folder=True)
            if is_url(target):
                return {"url": target, "name": _url_name(target, "dir")}
        files: dict[str, str] = {}
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                full = os.path.join(root, name)
                data = _read(full, where, f"file {full!r} in directory {path!r}")
                files[os.path.relpath(full, path).replace(os.sep, "/")] = put_blob(store, data)
        return {"name": os.path.basename((target or path).rstrip("/")) or "dir", "files": files}

    def decode(self, lit: Any, desc: TypeDesc, store: Store, where: str) -> Any:
        from sdk.values.literals import dumps

        cls = _with_format(Directory, desc)
        if "url" in lit:
            url, name = str(lit["url"]), os.path.basename(str(lit["name"])) or "dir"
            lazy = cls(url)
            lazy._literal = lit
            lazy._download = lambda: _fetch(url, name, where, folder=True)
            return lazy
        name = os.path.basename(str(lit["name"])) or "dir"
        # One folder per name and content: a directory of the same content under another name
        # must not replace (and so empty) a copy a task or the caller still holds.
        digest = sha256(dumps({"name": name, "files": lit["files"]}))
        folder = cache_dir() / "dirs" / digest
        root = folder / name
        if not all((root / rel).is_file() for rel in lit["files"]):
            _build_dir(folder, name, lit["files"], store, where)
        obj = cls(str(root))
        obj._literal = lit
        return obj

    def store_keys(self, lit: Any, desc: TypeDesc) -> Iterator[str]:
        yield from (lit.get("files") or {}).values()

    def parse_text(self, raw: str, desc: TypeDesc) -> Any:
        return Directory(raw)


register(FileHandler())
register(DirectoryHandler())
