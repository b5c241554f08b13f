"""A node's checkpoint: what its attempts keep for the next one (`current_context().checkpoint`,
flytekit's `SyncCheckpoint`).

It lives in the store under `checkpoints/<execution>/<node>/` (beside its children's folders,
for a dynamic), as one of two objects, whichever was saved last:

- `checkpoint`: bytes (`write(b)`, or `save(reader)`);
- `saved.zip`: a file or a folder (`save(path)`), restored as a folder by `restore()`.

As in flytekit, `restore()` gives the checkpoint as a local folder (bytes saved with `write`
appear in it as the file `_dst_cp`), and `read()` gives the bytes of its one file. Unlike
flytekit's, whose attempts each write a new location, `read()` also sees what this attempt
saved.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from sdk.model.errors import GraftError, StoreObjectMissing
from sdk.model.store import Store

BYTES_FILE = "_dst_cp"  # flytekit's name for saved bytes, in a restored folder


class Checkpoint:
    """What a node keeps across its attempts."""

    def __init__(self, store: Store, folder: str):
        self._store = store
        self._bytes_key = f"{folder}/checkpoint"
        self._zip_key = f"{folder}/saved.zip"
        self._restored: dict[Path, Path] = {}

    def _get(self, key: str) -> bytes | None:
        try:
            return self._store.get(key)
        except StoreObjectMissing:
            return None

    def prev_exists(self) -> bool:
        """Whether anything was saved."""
        return self._store.exists(self._bytes_key) or self._store.exists(self._zip_key)

    def write(self, data: bytes) -> None:
        """Keep `data` for the next attempt (replacing what was saved)."""
        if not isinstance(data, (bytes, bytearray)):
            raise GraftError(f"checkpoint.write takes bytes, got {type(data).__name__}")
        self._store.put(self._bytes_key, bytes(data))
        self._store.delete(self._zip_key)

    def save(self, cp: str | Path | io.IOBase) -> None:
        """Keep a file, a folder (a path), or what a reader gives (replacing what was saved)."""
        if isinstance(cp, io.IOBase):
            self.write(cp.read())
            return
        if not isinstance(cp, (str, Path)):
            raise ValueError(f"Only a valid path or IOBase type (reader) should be provided, "
                             f"received {type(cp)}")
        path = Path(cp)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            if path.is_dir():
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    zf.write(file, file.relative_to(path).as_posix())
            elif path.is_file():
                zf.write(path, path.name)
            else:
                raise ValueError(f"checkpoint.save: {str(path)!r} is neither a file nor a "
                                 f"folder")
        self._store.put(self._zip_key, buf.getvalue())
        self._store.delete(self._bytes_key)
        self._restored.clear()

    def restore(self, path: str | Path | None = None) -> Path | None:
        """The saved checkpoint as a local folder (`path`, which must be a folder, or a new
        temporary one); None when nothing was saved."""
        target = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="graft-cp-"))
        if not target.is_dir():
            raise ValueError("Checkpoints can be restored to a directory only.")
        data = self._get(self._bytes_key)
        if data is not None:
            (target / BYTES_FILE).write_bytes(data)
            return target
        saved = self._get(self._zip_key)
        if saved is None:
            return None
        root = target.resolve()
        with zipfile.ZipFile(io.BytesIO(saved)) as zf:
            for name in zf.namelist():
                dest = (root / name).resolve()
                if root not in dest.parents:
                    raise GraftError(f"checkpoint {self._zip_key!r}: entry {name!r} lies "
                                     f"outside its folder (altered in the store?)")
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(zf.read(name))
        return target

    def read(self) -> bytes | None:
        """The bytes saved (by `write`, or the one file `save` kept); None when nothing was."""
        data = self._get(self._bytes_key)
        if data is not None:
            return data
        saved = self._get(self._zip_key)
        if saved is None:
            return None
        with zipfile.ZipFile(io.BytesIO(saved)) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if not names:
                return None
            if len(names) > 1:
                raise ValueError(f"Expected exactly one checkpoint - found {len(names)}")
            return zf.read(names[0])


class NoCheckpoint(Checkpoint):
    """The checkpoint of no task: every use says where checkpoints exist."""

    def __init__(self) -> None:
        pass

    def _refuse(self) -> Any:
        raise GraftError("current_context().checkpoint exists inside a running task only")

    def read(self) -> bytes | None:
        return self._refuse()

    def write(self, data: bytes) -> None:
        self._refuse()

    def save(self, cp: Any) -> None:
        self._refuse()

    def restore(self, path: Any = None) -> Path | None:
        return self._refuse()

    def prev_exists(self) -> bool:
        return bool(self._refuse())


SyncCheckpoint = Checkpoint  # flytekit's name for the checkpoint of a running task
