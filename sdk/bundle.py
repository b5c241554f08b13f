"""Code bundles: how user code reaches workers that never had it installed.

At submission the client zips the Python sources of the workflow's folder (the script's
folder, or the top of the package it lives in) into the store, content-addressed. A worker
that cannot import a task's module fetches the bundle, unpacks it once under its cache folder
and imports from there. Installed modules (site-packages) are never bundled.
"""

from __future__ import annotations

import importlib
import io
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from sdk.config import cache_dir
from sdk.entities import Entity
from sdk.errors import GraftError
from sdk.spec import TaskRef
from sdk.store import Store, put_blob

MAX_BUNDLE_BYTES = 50 * 2**20
_SKIP_DIRS = {"__pycache__", "node_modules", "venv", "build", "dist", "site-packages"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def source_root(module_name: str) -> tuple[str, Path | None]:
    """The importable name of a module and the folder to bundle (None: installed/unknown)."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file:
        return module_name, None
    path = Path(file).resolve()
    if any(part in ("site-packages", "dist-packages") for part in path.parts):
        return module_name, None
    parts = [] if path.name == "__init__.py" else [path.stem]
    folder = path.parent
    while (folder / "__init__.py").exists():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts), folder


def make_bundle(root: Path) -> bytes:
    """A deterministic zip of the `.py` files under `root` (same sources, same bytes)."""
    buf = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                full = Path(folder) / name
                data = full.read_bytes()
                total += len(data)
                if total > MAX_BUNDLE_BYTES:
                    raise GraftError(
                        f"the sources under {root} exceed {MAX_BUNDLE_BYTES // 2**20} MiB; move "
                        f"the workflow into a smaller folder or install it on the workers")
                info = zipfile.ZipInfo(full.relative_to(root).as_posix(), _FIXED_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
    return buf.getvalue()


def upload_bundle(root: Path, store: Store) -> str:
    """Store the bundle of `root`; return its id (the sha256 of its bytes)."""
    return put_blob(store, make_bundle(root), prefix="bundles").rpartition("/")[2]


def _unpack(bundle_id: str, store: Store) -> Path:
    target = cache_dir() / "bundles" / bundle_id
    if target.exists():
        return target
    data = store.get(f"bundles/{bundle_id}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(tmp)
    try:
        os.rename(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process unpacked it first
    return target


_active: dict[str, Path] = {}  # top-level module name -> bundle folder it was imported from


def _forget(top: str) -> None:
    folder = _active.pop(top)
    if str(folder) in sys.path:
        sys.path.remove(str(folder))
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]


def load_entity(ref: TaskRef, store: Store) -> Entity:
    """Import the task, dynamic or workflow `ref` names, from its bundle when not importable.

    Raises GraftError naming the module and bundle when it cannot be imported.
    """
    top = ref.module.partition(".")[0]
    if top in _active and ref.bundle and _active[top].name != ref.bundle:
        _forget(top)
    try:
        module = importlib.import_module(ref.module)
    except ModuleNotFoundError as exc:
        if not ref.bundle or not (exc.name and ref.module.startswith(exc.name)):
            raise GraftError(f"cannot import module {ref.module!r} for task {ref.name!r}: {exc}"
                             ) from exc
        folder = _unpack(ref.bundle, store)
        sys.path.insert(0, str(folder))
        importlib.invalidate_caches()
        _active[top] = folder
        try:
            module = importlib.import_module(ref.module)
        except Exception as inner:
            raise GraftError(f"cannot import module {ref.module!r} from code bundle "
                             f"{ref.bundle[:12]}: {type(inner).__name__}: {inner}") from inner
    except Exception as exc:
        raise GraftError(f"importing module {ref.module!r} for task {ref.name!r} raised "
                         f"{type(exc).__name__}: {exc}") from exc
    obj: object = module
    for part in ref.qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise GraftError(f"module {ref.module!r} has no {ref.qualname!r} (is the worker "
                             f"running an older copy of the code?)")
    if not isinstance(obj, Entity):
        raise GraftError(f"{ref.ref} is not a graft task, dynamic or workflow")
    return obj
