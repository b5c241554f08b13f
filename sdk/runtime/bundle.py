"""Code bundles: how user code reaches workers that never had it installed.

At submission the client zips the Python sources of the workflow's folder (the script's
folder, or the top of the package it lives in), and the script files of its ShellTasks, into
the store, content-addressed. A worker
fetches the bundle, unpacks it once under its cache folder and imports from there, so it runs
the code that was submitted even where it never saw the file. Installed modules (site-packages)
are never bundled; workers import them as installed. A module whose bundle would not hold it
(its source was removed or moved since it was imported) is refused before anything is stored:
its nodes could only fail on the workers with "No module named".
"""

from __future__ import annotations

import importlib
import io
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from sdk.authoring.shell_task import SCRIPT_FILES
from sdk.model import entity as registry
from sdk.model.config import cache_dir
from sdk.model.entity import Runnable
from sdk.model.errors import GraftError
from sdk.model.reference import reference_of
from sdk.model.spec import TaskRef
from sdk.model.store import Store
from sdk.values.store import get_verified, put_blob

MAX_BUNDLE_BYTES = 50 * 2**20
_BUNDLE_ID = re.compile(r"[0-9a-f]{64}")
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
    """A deterministic zip of the `.py` files under `root` (same sources, same bytes), and of
    the script files ShellTasks created in this process read (`shell_task.SCRIPT_FILES`)."""
    buf = io.BytesIO()
    total = 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
            for name in sorted(files):
                full = Path(folder) / name
                if not name.endswith(".py") and not (SCRIPT_FILES
                                                     and full.resolve() in SCRIPT_FILES):
                    continue
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


def module_bundle(module_name: str, made: dict[Path, bytes] | None = None
                  ) -> tuple[str, bytes | None]:
    """The importable name of an imported module and the bundle workers import it from
    (None: installed, imported as installed; see `source_root`). `made` keeps the bundles
    already made by folder, for modules that share one.

    Raises GraftError, naming the module and the folder it was imported from, when that bundle
    would not hold the module's source: the file or its folder was removed or moved since it
    was imported (the bundle may then hold nothing at all), it lies in a folder bundles skip,
    or it is no .py file. Workers could not import it: its nodes would fail with "No module
    named".
    """
    name, root = source_root(module_name)
    if root is None:
        return name, None
    made = {} if made is None else made
    if root not in made:
        made[root] = make_bundle(root)
    data = made[root]
    source = Path(sys.modules[module_name].__file__ or "").resolve()
    entry = source.relative_to(root).as_posix()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        held = zf.namelist()
    if entry in held:
        return name, data
    shown = f"module {module_name!r}" + (f" ({name})" if module_name == "__main__" else "")
    if not source.exists():
        why = (f"{source.name} is no longer there" if source.parent.is_dir()
               else "that folder is gone")
        why += (f", so the code bundle of {root} would hold "
                f"{'no Python file at all' if not held else 'everything but it'}")
    elif source.suffix != ".py":
        why = f"code bundles hold .py files only, not {source.name}"
    else:
        why = (f"the code bundle of {root} skips {entry} (bundles leave out hidden folders "
               f"and folders named {', '.join(sorted(_SKIP_DIRS))})")
    raise GraftError(f"{shown} cannot be sent to the workers: it was imported from "
                     f"{source.parent}, but {why}, and every node of it would fail there with "
                     f"\"No module named {name!r}\". Import the workflow from where its code "
                     f"is now (or install it on the workers) and submit again")


def upload_bundle(root: Path, store: Store) -> str:
    """Store the bundle of `root`; return its id (the sha256 of its bytes)."""
    return put_blob(store, make_bundle(root), prefix="bundles").rpartition("/")[2]


def _unpack(bundle_id: str, store: Store) -> Path:
    if not isinstance(bundle_id, str) or not _BUNDLE_ID.fullmatch(bundle_id):
        raise GraftError(f"code bundle id {str(bundle_id)[:80]!r} is not a sha256 hex digest")
    target = cache_dir() / "bundles" / bundle_id
    if target.exists():
        return target
    data = get_verified(store, f"bundles/{bundle_id}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        zf.extractall(tmp)
    try:
        os.rename(tmp, target)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process unpacked it first
    return target


_current: list[Path] = []  # the bundle folder on sys.path, if any


def _bundle_modules(folder: Path) -> set[str]:
    """The dotted names of the modules and packages a bundle folder provides."""
    names = set()
    for path in folder.rglob("*.py"):
        parts = list(path.relative_to(folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        for i in range(1, len(parts) + 1):
            names.add(".".join(parts[:i]))
    return names


def _activate(folder: Path) -> None:
    """Put `folder` first on sys.path instead of the previous bundle, and forget every module
    a previous bundle loaded that this one also provides (the workflow module, and the helper
    modules it imports), so edited code is imported afresh. Modules loaded from anywhere but a
    bundle (installed packages, graft itself) are never touched."""
    if _current and _current[0] == folder:
        return
    bundles = str(folder.parent) + os.sep
    for entry in [p for p in sys.path if p.startswith(bundles)]:
        sys.path.remove(entry)
    provided = _bundle_modules(folder)
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if name in provided and file.startswith(bundles) and not file.startswith(str(folder)):
            del sys.modules[name]
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    _current[:] = [folder]


def load_entity(ref: TaskRef, store: Store) -> Runnable:
    """Import the task, dynamic or workflow `ref` names.

    With a bundle id the bundle is put first on sys.path (fetched and unpacked once), so the
    code submitted is the code that runs; modules already imported from elsewhere (installed
    packages) stay as they are. Raises GraftError naming the module and bundle when it cannot
    be imported, StoreError when the bundle is gone from the store.
    """
    reference = reference_of(ref)
    if reference is not None:  # a client resolves them; a dynamic's body runs here
        raise GraftError(f"{reference.describe()} was called inside a @dynamic: a client "
                         f"resolves reference entities when it submits, so a dynamic's body, "
                         f"built on a worker, cannot call one; call it from the @workflow")
    if ref.bundle:
        _activate(_unpack(ref.bundle, store))
    try:
        module = importlib.import_module(ref.module)
    except ModuleNotFoundError as exc:
        where = f" (code bundle {ref.bundle[:12]})" if ref.bundle else ""
        raise GraftError(f"cannot import module {ref.module!r} for task {ref.name!r}{where}: "
                         f"{exc}") from exc
    except Exception as exc:
        raise GraftError(f"importing module {ref.module!r} for task {ref.name!r} raised "
                         f"{type(exc).__name__}: {exc}") from exc
    obj: object = module
    for part in ref.qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:  # not an attribute: an entity made by a call, an Echo say
            obj = registry.lookup(ref.ref)
            if obj is None:
                raise GraftError(f"module {ref.module!r} has no {ref.qualname!r} (is the "
                                 f"worker running an older copy of the code?)")
            break
    # Only graft entities are registered, so being the one registered under its own ref
    # proves what `isinstance(obj, Runnable)` would, without that check's ~80 µs (a runtime
    # Protocol looks up each of its attributes) on every attempt.
    ref_of = getattr(obj, "ref", None)
    if not isinstance(ref_of, str) or registry.lookup(ref_of) is not obj:
        raise GraftError(f"{ref.ref} is not a graft task, dynamic or workflow")
    return obj
