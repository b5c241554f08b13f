"""An attempt's standard output and error, captured where the runner writes them and kept in
the store beside its log records (`logs/<execution>/<node>/<attempt>.stdout|.stderr`).

The capture is at the file descriptors, so what processes the task starts write is kept
too. While the attempt runs, what was written is put in the store every `every_s` seconds
(`graft logs --follow` reads it there), and once more at its end. Only the last `limit_bytes`
of each stream are kept.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
from typing import Any

from sdk.model.errors import StoreError
from sdk.model.store import Store
from sdk.runtime.context import output_key

STREAMS = (("stdout", 1), ("stderr", 2))
TRUNCATED = b"[graft: earlier output left out]\n"


class Captured:
    """`with Captured(store, execution, node, attempt):` around one attempt."""

    def __init__(self, store: Store, execution: str, node: str, attempt: int,
                 every_s: float = 2.0, limit_bytes: int = 2 * 2**20):
        self.store = store
        self.keys = {name: output_key(execution, node, attempt, name) for name, _ in STREAMS}
        self.every_s = every_s
        self.limit_bytes = limit_bytes
        self._files: dict[str, Any] = {}
        self._saved: dict[int, int] = {}
        self._kept: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Captured:
        _flush()
        for name, fd in STREAMS:
            self._files[name] = tempfile.TemporaryFile(prefix=f"graft-{name}-")
            self._saved[fd] = os.dup(fd)
            os.dup2(self._files[name].fileno(), fd)
        self._thread = threading.Thread(target=self._keep_going, name="graft-output",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        _flush()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)
            os.close(saved)
        self._keep()
        for f in self._files.values():
            f.close()

    def _keep_going(self) -> None:
        while not self._stop.wait(self.every_s):
            self._keep()

    def _keep(self) -> None:
        """Put what each stream holds in the store, if it grew since last time."""
        for name, f in self._files.items():
            size = os.fstat(f.fileno()).st_size
            if size == self._kept.get(name, 0):
                continue
            start = max(0, size - self.limit_bytes)
            data = os.pread(f.fileno(), size - start, start)
            with contextlib.suppress(StoreError):  # kept next time, or lost with the store
                self.store.put(self.keys[name], (TRUNCATED if start else b"") + data)
                self._kept[name] = size


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
